import { describe, expect, it } from 'vitest';
import { humanCount } from './human.js';

describe('humanCount', () => {
  it.each([
    [0n, '0', 'nothing'],
    [1n, '1', 'one address'],
    [254n, '254', 'a /24 with avoidBuggyIPs'],
    [256n, '256', 'a whole /24'],
    [999n, '999', 'the last exact count'],
    [1000n, '1K', 'a thousand'],
    [1999n, '1K', 'truncated, never rounded up'],
    [1024n, '1K', 'a /22'],
    [65024n, '65K', 'a /16 with avoidBuggyIPs'],
    [65536n, '65K', 'a whole /16'],
    [16646144n, '16M', 'a /8 with avoidBuggyIPs'],
    [1n << 32n, '4G', 'the whole IPv4 space'],
    [(1n << 64n) - 2n, '18E', 'a /64 without its first and last address'],
    [1n << 64n, '18E', 'an IPv6 /64'],
    [1n << 70n, '1Z', 'an IPv6 /58'],
    [1n << 80n, '1Y', 'an IPv6 /48'],
    [1n << 128n, '340282366Q', 'the whole IPv6 space: no suffix beyond Q'],
  ])('%s reads %s (%s)', (n, text) => {
    expect(humanCount(n)).toBe(text);
  });

  it('refuses a negative count, which is a bug in the caller', () => {
    expect(() => humanCount(-1n)).toThrow(RangeError);
  });
});

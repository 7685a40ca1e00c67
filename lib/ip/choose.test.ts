import { describe, expect, it } from 'vitest';
import { formatAddress, parseAddress } from './address.js';
import { choose, chooseFrom, startFor, TakenAddresses } from './choose.js';
import { parsePoolAddresses } from './parse.js';
import { addressSet, contains, count, nth, type AddressSet } from './set.js';

function poolOf(entries: string[], avoidBuggyIPs = false): AddressSet {
  const family = entries.some((e) => e.includes(':')) ? 'IPv6' : 'IPv4';
  const result = parsePoolAddresses(family, entries, avoidBuggyIPs);
  if (!result.ok) throw new Error(`test pool is invalid: ${JSON.stringify(result.errors)}`);
  return result.set;
}

function addr(text: string): bigint {
  const parsed = parseAddress(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.value;
}

/** choose over display strings, so scenarios read like the domain. */
function chooseText(entries: string[], taken: string[], start: string): string | undefined {
  const pool = poolOf(entries);
  const chosen = choose(pool, new Set(taken.map(addr)), addr(start));
  return chosen === undefined ? undefined : formatAddress(pool.family, chosen);
}

describe('choose', () => {
  it.each([
    ['the start itself when it is free', ['10.0.0.1-10.0.0.9'], [], '10.0.0.5', '10.0.0.5'],
    ['the next free one after a taken start', ['10.0.0.1-10.0.0.9'], ['10.0.0.5', '10.0.0.6'], '10.0.0.5', '10.0.0.7'],
    ['across a gap between ranges', ['10.0.0.1-10.0.0.3', '10.0.0.7-10.0.0.9'], ['10.0.0.3'], '10.0.0.3', '10.0.0.7'],
    ['from a start outside the pool, the next pool address', ['10.0.0.7-10.0.0.9'], [], '10.0.0.4', '10.0.0.7'],
    ['wrapping around past the end', ['10.0.0.1-10.0.0.9'], ['10.0.0.8', '10.0.0.9'], '10.0.0.8', '10.0.0.1'],
    ['wrapping to the part of the start range before the start', ['10.0.0.1-10.0.0.4'], ['10.0.0.1', '10.0.0.3', '10.0.0.4'], '10.0.0.3', '10.0.0.2'],
    ['across an octet boundary', ['10.0.0.250-10.0.1.5'], ['10.0.0.254', '10.0.0.255'], '10.0.0.254', '10.0.1.0'],
    ['ignoring taken addresses outside the pool', ['10.0.0.1-10.0.0.2'], ['10.0.0.3', '10.0.0.0'], '10.0.0.2', '10.0.0.2'],
    ['nothing when every address is taken', ['10.0.0.1-10.0.0.3'], ['10.0.0.1', '10.0.0.2', '10.0.0.3'], '10.0.0.1', undefined],
    ['nothing from an empty pool', ['10.0.0.1', '!10.0.0.1'], [], '10.0.0.1', undefined],
    ['in IPv6 too', ['2001:db8::/126'], ['2001:db8::2', '2001:db8::3'], '2001:db8::2', '2001:db8::'],
  ])('chooses %s', (_, entries, taken, start, expected) => {
    expect(chooseText(entries, taken, start)).toBe(expected);
  });
});

describe('choose in large pools', () => {
  it('finds the one free address of a /16 with avoidBuggyIPs (65,024 addresses) with 65,023 taken', () => {
    const pool = poolOf(['10.1.0.0/16'], true);
    const free = addr('10.1.77.77');
    const taken = new Set<bigint>();
    for (const r of pool.ranges) for (let a = r.start; a <= r.end; a++) if (a !== free) taken.add(a);
    taken.add(addr('10.1.0.0'));
    taken.add(addr('10.1.0.255'));
    taken.add(addr('10.1.1.0'));
    expect(count(pool)).toBe(65_024n);
    expect(taken.size).toBe(65_023 + 3);
    for (const start of [pool.ranges[0]?.start ?? 0n, free, free + 1n, addr('10.1.255.254')]) {
      expect(choose(pool, taken, start)).toBe(free);
    }
  });

  it('finds the one free address of 10.2.0.1-10.2.255.254 with 65,533 taken', () => {
    const pool = poolOf(['10.2.0.1-10.2.255.254']);
    const free = addr('10.2.200.17');
    const taken: bigint[] = [];
    for (let a = addr('10.2.0.1'); a <= addr('10.2.255.254'); a++) if (a !== free) taken.push(a);
    expect(taken.length).toBe(65_533);
    expect(choose(pool, taken, addr('10.2.200.18'))).toBe(free);
    expect(choose(pool, taken, addr('10.2.0.1'))).toBe(free);
    expect(choose(pool, [...taken, free], addr('10.2.128.0'))).toBeUndefined();
  });

  it('skips a run of 10,000 taken addresses in an IPv6 /64', () => {
    const pool = poolOf(['2001:db8::/64']);
    const start = nth(pool, 1n << 40n) ?? 0n;
    const taken = new Set(Array.from({ length: 10_000 }, (_, i) => start + BigInt(i)));
    expect(choose(pool, taken, start)).toBe(start + 10_000n);
  });

  it('wraps around in an IPv6 /64 whose last 10,000 addresses are taken', () => {
    const pool = poolOf(['2001:db8::/64']);
    const last = addr('2001:db8::ffff:ffff:ffff:ffff');
    const taken = Array.from({ length: 10_000 }, (_, i) => last - BigInt(i));
    expect(choose(pool, taken, last - 9_999n)).toBe(addr('2001:db8::'));
  });
});

describe('startFor', () => {
  const pool = poolOf(['10.0.0.0/24'], true);

  it('gives the same start for the same allocation name', () => {
    expect(startFor('svc-a-0', pool)).toBe(startFor('svc-a-0', pool));
  });

  it('spreads different names over the pool', () => {
    const starts = new Set(Array.from({ length: 50 }, (_, i) => startFor(`allocation-${i}`, pool)));
    expect(starts.size).toBeGreaterThan(40);
    for (const start of starts) expect(start !== undefined && contains(pool, start)).toBe(true);
  });

  it('is the sha256 of the name modulo the pool size, as a position in the pool', () => {
    // sha256("abc") = ba7816bf…15ad; mod 254 = 103, the 104th address of .1-.254.
    expect(startFor('abc', pool)).toBe(addr('10.0.0.104'));
  });

  it('has no start in an empty pool', () => {
    expect(startFor('x', addressSet('IPv4', []))).toBeUndefined();
  });

  it('gives a re-created allocation its old address back when it is free', () => {
    const start = startFor('web-lb-0', pool) ?? 0n;
    expect(choose(pool, [], start)).toBe(start);
  });
});

describe('TakenAddresses and chooseFrom', () => {
  it('keeps values unique as they are added and removed', () => {
    const t = new TakenAddresses([5n, 1n, 5n, 3n]);
    t.add(2n);
    t.add(3n);
    t.delete(1n);
    t.delete(9n);
    expect([...t].sort((a, b) => (a < b ? -1 : 1))).toEqual([2n, 3n, 5n]);
    expect(t.has(3n)).toBe(true);
    expect(t.has(1n)).toBe(false);
    expect(t.size).toBe(3);
  });

  it('chooses what choose chooses, from the kept addresses', () => {
    const pool = poolOf(['10.0.0.1-10.0.0.9']);
    const taken = ['10.0.0.5', '10.0.0.6', '10.0.0.9'].map(addr);
    const kept = new TakenAddresses(taken);
    for (const start of ['10.0.0.1', '10.0.0.5', '10.0.0.9'].map(addr)) {
      expect(chooseFrom(pool, kept, start)).toBe(choose(pool, taken, start));
    }
    kept.delete(addr('10.0.0.5'));
    expect(chooseFrom(pool, kept, addr('10.0.0.5'))).toBe(addr('10.0.0.5'));
  });
});

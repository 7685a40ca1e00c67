import { describe, expect, it } from 'vitest';
import { pastFailures } from './past-failures.js';

describe('pastFailures', () => {
  it('runs every piece past the failing ones, then throws the first failure', async () => {
    const ran: number[] = [];
    const { attempt, rethrow } = pastFailures();
    for (const i of [1, 2, 3, 4]) {
      await attempt(async () => {
        ran.push(i);
        if (i % 2 === 0) throw new Error(`piece ${i}`);
      });
    }
    expect(ran).toEqual([1, 2, 3, 4]);
    expect(rethrow).toThrow('piece 2');
  });

  it('returns when every piece took, and throws a falsy failure too', async () => {
    const ok = pastFailures();
    await ok.attempt(async () => undefined);
    expect(() => ok.rethrow()).not.toThrow();
    const falsy = pastFailures();
    await falsy.attempt(() => Promise.reject(undefined));
    expect(() => falsy.rethrow()).toThrow();
  });
});

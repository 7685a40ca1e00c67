import { describe, expect, it } from 'vitest';
import type { IPFamily } from './address.js';
import { choose } from './choose.js';
import { resolveOwnership, type PoolAddresses } from './ownership.js';
import { parsePoolAddresses } from './parse.js';
import { contains, toRanges } from './set.js';

function pool(name: string, creationTimestamp: string | undefined, entries: string[]): PoolAddresses {
  const family: IPFamily = entries.some((e) => e.includes(':')) ? 'IPv6' : 'IPv4';
  const result = parsePoolAddresses(family, entries, false);
  if (!result.ok) throw new Error(`test pool is invalid: ${JSON.stringify(result.errors)}`);
  return { name, creationTimestamp, set: result.set };
}

/** Each pool's owned ranges and its conflicts as `other: shared ranges`, for readable tables. */
function verdicts(pools: PoolAddresses[]): Record<string, { owned: string[]; conflicts: string[] }> {
  const out: Record<string, { owned: string[]; conflicts: string[] }> = {};
  for (const [name, o] of resolveOwnership(pools)) {
    out[name] = {
      owned: toRanges(o.owned),
      conflicts: o.conflicts.map((c) => `${c.otherPool}: ${toRanges(c.shared).join(', ')}`),
    };
  }
  return out;
}

const MONDAY = '2025-03-03T10:00:00Z';
const TUESDAY = '2025-03-04T10:00:00Z';
const WEDNESDAY = '2025-03-05T10:00:00Z';

describe('overlapping pools: the oldest pool owns the shared addresses', () => {
  it.each([
    {
      story: 'separate pools keep everything and report nothing',
      pools: [pool('a', MONDAY, ['10.0.0.0/30']), pool('b', TUESDAY, ['10.0.0.4/30'])],
      expected: {
        a: { owned: ['10.0.0.0-10.0.0.3'], conflicts: [] },
        b: { owned: ['10.0.0.4-10.0.0.7'], conflicts: [] },
      },
    },
    {
      story: 'the younger pool loses the shared part and names the older one',
      pools: [pool('young', TUESDAY, ['10.0.0.4-10.0.0.12']), pool('old', MONDAY, ['10.0.0.0/29'])],
      expected: {
        old: { owned: ['10.0.0.0-10.0.0.7'], conflicts: [] },
        young: { owned: ['10.0.0.8-10.0.0.12'], conflicts: ['old: 10.0.0.4-10.0.0.7'] },
      },
    },
    {
      story: 'same creation time: the name decides (alpha before beta)',
      pools: [pool('beta', MONDAY, ['10.0.0.1']), pool('alpha', MONDAY, ['10.0.0.1-10.0.0.2'])],
      expected: {
        alpha: { owned: ['10.0.0.1-10.0.0.2'], conflicts: [] },
        beta: { owned: [], conflicts: ['alpha: 10.0.0.1'] },
      },
    },
    {
      story: 'a pool overlapping two older ones reports both, oldest first',
      pools: [
        pool('c', WEDNESDAY, ['10.0.0.0/28']),
        pool('b', TUESDAY, ['10.0.0.8-10.0.0.9']),
        pool('a', MONDAY, ['10.0.0.1', '10.0.0.9']),
      ],
      expected: {
        a: { owned: ['10.0.0.1', '10.0.0.9'], conflicts: [] },
        b: { owned: ['10.0.0.8'], conflicts: ['a: 10.0.0.9'] },
        c: {
          owned: ['10.0.0.0', '10.0.0.2-10.0.0.7', '10.0.0.10-10.0.0.15'],
          conflicts: ['a: 10.0.0.1, 10.0.0.9', 'b: 10.0.0.8-10.0.0.9'],
        },
      },
    },
    {
      story: 'a pool without a creation time counts as the youngest',
      pools: [pool('unknown', undefined, ['10.0.0.1']), pool('zzz', WEDNESDAY, ['10.0.0.1'])],
      expected: {
        zzz: { owned: ['10.0.0.1'], conflicts: [] },
        unknown: { owned: [], conflicts: ['zzz: 10.0.0.1'] },
      },
    },
    {
      story: 'IPv4 and IPv6 pools never conflict',
      pools: [pool('v4', MONDAY, ['10.0.0.1']), pool('v6', TUESDAY, ['::10.0.0.1'])],
      expected: {
        v4: { owned: ['10.0.0.1'], conflicts: [] },
        v6: { owned: ['::a00:1'], conflicts: [] },
      },
    },
  ])('$story', ({ pools, expected }) => {
    expect(verdicts(pools)).toEqual(expected);
  });

  it('the younger pool never hands out a shared address, even when everything it owns is taken', () => {
    const old = pool('shared-old', MONDAY, ['10.0.0.0/24']);
    const young = pool('shared-young', TUESDAY, ['10.0.0.250-10.0.1.3']);
    const owned = resolveOwnership([old, young]).get('shared-young')?.owned;
    expect(owned && toRanges(owned)).toEqual(['10.0.1.0-10.0.1.3']);
    if (owned === undefined) return;
    const first = choose(owned, [], 0x0a0000fan);
    expect(first !== undefined && !contains(old.set, first)).toBe(true);
    expect(choose(owned, [0x0a000100n, 0x0a000101n, 0x0a000102n, 0x0a000103n], 0x0a0000fan)).toBeUndefined();
  });

  it('creating a new overlapping pool takes nothing from the existing one', () => {
    const existing = pool('existing', MONDAY, ['10.0.0.0/29']);
    const before = resolveOwnership([existing]).get('existing');
    const after = resolveOwnership([existing, pool('newcomer', TUESDAY, ['10.0.0.0/24'])]).get('existing');
    expect(after).toEqual(before);
  });
});

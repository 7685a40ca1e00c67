/**
 * Property tests: the engine against brute-force oracles on small random IPv4 sets,
 * where every address can be enumerated.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { choose, startFor } from './choose.js';
import {
  addressSet,
  contains,
  count,
  indexOf,
  intersect,
  isEmpty,
  nth,
  subtract,
  union,
  type AddressRange,
  type AddressSet,
} from './set.js';

/** 10.0.0.0/22: small enough to enumerate, wide enough to cross octet boundaries. */
const BASE = 0x0a000000n;
const SPAN = 1024;

/** An inclusive range inside the /22. */
const rangeArb: fc.Arbitrary<AddressRange> = fc
  .tuple(fc.integer({ min: 0, max: SPAN - 1 }), fc.integer({ min: 0, max: 40 }))
  .map(([offset, length]) => ({
    start: BASE + BigInt(offset),
    end: BASE + BigInt(Math.min(SPAN - 1, offset + length)),
  }));

/** A set of up to 8 random ranges (overlapping, adjacent or apart), normalised. */
const setArb: fc.Arbitrary<AddressSet> = fc
  .array(rangeArb, { maxLength: 8 })
  .map((ranges) => addressSet('IPv4', ranges));

/** Addresses inside the /22, plus a few just outside it. */
const addressArb: fc.Arbitrary<bigint> = fc
  .integer({ min: -2, max: SPAN + 1 })
  .map((offset) => BASE + BigInt(offset));

/** Every address of the set, ascending — the oracle the engine must agree with. */
function enumerate(set: AddressSet): bigint[] {
  const out: bigint[] = [];
  for (const r of set.ranges) for (let a = r.start; a <= r.end; a++) out.push(a);
  return out;
}

describe('properties on random sets of IPv4 ranges in a /22', () => {
  const asJsSet = (set: Parameters<typeof enumerate>[0]) => new Set(enumerate(set));
  const sorted = (values: Iterable<bigint>) => [...values].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));

  it('is always normalised: sorted, disjoint and non-adjacent', () => {
    fc.assert(
      fc.property(setArb, (set) =>
        set.ranges.every((r, i) => r.start <= r.end && (i === 0 || (set.ranges[i - 1]?.end ?? 0n) + 1n < r.start)),
      ),
    );
  });

  it('count equals the number of enumerated addresses; isEmpty agrees', () => {
    fc.assert(fc.property(setArb, (set) => count(set) === BigInt(enumerate(set).length) && isEmpty(set) === (count(set) === 0n)));
  });

  it('contains agrees with enumeration', () => {
    fc.assert(fc.property(setArb, addressArb, (set, address) => contains(set, address) === asJsSet(set).has(address)));
  });

  it('union, subtract and intersect agree with JS Set semantics', () => {
    fc.assert(
      fc.property(setArb, setArb, (a, b) => {
        const [x, y] = [asJsSet(a), asJsSet(b)];
        expect(enumerate(union(a, b))).toEqual(sorted(new Set([...x, ...y])));
        expect(enumerate(subtract(a, b))).toEqual(sorted([...x].filter((v) => !y.has(v))));
        expect(enumerate(intersect(a, b))).toEqual(sorted([...x].filter((v) => y.has(v))));
      }),
    );
  });

  it('nth and indexOf agree with the enumerated order', () => {
    fc.assert(
      fc.property(setArb, (set) =>
        enumerate(set).every((address, i) => nth(set, BigInt(i)) === address && indexOf(set, address) === BigInt(i)),
      ),
    );
  });
});

describe('properties of choose on random pools', () => {
  /** A pool, taken addresses (a random part of the pool, sometimes all of it, plus strays) and a start. */
  const scenarioArb = setArb.chain((pool) =>
    fc.record({
      pool: fc.constant(pool),
      taken: fc
        .tuple(fc.subarray(enumerate(pool)), fc.array(addressArb, { maxLength: 10 }), fc.boolean())
        .map(([part, strays, all]) => new Set([...(all ? enumerate(pool) : part), ...strays])),
      start: addressArb,
    }),
  );

  /** Brute force: the first free address at or after start, else the first free one before it. */
  function oracle(pool: AddressSet, taken: ReadonlySet<bigint>, start: bigint): bigint | undefined {
    const free = enumerate(pool).filter((a) => !taken.has(a));
    return free.find((a) => a >= start) ?? free[0];
  }

  it('returns the first free pool address at or after start, wrapping around', () => {
    fc.assert(
      fc.property(scenarioArb, ({ pool, taken, start }) => {
        expect(choose(pool, taken, start)).toBe(oracle(pool, taken, start));
      }),
      { numRuns: 500 },
    );
  });

  it('returns a pool member that is not taken, and undefined only when all are taken', () => {
    fc.assert(
      fc.property(scenarioArb, ({ pool, taken, start }) => {
        const chosen = choose(pool, taken, start);
        const allTaken = enumerate(pool).every((a) => taken.has(a));
        expect(chosen === undefined).toBe(allTaken);
        if (chosen !== undefined) expect(contains(pool, chosen) && !taken.has(chosen)).toBe(true);
      }),
    );
  });

  it('accepts taken addresses in any order, with duplicates', () => {
    fc.assert(
      fc.property(scenarioArb, ({ pool, taken, start }) => {
        const shuffled = [...taken].reverse().concat([...taken]);
        expect(choose(pool, shuffled, start)).toBe(choose(pool, taken, start));
      }),
    );
  });

  it('startFor gives a deterministic start inside any non-empty pool', () => {
    fc.assert(
      fc.property(setArb, fc.string(), (pool, name) => {
        const start = startFor(name, pool);
        expect(start === undefined ? isEmpty(pool) : contains(pool, start)).toBe(true);
        expect(startFor(name, pool)).toBe(start);
      }),
    );
  });
});

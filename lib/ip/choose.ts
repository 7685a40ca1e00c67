/**
 * Choosing a free address from a pool: the pure heart of allocation.
 *
 * The cost depends on the number of taken addresses the walk meets, never on the size of the
 * pool nor on how many addresses are taken elsewhere in it: the walk goes range by range, and
 * inside a range it steps over the run of taken addresses at its position, each step one
 * hash lookup. A range is only passed over when it is full, so at most (taken + 2) ranges are
 * visited.
 */
import { createHash } from 'node:crypto';
import { firstRangeEndingAtOrAfter, nth, count, type AddressRange, type AddressSet } from './set.js';

/** What choosing needs of the addresses known to be taken. */
export interface Taken {
  has(value: bigint): boolean;
}

/**
 * The first address of `pool` that is not taken, at or after `start` in ascending order,
 * wrapping around to the pool's beginning; undefined when every address is taken.
 * `start` need not be in the pool (the walk starts at the next pool address).
 *
 * `taken` may be any iterable of address values (a Set, an array) in any order; duplicates and
 * addresses outside the pool are ignored. It is copied into a set once per call, O(k); a
 * caller that keeps its taken addresses (`TakenAddresses`) calls `chooseFrom` instead.
 */
export function choose(pool: AddressSet, taken: Iterable<bigint>, start: bigint): bigint | undefined {
  return chooseFrom(pool, new Set(taken), start);
}

/**
 * `choose` for a caller that keeps its taken addresses (see `TakenAddresses`): a pool holding
 * 20,000 addresses costs what one holding 10 does while the addresses at the start are free.
 */
export function chooseFrom(pool: AddressSet, taken: Taken, start: bigint): bigint | undefined {
  const atOrAfter = firstFreeBetween(pool.ranges, taken, start, undefined);
  return atOrAfter ?? firstFreeBetween(pool.ranges, taken, undefined, start);
}

/** Address values known to be taken, kept for `chooseFrom`: adding, removing and asking are O(1). */
export class TakenAddresses implements Taken {
  private readonly values: Set<bigint>;

  constructor(initial: Iterable<bigint> = []) {
    this.values = new Set(initial);
  }

  get size(): number {
    return this.values.size;
  }

  has(v: bigint): boolean {
    return this.values.has(v);
  }

  add(v: bigint): void {
    this.values.add(v);
  }

  delete(v: bigint): void {
    this.values.delete(v);
  }

  [Symbol.iterator](): Iterator<bigint> {
    return this.values.values();
  }
}

/**
 * First free pool address in [from, before) — either bound open when undefined.
 */
function firstFreeBetween(
  ranges: readonly AddressRange[],
  taken: Taken,
  from: bigint | undefined,
  before: bigint | undefined,
): bigint | undefined {
  for (let i = from === undefined ? 0 : firstRangeEndingAtOrAfter(ranges, from); i < ranges.length; i++) {
    const range = ranges[i];
    if (range === undefined || (before !== undefined && range.start >= before)) return undefined;
    const lo = from !== undefined && from > range.start ? from : range.start;
    const hi = before !== undefined && before <= range.end ? before - 1n : range.end;
    const free = skipTakenRun(taken, lo, hi);
    if (free !== undefined) return free;
  }
  return undefined;
}

/** The first value in [from, to] that is not taken, if any. */
function skipTakenRun(taken: Taken, from: bigint, to: bigint): bigint | undefined {
  let candidate = from;
  while (candidate <= to && taken.has(candidate)) candidate++;
  return candidate <= to ? candidate : undefined;
}

/**
 * Where the search for an allocation's address begins: the address at position
 * sha256(name) mod count(pool) in the pool. Deterministic, so an allocation deleted and
 * re-created under the same name gets its old address back when that is still free, and
 * different names spread over the pool instead of piling up at its start.
 * Undefined for an empty pool.
 */
export function startFor(name: string, pool: AddressSet): bigint | undefined {
  const size = count(pool);
  if (size === 0n) return undefined;
  const digest = createHash('sha256').update(name, 'utf8').digest('hex');
  return nth(pool, BigInt(`0x${digest}`) % size);
}

/**
 * Choosing a free address from a pool: the pure heart of allocation.
 *
 * The cost depends on the number of taken addresses, never on the size of the pool: the
 * walk goes range by range, and inside a range it jumps over runs of taken addresses found
 * by binary search in the sorted taken list. A range is only passed over when it is full,
 * so at most (taken + 2) ranges are visited, each in O(log taken).
 */
import { createHash } from 'node:crypto';
import { compare, count, firstRangeEndingAtOrAfter, nth, type AddressRange, type AddressSet } from './set.js';

/**
 * The first address of `pool` that is not taken, at or after `start` in ascending order,
 * wrapping around to the pool's beginning; undefined when every address is taken.
 * `start` need not be in the pool (the walk starts at the next pool address).
 *
 * `taken` may be any iterable of address values (a Set, the ledger's values, an array) in
 * any order; duplicates and addresses outside the pool are ignored. It is sorted once per
 * call, O(k log k) for k taken addresses; that sort, not the walk, dominates the cost
 * (see bench-choose.ts).
 */
export function choose(pool: AddressSet, taken: Iterable<bigint>, start: bigint): bigint | undefined {
  return chooseSorted(pool, [...new Set(taken)].sort(compare), start);
}

/**
 * `choose` for a caller that keeps its taken addresses sorted and unique (see `TakenAddresses`):
 * no sort, so the cost is O(log k) per range visited — a pool holding 20,000 addresses costs
 * what one holding 10 does while its free addresses are not all behind the start.
 */
export function chooseSorted(pool: AddressSet, sortedTaken: readonly bigint[], start: bigint): bigint | undefined {
  const atOrAfter = firstFreeBetween(pool.ranges, sortedTaken, start, undefined);
  return atOrAfter ?? firstFreeBetween(pool.ranges, sortedTaken, undefined, start);
}

/** Address values kept sorted and unique, for `chooseSorted`; adding or removing one is O(log k) to find plus a move. */
export class TakenAddresses {
  private readonly values: bigint[] = [];

  constructor(initial: Iterable<bigint> = []) {
    this.values = [...new Set(initial)].sort(compare);
  }

  get sorted(): readonly bigint[] {
    return this.values;
  }

  get size(): number {
    return this.values.length;
  }

  has(v: bigint): boolean {
    return this.values[lowerBound(this.values, v)] === v;
  }

  add(v: bigint): void {
    const i = lowerBound(this.values, v);
    if (this.values[i] !== v) this.values.splice(i, 0, v);
  }

  delete(v: bigint): void {
    const i = lowerBound(this.values, v);
    if (this.values[i] === v) this.values.splice(i, 1);
  }
}

/**
 * First free pool address in [from, before) — either bound open when undefined.
 */
function firstFreeBetween(
  ranges: readonly AddressRange[],
  taken: readonly bigint[],
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

/** The first value in [from, to] that is not in `taken` (sorted, unique), if any. */
function skipTakenRun(taken: readonly bigint[], from: bigint, to: bigint): bigint | undefined {
  let candidate = from;
  for (let j = lowerBound(taken, from); candidate <= to && taken[j] === candidate; j++) candidate++;
  return candidate <= to ? candidate : undefined;
}

/** Index of the first element >= value in a sorted array (length if none). */
function lowerBound(sorted: readonly bigint[], value: bigint): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const x = sorted[mid];
    if (x !== undefined && x < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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

/**
 * AddressSet: a set of addresses of one family, kept as a sorted list of disjoint,
 * non-adjacent inclusive ranges. Sets are immutable values; every operation returns a new
 * set and runs in time linear in the number of ranges, never in the number of addresses,
 * so an IPv6 /64 costs the same as a single address.
 */
import { formatAddress, type IPFamily } from './address.js';

/** Inclusive range of address values, `start <= end`. */
export interface AddressRange {
  readonly start: bigint;
  readonly end: bigint;
}

export interface AddressSet {
  readonly family: IPFamily;
  /** Sorted, disjoint and non-adjacent (normalised); never hand-build, use `addressSet`. */
  readonly ranges: readonly AddressRange[];
}

/** Builds a normalised set from ranges in any order, overlapping or adjacent. */
export function addressSet(family: IPFamily, ranges: readonly AddressRange[]): AddressSet {
  return freeze(family, normalise(ranges));
}

export function emptySet(family: IPFamily): AddressSet {
  return freeze(family, []);
}

/** Sorts ranges and merges those that overlap or touch (`1-3` and `4-6` become `1-6`). */
export function normalise(ranges: readonly AddressRange[]): AddressRange[] {
  for (const r of ranges) {
    if (r.start > r.end) throw new RangeError(`reversed range ${r.start}-${r.end}`);
  }
  const sorted = [...ranges].sort((a, b) => compare(a.start, b.start));
  const merged: AddressRange[] = [];
  for (const r of sorted) {
    const last = merged.at(-1);
    if (last !== undefined && r.start <= last.end + 1n) {
      if (r.end > last.end) merged[merged.length - 1] = { start: last.start, end: r.end };
    } else {
      merged.push({ start: r.start, end: r.end });
    }
  }
  return merged;
}

export function union(a: AddressSet, b: AddressSet): AddressSet {
  sameFamily(a, b);
  return addressSet(a.family, [...a.ranges, ...b.ranges]);
}

/** Addresses in both sets (a sweep over both sorted range lists). */
export function intersect(a: AddressSet, b: AddressSet): AddressSet {
  sameFamily(a, b);
  const out: AddressRange[] = [];
  let i = 0;
  let j = 0;
  while (i < a.ranges.length && j < b.ranges.length) {
    const x = at(a.ranges, i);
    const y = at(b.ranges, j);
    const start = max(x.start, y.start);
    const end = min(x.end, y.end);
    if (start <= end) out.push({ start, end });
    if (x.end < y.end) i++;
    else j++;
  }
  return freeze(a.family, out);
}

/** Addresses of `a` that are not in `b`. */
export function subtract(a: AddressSet, b: AddressSet): AddressSet {
  sameFamily(a, b);
  const out: AddressRange[] = [];
  let j = 0;
  for (const r of a.ranges) {
    let cursor = r.start;
    // Ranges of b ending before r can't matter for r or any later range of a.
    while (j < b.ranges.length && at(b.ranges, j).end < r.start) j++;
    let k = j;
    while (k < b.ranges.length && at(b.ranges, k).start <= r.end) {
      const cut = at(b.ranges, k);
      if (cut.start > cursor) out.push({ start: cursor, end: cut.start - 1n });
      cursor = max(cursor, cut.end + 1n);
      k++;
    }
    if (cursor <= r.end) out.push({ start: cursor, end: r.end });
  }
  return freeze(a.family, out);
}

/** The addresses two pools share; an alias of `intersect` named for the pool-overlap check. */
export function overlap(a: AddressSet, b: AddressSet): AddressSet {
  return intersect(a, b);
}

/** Whether the set holds the address value (binary search over the ranges). */
export function contains(set: AddressSet, value: bigint): boolean {
  const i = firstRangeEndingAtOrAfter(set.ranges, value);
  const r = set.ranges[i];
  return r !== undefined && r.start <= value;
}

export function count(set: AddressSet): bigint {
  let total = 0n;
  for (const r of set.ranges) total += r.end - r.start + 1n;
  return total;
}

export function isEmpty(set: AddressSet): boolean {
  return set.ranges.length === 0;
}

/** The `index`-th address in ascending order (0-based), or undefined past the end. */
export function nth(set: AddressSet, index: bigint): bigint | undefined {
  if (index < 0n) return undefined;
  let rest = index;
  for (const r of set.ranges) {
    const size = r.end - r.start + 1n;
    if (rest < size) return r.start + rest;
    rest -= size;
  }
  return undefined;
}

/** Position of the address in ascending order (inverse of `nth`), or undefined if absent. */
export function indexOf(set: AddressSet, value: bigint): bigint | undefined {
  let before = 0n;
  for (const r of set.ranges) {
    if (value < r.start) return undefined;
    if (value <= r.end) return before + (value - r.start);
    before += r.end - r.start + 1n;
  }
  return undefined;
}

/** Index of the first range whose end is >= value (ranges.length if none). */
export function firstRangeEndingAtOrAfter(ranges: readonly AddressRange[], value: bigint): number {
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (at(ranges, mid).end < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One range for people: `10.0.0.1-10.0.0.9`, or just `10.0.0.1` for a single address. */
export function formatRange(family: IPFamily, range: AddressRange): string {
  const start = formatAddress(family, range.start);
  return range.start === range.end ? start : `${start}-${formatAddress(family, range.end)}`;
}

/** All ranges of the set as display strings, in ascending order. */
export function toRanges(set: AddressSet): string[] {
  return set.ranges.map((r) => formatRange(set.family, r));
}

/**
 * A short description for messages and conditions: at most `limit` ranges, then
 * `…and K more` (K counts ranges, not addresses). An empty set reads `none`.
 */
export function describeSet(set: AddressSet, limit = 3): string {
  if (set.ranges.length === 0) return 'none';
  const shown = set.ranges.slice(0, limit).map((r) => formatRange(set.family, r));
  const more = set.ranges.length - shown.length;
  return more > 0 ? `${shown.join(', ')} …and ${more} more` : shown.join(', ');
}

function freeze(family: IPFamily, ranges: AddressRange[]): AddressSet {
  return Object.freeze({ family, ranges: Object.freeze(ranges) });
}

function sameFamily(a: AddressSet, b: AddressSet): void {
  // Mixing families is a programming error: pools and allocations are checked before this.
  if (a.family !== b.family) throw new TypeError(`cannot combine ${a.family} and ${b.family} sets`);
}

function at(ranges: readonly AddressRange[], i: number): AddressRange {
  const r = ranges[i];
  if (r === undefined) throw new RangeError(`range index ${i} out of bounds`);
  return r;
}

export function compare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

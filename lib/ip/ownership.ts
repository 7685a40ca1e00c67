/**
 * Overlapping pools: which pool may hand out which address.
 *
 * An address belongs to the oldest pool that contains it — ordered by creationTimestamp,
 * then by name — so creating a new pool can never take addresses away from an existing one,
 * and every function instance reaches the same verdict from the same objects.
 */
import { emptySet, intersect, isEmpty, subtract, union, type AddressSet } from './set.js';

export interface PoolAddresses {
  readonly name: string;
  /** RFC 3339 text as in `metadata.creationTimestamp`; unparsable or missing sorts as youngest. */
  readonly creationTimestamp: string | undefined;
  readonly set: AddressSet;
}

export interface PoolConflict {
  /** An older pool that contains some of this pool's addresses. */
  readonly otherPool: string;
  /** The addresses both pools contain; they belong to `otherPool`. */
  readonly shared: AddressSet;
}

export interface PoolOwnership {
  /** The addresses this pool may hand out: its set minus those of every older pool. */
  readonly owned: AddressSet;
  /** One entry per older pool it overlaps, oldest first; empty for the owner of everything. */
  readonly conflicts: readonly PoolConflict[];
}

/**
 * Owned addresses and conflicts for every pool, keyed by pool name. Pools of different
 * families never overlap. Only the younger pool of an overlapping pair reports a conflict:
 * the older one keeps all its addresses and has nothing to fix.
 */
export function resolveOwnership(pools: readonly PoolAddresses[]): ReadonlyMap<string, PoolOwnership> {
  const byAge = [...pools].sort(olderFirst);
  const result = new Map<string, PoolOwnership>();
  for (const [i, pool] of byAge.entries()) {
    const older = byAge.slice(0, i).filter((other) => other.set.family === pool.set.family);
    result.set(pool.name, ownershipOf(pool, older));
  }
  return result;
}

function ownershipOf(pool: PoolAddresses, older: readonly PoolAddresses[]): PoolOwnership {
  let claimed = emptySet(pool.set.family);
  const conflicts: PoolConflict[] = [];
  for (const other of older) {
    const shared = intersect(pool.set, other.set);
    if (!isEmpty(shared)) conflicts.push({ otherPool: other.name, shared });
    claimed = union(claimed, other.set);
  }
  return { owned: subtract(pool.set, claimed), conflicts };
}

/** creationTimestamp ascending (unknown last), then name ascending. */
export function olderFirst(a: PoolAddresses, b: PoolAddresses): number {
  const byTime = timeOf(a) - timeOf(b);
  if (byTime !== 0 && !Number.isNaN(byTime)) return byTime;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function timeOf(pool: PoolAddresses): number {
  const ms = pool.creationTimestamp === undefined ? Number.NaN : Date.parse(pool.creationTimestamp);
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

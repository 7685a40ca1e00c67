import {
  contains, count, describeSet, formatAddress, humanCount, isEmpty, parseAddress, resolveOwnership, subtract, union, validatePoolAddresses,
  type AddressSet, type IPFamily, type PoolConflict, type PoolEntryError,
} from '../ip/index.js';
import { emptySet } from '../ip/set.js';
import type { IPAllocation, IPPool, LedgerEntry } from '../k8s/schemas.js';

/** A pool as the allocator sees it: its addresses, what it owns, and its ledger. */
export interface PoolView {
  pool: IPPool;
  name: string;
  family: IPFamily;
  errors: readonly PoolEntryError[];
  /** The addresses this pool may hand out (empty when its spec is invalid). */
  owned: AddressSet;
  /**
   * The addresses an allocation that already holds one keeps in this pool: `owned`, plus
   * what `avoidBuggyIPs` (or its size cap) keeps from new choices but no other pool owns — as
   * upstream MikroLB hands out, say, `10.0.1.0` from a /16, an upgrade must not move it.
   */
  kept: AddressSet;
  conflicts: readonly PoolConflict[];
  /** The stored ledger; undefined for a pool that never had one (new, or from upstream). */
  ledger: LedgerEntry[] | undefined;
}

export function viewPools(pools: readonly IPPool[]): PoolView[] {
  const parsed = pools.map((pool) => ({
    pool,
    result: validatePoolAddresses(pool.spec.ipFamily, pool.spec.addresses, pool.spec.avoidBuggyIPs),
  }));
  const ownership = resolveOwnership(parsed.flatMap(({ pool, result }) =>
    result.ok ? [{ name: pool.metadata.name, creationTimestamp: pool.metadata.creationTimestamp, set: result.set }] : []));
  // The same pools without avoidBuggyIPs: who would own an address the rule leaves out.
  const plainOwnership = resolveOwnership(pools.flatMap((pool) => {
    const plain = pool.spec.avoidBuggyIPs ? validatePoolAddresses(pool.spec.ipFamily, pool.spec.addresses, false) : undefined;
    return plain?.ok ? [{ name: pool.metadata.name, creationTimestamp: pool.metadata.creationTimestamp, set: plain.set }] : [];
  }));
  const ownedBy = (name: string, family: IPFamily): AddressSet => ownership.get(name)?.owned ?? emptySet(family);
  return parsed.map(({ pool, result }) => {
    const name = pool.metadata.name;
    const family = pool.spec.ipFamily;
    const owned = ownedBy(name, family);
    const plain = plainOwnership.get(name)?.owned;
    let extra = plain ? subtract(plain, owned) : emptySet(family);
    for (const other of pools) {
      if (isEmpty(extra)) break;
      if (other.metadata.name !== name && other.spec.ipFamily === family) extra = subtract(extra, ownedBy(other.metadata.name, family));
    }
    const kept = isEmpty(extra) ? owned : union(owned, extra);
    const own = ownership.get(name);
    return {
      pool,
      name,
      family,
      errors: result.ok ? [] : result.errors,
      owned,
      kept,
      conflicts: own?.conflicts ?? [],
      ledger: pool.status?.allocations,
    };
  });
}

/** Whether an allocation's status says it holds an address (allocated, programmed or deleting). */
export function holdsAddress(a: IPAllocation): boolean {
  return a.status?.address !== undefined && a.status.address !== '' && (a.status.phase === 'Allocated' || a.status.phase === 'Programmed');
}

/**
 * The ledger a pool without one starts from: every allocation whose status already holds an
 * address this pool keeps (upstream MikroLB keeps no ledger, so its allocations carry the
 * truth; an address avoidBuggyIPs would not choose today is kept, not moved).
 */
export function adoptedLedger(view: PoolView, allocations: readonly IPAllocation[], now: Date): LedgerEntry[] {
  const entries: LedgerEntry[] = [];
  for (const a of allocations) {
    if (!holdsAddress(a) || !a.status?.address) continue;
    const p = parseAddress(a.status.address);
    if (!p.ok || p.family !== view.family || !contains(view.kept, p.value)) continue;
    entries.push({ address: formatAddress(p.family, p.value), allocationName: a.metadata.name, allocationUID: a.metadata.uid ?? '', reservedAt: now.toISOString() });
  }
  return entries;
}

/** Addresses of a ledger as numbers (entries that do not parse are skipped). */
export function ledgerValues(ledger: readonly LedgerEntry[] | undefined): bigint[] {
  const out: bigint[] = [];
  for (const e of ledger ?? []) {
    const p = parseAddress(e.address);
    if (p.ok) out.push(p.value);
  }
  return out;
}

export interface PoolCounts {
  total: bigint;
  allocated: bigint;
  free: bigint;
}

/**
 * Counts derived from the ledger: total and free are the owned addresses (those new choices
 * come from); allocated also counts entries the pool keeps outside them (see `kept`).
 */
export function poolCounts(view: PoolView, ledger: readonly LedgerEntry[]): PoolCounts {
  const total = count(view.owned);
  const values = ledgerValues(ledger);
  const allocated = BigInt(values.filter((v) => contains(view.kept, v)).length);
  const usedOwned = BigInt(values.filter((v) => contains(view.owned, v)).length);
  return { total, allocated, free: total - usedOwned };
}

export const formatCounts = (c: PoolCounts): { totalAddresses: string; allocatedAddresses: string; freeAddresses: string } => ({
  totalAddresses: humanCount(c.total), allocatedAddresses: humanCount(c.allocated), freeAddresses: humanCount(c.free),
});

export function describeConflicts(view: PoolView): string {
  return view.conflicts.map((c) => `${describeSet(c.shared)} also in older pool ${c.otherPool}`).join('; ');
}

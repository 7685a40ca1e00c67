import {
  contains, count, describeSet, formatAddress, humanCount, isEmpty, parseAddress, resolveOwnership, subtract, union, validatePoolAddresses,
  type AddressSet, type IPFamily, type PoolConflict, type PoolEntryError,
} from '../ip/index.js';
import { emptySet } from '../ip/set.js';
import type { IPAllocation, IPPool, LedgerEntry } from '../k8s/schemas.js';
import type { Holding } from './assign.js';

/** A pool as the allocator sees it: its addresses, what it owns, and the ledger of earlier versions. */
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
  /** The special-purpose addresses the entries list, which the pool never hands out (`lib/ip/special.ts`). */
  specialPurpose: AddressSet;
  /** The ledger earlier versions stored; undefined for a pool that never had one (new, upstream, converted). */
  ledger: LedgerEntry[] | undefined;
  /** Whether every address held from the pool has its claim (see `IPPoolStatus.claimsAdopted`). */
  claimsAdopted: boolean;
}

/** What a pool's spec (and the other pools' specs) make of its addresses: the costly part of a view. */
interface PoolSets {
  errors: readonly PoolEntryError[];
  owned: AddressSet;
  kept: AddressSet;
  conflicts: readonly PoolConflict[];
  specialPurpose: AddressSet;
}

function computeSets(pools: readonly IPPool[]): Map<string, PoolSets> {
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
  return new Map(parsed.map(({ pool, result }) => {
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
    const specialPurpose = result.ok ? result.specialPurpose : emptySet(family);
    return [name, { errors: result.ok ? [] : result.errors, owned, kept, conflicts: ownership.get(name)?.conflicts ?? [], specialPurpose }];
  }));
}

/**
 * The last pools' sets, by everything they are computed from: allocate views the pools for
 * every allocation, and the specs rarely change (a pool's status, written often, is no part
 * of it). The sets are never mutated, so sharing them is safe.
 */
let lastSets: { key: string; sets: Map<string, PoolSets> } | undefined;

function poolSets(pools: readonly IPPool[]): Map<string, PoolSets> {
  const key = JSON.stringify(pools.map((p) => [p.metadata.name, p.metadata.creationTimestamp, p.spec.ipFamily, p.spec.addresses, p.spec.avoidBuggyIPs]));
  if (lastSets?.key !== key) lastSets = { key, sets: computeSets(pools) };
  return lastSets.sets;
}

export function viewPools(pools: readonly IPPool[]): PoolView[] {
  const sets = poolSets(pools);
  return pools.map((pool) => {
    const name = pool.metadata.name;
    const family = pool.spec.ipFamily;
    const own = sets.get(name) ?? { errors: [], owned: emptySet(family), kept: emptySet(family), conflicts: [], specialPurpose: emptySet(family) };
    return {
      pool,
      name,
      family,
      ...own,
      ledger: pool.status?.allocations,
      claimsAdopted: pool.status?.claimsAdopted === true,
    };
  });
}

/**
 * The families the cluster's pools serve (pools being deleted left out): the router keeps their
 * global rules even while no Service uses them, so the controller can create them at start and
 * the garbage collector does not take them away again (see prepareGlobals).
 */
export function poolFamilies(pools: readonly IPPool[]): Set<IPFamily> {
  return new Set(pools.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.spec.ipFamily));
}

/** Whether an allocation's status says it holds an address (allocated, programmed or deleting). */
export function holdsAddress(a: { status?: { address?: string; phase?: string } }): boolean {
  return a.status?.address !== undefined && a.status.address !== '' && (a.status.phase === 'Allocated' || a.status.phase === 'Programmed');
}

/** The pool (of those given) that keeps an address: where its claim belongs. */
export function poolKeeping(views: readonly PoolView[], address: string): PoolView | undefined {
  const p = parseAddress(address);
  return p.ok ? views.find((v) => v.family === p.family && contains(v.kept, p.value)) : undefined;
}

/**
 * What a pool converted to claims must keep: every entry of its ledger (earlier versions)
 * whose allocation still exists — also one the pool no longer contains (it shrank: the earlier
 * version kept the address with its holder and reported it, as a claim of the pool now does) —
 * and every allocation whose status holds an address the pool keeps (upstream MikroLB keeps no
 * ledger, so its allocations carry the truth; an address avoidBuggyIPs would not choose today
 * is kept, not moved). One holding per address: the ledger's first, then the oldest allocation's.
 */
export function adoptedHoldings(view: PoolView, allocations: readonly IPAllocation[]): Holding[] {
  const live = new Map(allocations.filter((a) => a.metadata.uid).map((a) => [a.metadata.uid, a]));
  const out = new Map<string, Holding>();
  const keep = (text: string, allocationName: string, allocationUID: string, anywhere: boolean): void => {
    const p = parseAddress(text);
    if (!p.ok || p.family !== view.family || (!anywhere && !contains(view.kept, p.value))) return;
    const address = formatAddress(p.family, p.value);
    if (!out.has(address)) out.set(address, { address, poolName: view.name, allocationName, allocationUID });
  };
  for (const e of view.ledger ?? []) if (live.has(e.allocationUID)) keep(e.address, e.allocationName, e.allocationUID, true);
  const holders = allocations.filter((a) => holdsAddress(a) && !a.metadata.deletionTimestamp)
    .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name));
  for (const a of holders) if (a.status?.address && a.metadata.uid) keep(a.status.address, a.metadata.name, a.metadata.uid, false);
  return [...out.values()];
}

/** Addresses of holdings as numbers (those that do not parse are skipped). */
export function holdingValues(holdings: readonly { address: string }[]): bigint[] {
  const out: bigint[] = [];
  for (const e of holdings) {
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
 * Counts derived from the pool's claims: total and free are the owned addresses (those new
 * choices come from); allocated also counts claims the pool keeps outside them (see `kept`).
 * A pool being deleted hands out nothing: none of its addresses is free, and allocated counts
 * every holder its deletion waits for (those it shrank away from too, as DeletionBlocked names them).
 */
export function poolCounts(view: PoolView, holdings: readonly { address: string }[]): PoolCounts {
  const total = count(view.owned);
  const values = holdingValues(holdings);
  if (view.pool.metadata.deletionTimestamp) return { total, allocated: BigInt(values.length), free: 0n };
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

/**
 * How many bad entries a pool's messages name: a pool admitted without the webhook may list
 * any number (the CRD bounds an entry's length, not their count), and a condition's message
 * is capped at 32,768 characters — past it the whole status write is refused.
 */
const ENTRY_ERRORS_NAMED = 10;

/** A pool's bad entries as a message: the first few (`spec.addresses[i]: why`), then how many more. */
export function describeEntryErrors(errors: readonly PoolEntryError[]): string {
  const shown = errors.slice(0, ENTRY_ERRORS_NAMED).map((e) => (e.index >= 0 ? `spec.addresses[${e.index}]: ${e.message}` : e.message));
  const more = errors.length - shown.length;
  return [...shown, ...(more > 0 ? [`and ${more} more bad ${more === 1 ? 'entry' : 'entries'}`] : [])].join('; ');
}

/** The older pools that own every address of this one, as a sentence's object ("older pool lan"). */
export function olderPools(view: PoolView): string {
  const names = [...new Set(view.conflicts.map((c) => c.otherPool))];
  const last = names.pop();
  if (last === undefined) return 'older pools';
  return names.length > 0 ? `older pools ${names.join(', ')} and ${last}` : `older pool ${last}`;
}

import { setConditions } from '../../lib/core/conditions.js';
import { RetryLaterError, retryOnConflict } from '../../lib/k8s/conflict.js';
import { hasFinalizer } from '../../lib/k8s/finalizer.js';
import { claimsOfPool } from '../../lib/k8s/keys.js';
import { eachHolder } from '../../lib/core/sharing.js';
import { holdsAddress, poolKeeping, viewPools } from '../../lib/core/pools.js';
import type { Holding } from '../../lib/core/assign.js';
import { claimHeldBy } from '../../lib/k8s/claims.js';
import { getPool, listAllocations, listClaims } from '../../lib/k8s/typed.js';
import type { ReleaseDeps, ReleaseReport } from './deps.js';
import { dropFinalizer, firstThen } from './finalizers.js';
import { mirroredPool, readPools } from '../../lib/k8s/mirror.js';

export const POOL_COND_DELETION = 'DeletionBlocked';

/**
 * A pool being deleted waits until no allocation holds one of its addresses (its claims, and
 * the live allocations whose status records an address the pool keeps): meanwhile a condition
 * says which ones do. Failed allocations that named the pool hold nothing and do not block it
 * (they stay Failed with PoolNotFound until a pool of that name exists again).
 * A status counts without its claim: a claim deleted by hand is taken again by its holder
 * (allocate keeps an address its status names, also in a pool being deleted), and the status
 * was there before this run listed anything, so the pool cannot go between the claim's deletion
 * and its holder's new claim, whichever of the two this run's lists saw. Held by such statuses
 * alone, the pool waits on no user: allocate claims the address again, or records another
 * (no event of which would wake release), so the run answers "retry later" — the claim's
 * deletion woke it — unless it only follows `releasing`, allocations whose claims this run
 * freed (which no longer count): then it leaves the pool to those retries.
 */
export async function releasePoolIfDeleting(deps: ReleaseDeps, name: string, report: ReleaseReport, releasing?: ReadonlySet<string>): Promise<void> {
  // a pool this process's watch sees alive needs nothing: its deletion, when it comes, is an
  // event that reaches the watch's copy before it wakes this function
  const mirrored = mirroredPool(deps.pools, name);
  if (mirrored && !mirrored.metadata.deletionTimestamp) return;
  const first = await getPool(deps.kube, name);
  if (!first?.metadata.deletionTimestamp || !hasFinalizer(first)) return;
  const allocations = (await listAllocations(deps.kube)).items;
  const existing = new Set(allocations.map((a) => a.metadata.uid));
  // every holder of a shared address is named (and counted), not only its claim's first
  const claims = (await listClaims(deps.kube, claimsOfPool(name))).items.flatMap((c) => eachHolder(c.spec));
  const claimed = new Set(claims.map((c) => c.allocationUID));
  const views = viewPools([...(await readPools(deps.kube, deps.pools)).items.filter((p) => p.metadata.name !== name), first]);
  const recorded: Holding[] = [];
  for (const a of allocations) {
    const uid = a.metadata.uid;
    const address = a.status?.address;
    if (!uid || !address || releasing?.has(uid) || claimed.has(uid) || a.metadata.deletionTimestamp || !holdsAddress(a) || poolKeeping(views, address)?.name !== name) continue;
    // its address held through another pool's claim (the pools' specs changed since) is that pool's
    const elsewhere = await claimHeldBy(deps.kube, address, uid);
    if (!elsewhere || elsewhere.spec.poolName === name) recorded.push({ address, poolName: name, allocationName: a.metadata.name, allocationUID: uid });
  }
  // a pool still on the ledger of earlier versions (never converted) is held by its ledger
  const ledger = first.status?.claimsAdopted ? [] : first.status?.allocations ?? [];
  const blocked = await retryOnConflict(`updating pool ${name}`, deps.retry, async () => {
    const pool = await getPool(deps.kube, name);
    if (!pool) return false;
    const holders = [...claims, ...recorded, ...ledger].filter((e) => existing.has(e.allocationUID));
    if (holders.length === 0) return false;
    if (holders.length === recorded.length) {
      if (releasing !== undefined) return true;
      throw new RetryLaterError(`pool ${name} is being deleted: ${recorded.map((h) => `${h.allocationName} (${h.address})`).join(', ')} still record an address of it whose claim is gone, until they claim it again or move`);
    }
    const message = `${holders.length} IPAllocation(s) still hold addresses from this pool (${holders.slice(0, 5).map((h) => `${h.allocationName}: ${h.address}`).join(', ')}${holders.length > 5 ? ', …' : ''}); delete their Services or allocations to finish deleting the pool.`;
    const conditions = setConditions(pool.status?.conditions, [{ type: POOL_COND_DELETION, status: 'True', reason: 'AddressesInUse', message }], pool.metadata.generation, deps.now());
    const prev = pool.status?.conditions?.find((c) => c.type === POOL_COND_DELETION);
    if (prev?.message !== message || prev.status !== 'True') {
      await deps.kube.replaceStatus('IPPool', { ...pool, status: { ...pool.status, conditions } });
      report.actions.push(`pool ${name} waits for ${holders.length} allocation(s)`);
    }
    report.waiting = { reason: 'AddressesInUse', message };
    return true;
  });
  if (!blocked) await dropFinalizer(deps, 'IPPool', firstThen(first, () => getPool(deps.kube, name)), report);
}

/**
 * The pools this run freed claims of (report.freedPools), each looked at once, after all of the
 * run's releases: N allocations of a pool being deleted, released by one run, cost one look at
 * the pool, not N (each lists every allocation). The finalizer still goes only by what that look
 * reads, after the releases.
 */
export async function releaseFreedPools(deps: ReleaseDeps, report: ReleaseReport): Promise<void> {
  const freed = [...report.freedPools];
  report.freedPools.clear();
  for (const [name, releasing] of freed) await releasePoolIfDeleting(deps, name, report, releasing);
}

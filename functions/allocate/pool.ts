import { POOL_COND_READY, poolStatus, poolStatusChanged } from '../../lib/core/pool-status.js';
import { findCondition } from '../../lib/core/conditions.js';
import { refusedByRouter } from '../../lib/core/allocation-status.js';
import { eachHolder } from '../../lib/core/sharing.js';
import { poolCounts, viewPools, type PoolView } from '../../lib/core/pools.js';
import { pastFailures } from '../../lib/events/past-failures.js';
import { parseAddress } from '../../lib/ip/index.js';
import { retryOnConflict } from '../../lib/k8s/conflict.js';
import { isConflict, isNotFound } from '../../lib/k8s/errors.js';
import { hasFinalizer, withFinalizer } from '../../lib/k8s/finalizer.js';
import { claimsOfPool, claimsRouterHeld, LABEL_CLAIM_ROUTER_HELD, LABEL_SERVICE_UID } from '../../lib/k8s/keys.js';
import { getAllocation, getPool, listClaims, listPools, listUnsettledAllocations } from '../../lib/k8s/typed.js';
import { mirroredPool, readPools } from '../../lib/k8s/mirror.js';
import { adoptClaims } from './adopt.js';
import { allocateAddress } from './allocation.js';
import type { AllocateRun, Report } from './deps.js';
import type { IPAddressClaim, IPAllocation, IPPool } from '../../lib/k8s/schemas.js';

/**
 * Refreshes a pool's status from its claims (counts, conditions). Eventually consistent: it
 * runs when the pool or one of its claims changes, never inside an allocation, so allocations
 * from a pool never wait on each other. A pool being deleted is counted too (its holders go
 * one by one while release's `DeletionBlocked` names those left), until it is gone.
 *
 * What a pool owns also depends on the other pools' specs (the oldest pool owns a shared
 * address): the run that records a pool's new spec, or finds the pool gone, refreshes the
 * other pools first (refreshOthers), so a younger pool's counts and conditions follow an older
 * one that shrank, grew or went at once rather than at the next resync.
 */
async function refreshPool(deps: AllocateRun, name: string, report: Report): Promise<{ recheck: Recheck | undefined; free: boolean; views: readonly PoolView[] }> {
  let recheck: Recheck | undefined;
  let views: readonly PoolView[] = [];
  let free = false;
  // another pool that gained free addresses (written in an earlier attempt, unchanged in a later one)
  let othersFreed = false;
  await retryOnConflict(`updating pool ${name}`, deps.retry, async (attempt) => {
    // the watch's copy first; after a conflict, the API server's
    const pools = attempt === 1 ? await readPools(deps.kube, deps.pools) : await listPools(deps.kube);
    views = viewPools(pools.items);
    deps.metrics?.retain(views.map((v) => v.name));
    const withheld = await adoptClaims(deps, views, report);
    // this pool's own conversion failed (it said why): its run is retried
    if (withheld.has(name)) throw withheld.get(name);
    const view = views.find((v) => v.name === name);
    // before the pool's own status records its spec: a run that fails in between is retried,
    // and finds the spec still unrecorded
    if (!view || !specRecorded(view.pool)) othersFreed = await refreshOthers(deps, views, name, report) || othersFreed;
    // a pool being deleted that adoptClaims just converted: its status is written (the view predates it)
    if (!view || (view.pool.metadata.deletionTimestamp && !view.claimsAdopted)) return;
    const pool = view.pool; // just read (listed again on a conflict): no read of its own
    const written = await writePoolStatus(deps, view, report);
    free = written.free;
    if (!written.changed) return;
    // this run is the one that recorded a new spec: the holders it may no longer fit are checked
    // (every holder of a scoped pool; of another, those of the other family: its ipFamily changed)
    const newSpec = !pool.metadata.deletionTimestamp && findCondition(pool.status?.conditions, POOL_COND_READY)?.observedGeneration !== pool.metadata.generation;
    const family = view.family;
    recheck = !newSpec ? undefined : pool.spec.serviceAllocation !== undefined ? () => true : (claim) => {
      const address = parseAddress(claim.spec.address);
      return address.ok && address.family !== family;
    };
  });
  return { recheck, free: free || othersFreed, views };
}

/** Whether the pool's status was computed from its current spec. */
const specRecorded = (pool: IPPool): boolean => pool.status?.observedGeneration === pool.metadata.generation;

/**
 * Counts a pool's claims and writes its status when that changed (the write carries the
 * resourceVersion read with the view: a conflict has the caller read the pools again).
 * `changed`: the status was written; `free`: the pool has a free address.
 */
async function writePoolStatus(deps: AllocateRun, view: PoolView, report: Report): Promise<{ changed: boolean; free: boolean }> {
  const { pool, name } = view;
  const holdings = (await listClaims(deps.kube, claimsOfPool(name))).items.map((c) => c.spec);
  const counts = poolCounts(view, holdings);
  const free = counts.free > 0n;
  deps.metrics?.counted(name, view.family, counts);
  const next = poolStatus(view, holdings, deps.now(), counts);
  if (!poolStatusChanged(pool.status, next)) return { changed: false, free };
  try {
    await deps.kube.replaceStatus('IPPool', { ...pool, status: next });
  } catch (e) {
    // a pool being deleted goes once release drops its finalizer: nothing left to count
    if (pool.metadata.deletionTimestamp && isNotFound(e)) return { changed: false, free };
    throw e;
  }
  report.actions.push(`updated status of pool ${name}`);
  return { changed: true, free };
}

/**
 * The spec of pool `name` changed (or it appeared, or went): the other pools' statuses are
 * computed again from the same pools, and written where they changed — most are not. Every
 * other pool, of both families: the pool's old spec is not known (its family may have changed
 * too), and a spec change is rare. Left to their own runs: a pool not converted to claims yet
 * (adoptClaims just wrote its status from these views), and one whose own new spec is not
 * recorded yet (the run that records it refreshes the others in turn, and checks its holders).
 * Whether one whose status changed has a free address (it may have gained some).
 */
async function refreshOthers(deps: AllocateRun, views: readonly PoolView[], name: string, report: Report): Promise<boolean> {
  let free = false;
  for (const other of views) {
    if (other.name === name || !other.claimsAdopted || !specRecorded(other.pool)) continue;
    try {
      const written = await writePoolStatus(deps, other, report);
      free = (written.changed && written.free) || free;
    } catch (e) {
      // gone meanwhile (no finalizer held it): its own delete refreshes the others
      if (!isNotFound(e)) throw e;
    }
  }
  return free;
}

/** Which of a pool's claims to check again after its new spec is recorded (see recheckHolders). */
type Recheck = (claim: IPAddressClaim) => boolean;

/**
 * The allocations holding these addresses of a pool whose spec just changed (its scope,
 * `serviceAllocation`, or its `ipFamily`), checked as a resync checks them: one whose Service
 * the pool no longer serves, or whose address is no longer of the pool's family, gives its
 * address back and is allocated again, at once rather than at the next resync.
 */
async function recheckHolders(deps: AllocateRun, name: string, which: Recheck, report: Report): Promise<void> {
  const holders = (await listClaims(deps.kube, claimsOfPool(name))).items.filter(which).flatMap((c) => eachHolder(c.spec).map((h) => h.allocationName));
  const { attempt, rethrow } = pastFailures();
  for (const allocation of new Set(holders)) await attempt(() => allocateAddress(deps, allocation, report, { verify: true }));
  rethrow();
}

/**
 * A pool has a free address: allocations that keep an address the router itself holds (no
 * other was free; their claims say so, see LABEL_CLAIM_ROUTER_HELD) try again now rather than
 * at the resync. One list, nearly always empty.
 */
async function wakeRouterHeld(deps: AllocateRun, report: Report): Promise<void> {
  const marked = (await listClaims(deps.kube, claimsRouterHeld)).items;
  if (marked.length === 0) return;
  // the freed address is not in this instance's hint yet
  await deps.hint.load(deps.kube, deps.now().getTime(), true);
  // one whose move keeps failing must not keep the others on the router's address
  const { attempt, rethrow } = pastFailures();
  for (const claim of marked) {
    await attempt(async () => {
      let refused = false;
      for (const h of eachHolder(claim.spec)) {
        const a = await getAllocation(deps.kube, h.allocationName);
        if (!a || a.metadata.uid !== h.allocationUID || refusedByRouter(a) === undefined) continue;
        refused = true;
        await allocateAddress(deps, a.metadata.name, report, { allocation: a });
      }
      // the router no longer holds it (or its holders moved on): the mark goes
      if (!refused) await unmarkRouterHeld(deps, claim);
    });
  }
  rethrow();
}

async function unmarkRouterHeld(deps: AllocateRun, claim: IPAddressClaim): Promise<void> {
  const { [LABEL_CLAIM_ROUTER_HELD]: _, ...labels } = claim.metadata.labels ?? {};
  try {
    await deps.kube.replace('IPAddressClaim', { ...claim, metadata: { ...claim.metadata, labels } });
  } catch (e) {
    if (!isConflict(e) && !isNotFound(e)) throw e;
  }
}

/** Our finalizer on a pool lets release hold its deletion while allocations use its addresses. */
async function ensurePoolFinalizer(deps: AllocateRun, name: string, report: Report): Promise<void> {
  // the watch's copy shows it on: a finalizer taken off meanwhile is an event that wakes this again
  const mirrored = mirroredPool(deps.pools, name);
  if (mirrored && hasFinalizer(mirrored) && !mirrored.metadata.deletionTimestamp) return;
  await retryOnConflict(`adding the finalizer to pool ${name}`, deps.retry, async () => {
    const pool = await getPool(deps.kube, name);
    if (!pool || pool.metadata.deletionTimestamp || hasFinalizer(pool)) return;
    await deps.kube.replace('IPPool', withFinalizer(pool));
    report.actions.push(`added finalizer to pool ${name}`);
  });
}

/**
 * A pool, or one of its claims, appeared, changed or went: keep the pool's status current,
 * and give allocations that failed (or never ran) another chance — an address may have been
 * freed, or the pool may have grown. A Service's allocation without a status is being
 * allocated by the invocation that made it (retried as the Service's when it fails, and made
 * again from the Service at a restart): running it here too would only race that invocation.
 */
export async function reconcilePool(deps: AllocateRun, name: string, report: Report): Promise<void> {
  await ensurePoolFinalizer(deps, name, report);
  const { recheck, free, views } = await refreshPool(deps, name, report);
  if (recheck) await recheckHolders(deps, name, recheck, report);
  // the router-held ones failing must not keep the waiting ones from a freed address either
  const { attempt, rethrow } = pastFailures();
  if (free) await attempt(() => wakeRouterHeld(deps, report));
  await attempt(() => wakeWaiting(deps, views, report));
  rethrow();
}

/** Allocations that failed (or never ran) try again: one that keeps failing (it needs a pool not converted yet, say) must not starve the others. */
async function wakeWaiting(deps: AllocateRun, pools: readonly PoolView[], report: Report): Promise<void> {
  // only the allocations that are not settled: the API server filters them
  const unsettled = (await listUnsettledAllocations(deps.kube)).items;
  deps.metrics?.listed(unsettled, pools);
  const waiting = unsettled.filter((a) => !a.metadata.deletionTimestamp && (a.status?.phase === 'Failed' || a.status?.phase === 'Pending' || (a.status?.phase === undefined && !ofService(a))));
  if (waiting.length === 0) return;
  // a freed address is not in this instance's hint yet
  await deps.hint.load(deps.kube, deps.now().getTime(), true);
  const { attempt, rethrow } = pastFailures();
  for (const a of waiting) await attempt(() => allocateAddress(deps, a.metadata.name, report, { allocation: a }));
  rethrow();
}

const ofService = (a: IPAllocation): boolean => (a.metadata.labels?.[LABEL_SERVICE_UID] ?? '') !== '';

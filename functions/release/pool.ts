import { setConditions } from '../../lib/core/conditions.js';
import { retryOnConflict } from '../../lib/k8s/conflict.js';
import { hasFinalizer } from '../../lib/k8s/finalizer.js';
import { claimsOfPool } from '../../lib/k8s/keys.js';
import { eachHolder } from '../../lib/core/sharing.js';
import { getPool, listAllocations, listClaims } from '../../lib/k8s/typed.js';
import type { ReleaseDeps, ReleaseReport } from './deps.js';
import { dropFinalizer, firstThen } from './finalizers.js';
import { mirroredPool } from '../../lib/k8s/mirror.js';

export const POOL_COND_DELETION = 'DeletionBlocked';

/**
 * A pool being deleted waits until no allocation holds one of its addresses (its claims):
 * meanwhile a condition says which ones do. Failed allocations that named the pool hold nothing and do
 * not block it (they stay Failed with PoolNotFound until a pool of that name exists again).
 */
export async function releasePoolIfDeleting(deps: ReleaseDeps, name: string, report: ReleaseReport): Promise<void> {
  // a pool this process's watch sees alive needs nothing: its deletion, when it comes, is an
  // event that reaches the watch's copy before it wakes this function
  const mirrored = mirroredPool(deps.pools, name);
  if (mirrored && !mirrored.metadata.deletionTimestamp) return;
  const first = await getPool(deps.kube, name);
  if (!first?.metadata.deletionTimestamp || !hasFinalizer(first)) return;
  const existing = new Set((await listAllocations(deps.kube)).items.map((a) => a.metadata.uid));
  // every holder of a shared address is named (and counted), not only its claim's first
  const claims = (await listClaims(deps.kube, claimsOfPool(name))).items.flatMap((c) => eachHolder(c.spec));
  // a pool still on the ledger of earlier versions (never converted) is held by its ledger
  const ledger = first.status?.claimsAdopted ? [] : first.status?.allocations ?? [];
  const blocked = await retryOnConflict(`updating pool ${name}`, deps.retry, async () => {
    const pool = await getPool(deps.kube, name);
    if (!pool) return false;
    const holders = [...claims, ...ledger].filter((e) => existing.has(e.allocationUID));
    if (holders.length === 0) return false;
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

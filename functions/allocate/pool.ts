import { poolStatus, poolStatusChanged } from '../../lib/core/pool-status.js';
import { adoptedLedger, viewPools } from '../../lib/core/pools.js';
import { retryOnConflict } from '../../lib/k8s/conflict.js';
import { hasFinalizer, withFinalizer } from '../../lib/k8s/finalizer.js';
import { getPool, listAllocations, listPools } from '../../lib/k8s/typed.js';
import { allocateAddress } from './allocation.js';
import type { AllocateDeps, Report } from './deps.js';

/** Refreshes a pool's status (counts, conditions, adopting a ledger it lacks). */
async function refreshPool(deps: AllocateDeps, name: string, report: Report): Promise<void> {
  await retryOnConflict(`updating pool ${name}`, deps.retry, async () => {
    const pools = await listPools(deps.kube);
    const view = viewPools(pools.items).find((v) => v.name === name);
    if (!view || view.pool.metadata.deletionTimestamp) return;
    const ledger = view.ledger ?? adoptedLedger(view, (await listAllocations(deps.kube)).items, deps.now());
    const next = poolStatus(view, ledger, deps.now());
    if (!poolStatusChanged(view.pool.status, next)) return;
    await deps.kube.replaceStatus('IPPool', { ...view.pool, status: next });
    report.actions.push(`updated status of pool ${name}`);
  });
}

/** Our finalizer on a pool lets release hold its deletion while allocations use its addresses. */
async function ensurePoolFinalizer(deps: AllocateDeps, name: string, report: Report): Promise<void> {
  await retryOnConflict(`adding the finalizer to pool ${name}`, deps.retry, async () => {
    const pool = await getPool(deps.kube, name);
    if (!pool || pool.metadata.deletionTimestamp || hasFinalizer(pool)) return;
    await deps.kube.replace('IPPool', withFinalizer(pool));
    report.actions.push(`added finalizer to pool ${name}`);
  });
}

/**
 * A pool appeared or changed: keep its status current, and give allocations that failed (or
 * never ran) another chance — the pool may now have room for them.
 */
export async function reconcilePool(deps: AllocateDeps, name: string, report: Report): Promise<void> {
  await ensurePoolFinalizer(deps, name, report);
  await refreshPool(deps, name, report);
  const all = await listAllocations(deps.kube);
  for (const a of all.items) {
    if (a.metadata.deletionTimestamp) continue;
    if (a.status?.phase === undefined || a.status.phase === 'Failed' || a.status.phase === 'Pending') await allocateAddress(deps, a.metadata.name, report);
  }
}

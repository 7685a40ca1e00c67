import { poolStatus } from '../../lib/core/pool-status.js';
import { adoptedHoldings, type PoolView } from '../../lib/core/pools.js';
import { claimAddress } from '../../lib/k8s/claims.js';
import { retryOnConflict } from '../../lib/k8s/conflict.js';
import { LABEL_SERVICE_UID } from '../../lib/k8s/keys.js';
import type { IPAllocation } from '../../lib/k8s/schemas.js';
import { getPool, listAllocations } from '../../lib/k8s/typed.js';
import type { AllocateRun, Report } from './deps.js';

/**
 * Converts pools to per-address claims: every address a pool's ledger (earlier versions) or an
 * allocation's status (upstream MikroLB, which keeps no ledger) says is held gets its claim,
 * then the pool is marked `claimsAdopted` and its ledger dropped. Until then a pool hands out
 * nothing. Idempotent and safe to run in several instances at once: claims are
 * create-if-absent, the pool's status write carries its resourceVersion.
 * A pool being deleted is converted too: its holders keep their addresses until they are
 * released, and only a claim proves that (unconverted, each of their runs took the claim anew,
 * found the pool being deleted, gave the claim back and tried again, until it gave up: every
 * resync failed there). Release reads the ledger as well as the claims until the pool's status
 * says it is converted, and the claims are made before that status: no holder is missed.
 */
export async function adoptClaims(deps: AllocateRun, views: readonly PoolView[], report: Report): Promise<void> {
  const pending = views.filter((v) => !v.claimsAdopted);
  if (pending.length === 0) return;
  const allocations: IPAllocation[] = (await listAllocations(deps.kube)).items;
  for (const view of pending) {
    const holdings = adoptedHoldings(view, allocations);
    for (const h of holdings) {
      const svc = allocations.find((a) => a.metadata.uid === h.allocationUID)?.metadata.labels?.[LABEL_SERVICE_UID];
      const r = await claimAddress(deps.kube, h, svc);
      if (!r.claimed) {
        deps.log.warn('An address two allocations held is kept by the one that claimed it first', { address: h.address, pool: view.name, kept: r.holder.spec.allocationName, other: h.allocationName });
      }
    }
    const converted = await retryOnConflict(`adopting claims in pool ${view.name}`, deps.retry, async () => {
      const pool = await getPool(deps.kube, view.name);
      if (!pool || pool.status?.claimsAdopted) return false;
      await deps.kube.replaceStatus('IPPool', { ...pool, status: poolStatus({ ...view, pool }, holdings, deps.now()) });
      return true;
    });
    // Another instance converted it meanwhile (with the same claims): it said so.
    if (!converted) continue;
    report.actions.push(`pool ${view.name}: ${holdings.length} held address(es) converted to claims`);
    deps.log.info('Converted a pool to address claims', { pool: view.name, claims: holdings.length, fromLedger: view.ledger !== undefined });
  }
}

import { poolsKeepingAddressName } from '../../lib/core/claim-pools.js';
import type { ObjectRef } from '../../lib/events/invocation.js';
import { allocateAddress } from './allocation.js';
import { readClaim } from '../../lib/k8s/claims.js';
import { listPools } from '../../lib/k8s/typed.js';
import { newReport, type AllocateRun, type Report } from './deps.js';
import { reconcilePool } from './pool.js';
import { shareRuns } from '../../lib/share-runs.js';

/** Each instance's shared pool recounts (see recountOf). */
const recounts = new WeakMap<AllocateRun, (pool: string) => Promise<Report>>();

/**
 * The pool reconciles of this instance's claim events, shared per pool: Knative's
 * ApiServerSource delivers a burst of claims one event at a time, and each reconcile lists the
 * pool's claims, so N claims on one pool at once would list them N times. Events arriving while
 * the pool's reconcile runs share the one after it (shareRuns), which reads what they changed.
 */
function recountOf(deps: AllocateRun): (pool: string) => Promise<Report> {
  let recount = recounts.get(deps);
  if (!recount) {
    recount = shareRuns(async (pool: string) => {
      const report = newReport();
      await reconcilePool(deps, pool, report);
      return report;
    });
    recounts.set(deps, recount);
  }
  return recount;
}

/**
 * An IPAddressClaim was taken or freed (Knative's ApiServerSource sends claim events as they
 * are; the bridge sends them as an update of the pool): the pool it was claimed from is
 * reconciled, so its counts follow and allocations waiting for a free address try again.
 * A deleted claim sent whole names its holders: each checks its claim first, as the bridge's
 * route for them does, so one still using the address (its claim deleted by hand) takes it
 * again before the pool's waiters could get it while the holder's entries are on the router.
 * A claim freed by its release names holders being deleted, or gone: one read each.
 */
export async function claimChanged(deps: AllocateRun, name: string, report: Report, holders: readonly ObjectRef[] = []): Promise<void> {
  for (const holder of holders) await allocateAddress(deps, holder.name, report, { checkClaim: true });
  // a claim we cannot read (someone else's) names no pool we could trust: its address's pools are recounted
  const read = await readClaim(deps.kube, name);
  const claim = 'claim' in read ? read.claim : undefined;
  const pools = claim ? [claim.spec.poolName] : poolsKeepingAddressName(name, (await listPools(deps.kube)).items);
  if (pools.length === 0) report.actions.push(`claim ${name} belongs to no pool`);
  for (const pool of pools) {
    const done = await recountOf(deps)(pool);
    report.actions.push(...done.actions);
    report.conflicts += done.conflicts;
  }
}

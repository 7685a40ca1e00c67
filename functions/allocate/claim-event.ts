import { poolsKeepingAddressName } from '../../lib/core/claim-pools.js';
import { getClaim, listPools } from '../../lib/k8s/typed.js';
import type { AllocateRun, Report } from './deps.js';
import { reconcilePool } from './pool.js';

/**
 * An IPAddressClaim was taken or freed (Knative's ApiServerSource sends claim events as they
 * are; the bridge sends them as an update of the pool): the pool it was claimed from is
 * reconciled, so its counts follow and allocations waiting for a free address try again.
 */
export async function claimChanged(deps: AllocateRun, name: string, report: Report): Promise<void> {
  const claim = await getClaim(deps.kube, name);
  const pools = claim ? [claim.spec.poolName] : poolsKeepingAddressName(name, (await listPools(deps.kube)).items);
  if (pools.length === 0) report.actions.push(`claim ${name} belongs to no pool`);
  for (const pool of pools) await reconcilePool(deps, pool, report);
}

import { poolsKeepingAddressName } from '../../lib/core/claim-pools.js';
import { getClaim, listPools } from '../../lib/k8s/typed.js';
import type { ReleaseDeps, ReleaseReport } from './deps.js';
import { releasePoolIfDeleting } from './pool.js';

/**
 * An IPAddressClaim was taken or freed: a pool being deleted that waited for its addresses to
 * be freed may now finish (see claimChanged in allocate for how the pool is found).
 */
export async function claimChanged(deps: ReleaseDeps, name: string, report: ReleaseReport): Promise<void> {
  const claim = await getClaim(deps.kube, name);
  const pools = claim ? [claim.spec.poolName] : poolsKeepingAddressName(name, (await listPools(deps.kube)).items);
  for (const pool of pools) await releasePoolIfDeleting(deps, pool, report);
}

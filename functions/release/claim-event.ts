import { poolsKeepingAddressName } from '../../lib/core/claim-pools.js';
import { dropGoneHolders, goneHolders, readableClaim } from '../../lib/k8s/claims.js';
import type { IPAddressClaim } from '../../lib/k8s/schemas.js';
import { listPools } from '../../lib/k8s/typed.js';
import type { ReleaseDeps, ReleaseReport } from './deps.js';
import { releasePoolIfDeleting } from './pool.js';
import { applyOwner, onRouter } from './router.js';

/**
 * An IPAddressClaim was taken, changed or freed: a pool being deleted that waited for its
 * addresses to be freed may now finish (see claimChanged in allocate for how the pool is found).
 * A claim still there that holders no longer exist for (see freeGoneHolders) is freed of them
 * first. A new claim's holder exists: an add reads no holder. A claim we cannot read (readClaim)
 * is someone else's: nothing of it is ours to free, and it is looked at as a freed one would be.
 */
export async function claimChanged(deps: ReleaseDeps, name: string, report: ReleaseReport, change: 'add' | 'update' | 'delete'): Promise<void> {
  const claim = await readableClaim(deps.kube, name);
  if (claim && change !== 'add') await freeGoneHolders(deps, claim, report);
  const pools = claim ? [claim.spec.poolName] : poolsKeepingAddressName(name, (await listPools(deps.kube)).items);
  for (const pool of pools) await releasePoolIfDeleting(deps, pool, report);
}

/**
 * The claim of the address a deleted allocation held (see SentWhole.held): freed of holders
 * that no longer exist, as claimChanged does. A claim gone already was freed by the
 * allocation's release, and its own deletion reaches release as the claim; one we cannot read is
 * someone else's, left as it is.
 */
export async function heldClaimLeft(deps: ReleaseDeps, name: string, report: ReleaseReport): Promise<void> {
  const claim = await readableClaim(deps.kube, name);
  if (!claim) return;
  await freeGoneHolders(deps, claim, report);
  await releasePoolIfDeleting(deps, claim.spec.poolName, report);
}

/**
 * The holders of a claim whose allocation no longer exists were deleted without their release
 * (the finalizer taken off by hand; the bridge sends such a deletion to release as the claim of
 * the address it held): the claim holds the address for nobody, and the allocations waiting on
 * the pool (PoolExhausted, AddressAlreadyUsed) and a pool being deleted would wait for the
 * resync's garbage collection. Their own router entries (an operator reservation's are tagged
 * with its uid, which nothing else has) go first, so the address is never free while they
 * stand — the next holder's advertisement of it would be refused as a duplicate — then the
 * holders leave the claim, which goes with the last (its deletion reaches the pool's waiters,
 * as any freed claim does). An allocation exists before any claim made for it, so a holder
 * missing now is gone for good (see dropGoneHolders).
 */
async function freeGoneHolders(deps: ReleaseDeps, claim: IPAddressClaim, report: ReleaseReport): Promise<void> {
  const gone = await goneHolders(deps.kube, claim);
  if (gone.length === 0) return;
  for (const h of gone) await onRouter(deps, `entries of ${h.allocationName}`, () => applyOwner(deps, { uid: h.allocationUID, adverts: [] }, report));
  const outcome = await dropGoneHolders(deps.kube, claim, gone);
  if (outcome === undefined) return;
  report.actions.push(`${outcome === 'freed' ? 'released' : 'dropped gone holders from'} ${claim.spec.address} in pool ${claim.spec.poolName}: IPAllocation(s) gone`);
  deps.log.info('Released the claim of allocations deleted without their release', { address: claim.spec.address, pool: claim.spec.poolName, allocations: gone.map((h) => h.allocationName), freed: outcome === 'freed' });
}

import { contains, describeSpecialPurpose, isEmpty, parseAddress } from '../ip/index.js';
import type { IPPoolStatus } from '../k8s/schemas.js';
import type { Holding } from './assign.js';
import { setConditions, type ConditionInput } from './conditions.js';
import { deepEqualJson } from './equal.js';
import { eachHolder } from './sharing.js';
import { describeConflicts, describeEntryErrors, formatCounts, olderPools, poolCounts, type PoolView } from './pools.js';

export const POOL_COND_READY = 'Ready';
export const POOL_COND_OVERLAP = 'Overlapping';
export const POOL_COND_OUTSIDE = 'AddressesOutsidePool';

function poolConditions(view: PoolView, holdings: readonly Holding[], free: bigint): ConditionInput[] {
  // the webhook warns about these; a pool admitted without it says so here
  const special = isEmpty(view.specialPurpose) ? '' : ` It never hands out the special-purpose addresses it lists: ${describeSpecialPurpose(view.specialPurpose)}.`;
  const ready: ConditionInput = view.pool.metadata.deletionTimestamp
    ? { type: POOL_COND_READY, status: 'False', reason: 'Deleting', message: 'The pool is being deleted and hands out no new address; it goes once no allocation holds one of its addresses.' }
    : view.errors.length > 0
    ? { type: POOL_COND_READY, status: 'False', reason: 'InvalidAddresses', message: describeEntryErrors(view.errors) }
    // valid entries always leave an address (else NoAddressesLeft above): older pools own them all
    : isEmpty(view.owned)
    ? { type: POOL_COND_READY, status: 'False', reason: 'NoOwnedAddresses', message: `Every address of the pool belongs to ${olderPools(view)}, so it hands out none.` }
    : { type: POOL_COND_READY, status: 'True', reason: free > 0n ? 'Valid' : 'Full', message: `${free > 0n ? 'The pool is valid and has free addresses.' : 'The pool is valid; every address is allocated.'}${special}` };
  const overlap: ConditionInput = view.conflicts.length > 0
    ? { type: POOL_COND_OVERLAP, status: 'True', reason: 'OverlapsOlderPool', message: `Never hands out ${describeConflicts(view)}.` }
    : { type: POOL_COND_OVERLAP, status: 'False', reason: 'NoOverlap', message: 'No older pool shares an address with this pool.' };
  // every holder of a shared address outside the pool is one of the allocations keeping it
  const outside = outsideHoldings(view, holdings).flatMap(eachHolder);
  const stray: ConditionInput = outside.length > 0
    ? { type: POOL_COND_OUTSIDE, status: 'True', reason: 'AddressesOutsidePool', message: `${outside.length} allocation(s) keep addresses the pool no longer contains (${outside.slice(0, 5).map((e) => `${e.allocationName}: ${e.address}`).join(', ')}); they are not moved — delete them to re-allocate.` }
    : { type: POOL_COND_OUTSIDE, status: 'False', reason: 'AllInsidePool', message: 'Every allocated address lies inside the pool.' };
  return [ready, overlap, stray];
}

/** The older pools sharing addresses with this one: `older pool lan`, `older pools a, b and c`. */
/** Holdings whose address is no longer one the pool keeps (the pool shrank). */
export function outsideHoldings(view: PoolView, holdings: readonly Holding[]): Holding[] {
  return holdings.filter((e) => {
    const p = parseAddress(e.address);
    return !p.ok || !contains(view.kept, p.value);
  });
}

/**
 * The status of a pool converted to claims, for the claims it holds: counts derived from them,
 * conditions, observedGeneration; the ledger of earlier versions is gone. `counts`: when the
 * caller has them already (they cost a parse of every holding).
 */
export function poolStatus(view: PoolView, holdings: readonly Holding[], now: Date, counts = poolCounts(view, holdings)): IPPoolStatus {
  const gen = view.pool.metadata.generation;
  const { allocations: _ledger, ...prev } = view.pool.status ?? {};
  return {
    ...prev,
    ...formatCounts(counts),
    observedGeneration: gen,
    conditions: setConditions(prev.conditions, poolConditions(view, holdings, counts.free), gen, now),
    claimsAdopted: true,
  };
}

export function poolStatusChanged(prev: IPPoolStatus | undefined, next: IPPoolStatus): boolean {
  return !deepEqualJson(prev ?? {}, next);
}

import type { IPAllocation, IPAllocationStatus } from '../k8s/schemas.js';
import { findCondition, sameConditions, setConditions, type ConditionInput } from './conditions.js';
import type { Decision } from './decide.js';

export const COND_ALLOCATED = 'Allocated';
export const COND_PROGRAMMED = 'Programmed';
export const COND_READY = 'Ready';

/**
 * The allocation's status after allocate decided (see the status model in ARCHITECTURE.md).
 * What program reported (Programmed, phase Programmed) is kept while the address stays the same.
 */
export function allocatedStatus(a: IPAllocation, d: Decision, pool: { advertise: boolean; interfaceName?: string } | undefined, now: Date): IPAllocationStatus {
  const gen = a.metadata.generation;
  const prev = a.status ?? {};
  if (!d.ok) {
    const conditions = setConditions(prev.conditions, [
      { type: COND_ALLOCATED, status: 'False', reason: d.reason, message: d.message },
      { type: COND_PROGRAMMED, status: 'False', reason: 'NotAllocated', message: 'No address is allocated, so nothing is programmed.' },
      { type: COND_READY, status: 'False', reason: d.reason, message: d.message },
    ], gen, now);
    return { phase: 'Failed', conditions, observedGeneration: gen };
  }
  const sameAddress = prev.address === d.address && (prev.phase === 'Allocated' || prev.phase === 'Programmed');
  const allocated: ConditionInput = { type: COND_ALLOCATED, status: 'True', reason: 'Allocated', message: `Address ${d.address} is allocated from pool ${d.pool}.` };
  const advertise = pool?.advertise ?? true;
  let rest: ConditionInput[];
  if (!advertise) {
    rest = [
      { type: COND_PROGRAMMED, status: 'False', reason: 'NotAdvertised', message: `Pool ${d.pool} does not advertise its addresses on the router.` },
      { type: COND_READY, status: 'True', reason: 'AllocatedButNotAdvertised', message: `Address ${d.address} is allocated from pool ${d.pool} and not advertised (advertise: false).` },
    ];
  } else if (sameAddress && findCondition(prev.conditions, COND_PROGRAMMED)?.reason !== 'NotAdvertised' && findCondition(prev.conditions, COND_PROGRAMMED)?.reason !== 'NotAllocated') {
    rest = []; // program owns Programmed/Ready from here on
  } else {
    rest = [
      { type: COND_PROGRAMMED, status: 'Unknown', reason: 'Pending', message: `Waiting for the router to advertise ${d.address}.` },
      { type: COND_READY, status: 'False', reason: 'ProgrammingPending', message: `Address ${d.address} is allocated from pool ${d.pool}; waiting for the router.` },
    ];
  }
  const conditions = setConditions(prev.conditions, [allocated, ...rest], gen, now);
  const keepPhase = sameAddress && prev.phase === 'Programmed' && advertise;
  return {
    ...prev,
    phase: keepPhase ? 'Programmed' : 'Allocated',
    address: d.address,
    advertised: keepPhase ? prev.advertised ?? false : false,
    ...(pool?.interfaceName ? { interfaceName: pool.interfaceName } : {}),
    conditions,
    observedGeneration: gen,
  };
}

/** Whether writing `next` would change anything a user can see. */
export function statusChanged(prev: IPAllocationStatus | undefined, next: IPAllocationStatus): boolean {
  const p = prev ?? {};
  return p.phase !== next.phase || p.address !== next.address || p.advertised !== next.advertised
    || p.interfaceName !== next.interfaceName || p.observedGeneration !== next.observedGeneration
    || !sameConditions(p.conditions, next.conditions);
}

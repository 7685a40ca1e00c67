import type { IPFamily } from '../ip/index.js';
import type { LoadBalancerIngress } from '../k8s/core-objects.js';
import type { Condition, IPAllocation, IPAllocationStatus } from '../k8s/schemas.js';
import { COND_PROGRAMMED, COND_READY } from './allocation-status.js';
import { findCondition, setConditions } from './conditions.js';

export type RouterOutcome =
  | { kind: 'advertised'; interfaceName: string }
  | { kind: 'notAdvertised' }
  | { kind: 'failed'; message: string }
  /** Not programmed at all, for a reason the router's own state gives (see refusedAddresses). */
  | { kind: 'refused'; reason: 'AddressInUseByRouter'; message: string };

/** An allocation's status after program talked to the router (see the status model). */
export function programmedStatus(a: IPAllocation, outcome: RouterOutcome, now: Date): IPAllocationStatus {
  const prev = a.status ?? {};
  const address = prev.address ?? '';
  const gen = a.metadata.generation;
  if (outcome.kind === 'advertised') {
    return {
      ...prev, phase: 'Programmed', advertised: true, interfaceName: outcome.interfaceName,
      conditions: setConditions(prev.conditions, [
        { type: COND_PROGRAMMED, status: 'True', reason: 'Programmed', message: `Address ${address} is advertised on interface ${outcome.interfaceName}.` },
        { type: COND_READY, status: 'True', reason: 'AllocatedAndProgrammed', message: `Address ${address} is allocated and advertised on ${outcome.interfaceName}.` },
      ], gen, now),
    };
  }
  if (outcome.kind === 'notAdvertised') {
    return {
      ...prev, phase: 'Allocated', advertised: false,
      conditions: setConditions(prev.conditions, [
        { type: COND_PROGRAMMED, status: 'False', reason: 'NotAdvertised', message: `The pool of ${address} does not advertise its addresses on the router.` },
        { type: COND_READY, status: 'True', reason: 'AllocatedButNotAdvertised', message: `Address ${address} is allocated and not advertised (advertise: false).` },
      ], gen, now),
    };
  }
  const reason = outcome.kind === 'refused' ? outcome.reason : 'BackendError';
  return {
    ...prev, phase: 'Allocated', advertised: false,
    conditions: setConditions(prev.conditions, [
      { type: COND_PROGRAMMED, status: 'False', reason, message: outcome.message },
      { type: COND_READY, status: 'False', reason, message: outcome.message },
    ], gen, now),
  };
}

export const isReady = (a: IPAllocation): boolean => findCondition(a.status?.conditions, COND_READY)?.status === 'True';

/** `status.loadBalancer.ingress`: ready LB addresses of the Service's families, in a stable order. */
export function ingressFor(lbAllocations: readonly IPAllocation[], families: readonly IPFamily[], familyOf: (a: string) => IPFamily | undefined): LoadBalancerIngress[] {
  const ips = lbAllocations
    .filter((a) => isReady(a) && a.status?.address && !a.metadata.deletionTimestamp)
    .map((a) => a.status?.address ?? '')
    .filter((ip) => {
      const f = familyOf(ip);
      return f !== undefined && (families.length === 0 || families.includes(f));
    })
    .sort();
  return [...new Set(ips)].map((ip) => ({ ip, ipMode: 'Proxy' }));
}

export const SERVICE_CONDITION = 'mikrolb.de/LoadBalancerReady';

/** Why a Service is (not) ready yet: the first allocation that is not, with its reason. */
export function serviceCondition(allocations: readonly IPAllocation[], routerError?: string): Omit<Condition, 'lastTransitionTime'> {
  if (routerError) return { type: SERVICE_CONDITION, status: 'False', reason: 'BackendError', message: routerError };
  if (allocations.length === 0) return { type: SERVICE_CONDITION, status: 'False', reason: 'Pending', message: 'No IPAllocation exists for this Service yet.' };
  const waiting = [...allocations].sort((x, y) => x.metadata.name.localeCompare(y.metadata.name)).find((a) => !isReady(a));
  if (!waiting) return { type: SERVICE_CONDITION, status: 'True', reason: 'Ready', message: `All ${allocations.length} IPAllocation(s) are ready.` };
  const ready = findCondition(waiting.status?.conditions, COND_READY);
  return {
    type: SERVICE_CONDITION, status: 'False', reason: ready?.reason ?? 'Pending',
    message: `IPAllocation ${waiting.metadata.name} is not ready: ${ready?.message ?? 'not allocated yet.'}`,
  };
}

/** The Service's status: its `status.loadBalancer.ingress` and its `mikrolb.de/LoadBalancerReady` condition. An allocation's conditions are worded in allocation-status.ts. */
import type { IPFamily } from '../ip/index.js';
import type { LoadBalancerIngress } from '../k8s/core-objects.js';
import { ANNOTATION_LB_ENABLED } from '../k8s/keys.js';
import type { Condition, IPAllocation } from '../k8s/schemas.js';
import { COND_READY } from './allocation-status.js';
import { findCondition } from './conditions.js';

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

/** What else than its allocations a Service's condition speaks of. */
export interface ServiceConditionContext {
  /** The router failed: BackendError. */
  routerError?: string;
  /**
   * The note of a Service that asks for no address MikroLB can allocate (every address or
   * pool it names is invalid): no allocation is coming, and waiting will not help.
   */
  nothingValid?: string;
  /** `mikrolb.de/load-balancer-enabled: "false"`: the addresses are kept, no ingress is published. */
  lbDisabled?: boolean;
}

/** Why a Service is (not) ready yet: the first allocation that is not, with its reason. */
export function serviceCondition(allocations: readonly IPAllocation[], ctx: ServiceConditionContext = {}): Omit<Condition, 'lastTransitionTime'> {
  if (ctx.routerError) return { type: SERVICE_CONDITION, status: 'False', reason: 'BackendError', message: ctx.routerError };
  if (allocations.length === 0 && ctx.nothingValid !== undefined) {
    return { type: SERVICE_CONDITION, status: 'False', reason: 'AnnotationInvalid', message: `The Service asks for no address that can be allocated: ${ctx.nothingValid}` };
  }
  if (allocations.length === 0) return { type: SERVICE_CONDITION, status: 'False', reason: 'Pending', message: 'No IPAllocation exists for this Service yet.' };
  const waiting = [...allocations].sort((x, y) => x.metadata.name.localeCompare(y.metadata.name)).find((a) => !isReady(a));
  if (!waiting && ctx.lbDisabled) {
    return {
      type: SERVICE_CONDITION, status: 'True', reason: 'LoadBalancingDisabled',
      message: `All ${allocations.length} IPAllocation(s) are ready; load balancing is switched off (${ANNOTATION_LB_ENABLED}: "false"), so no ingress is published.`,
    };
  }
  if (!waiting) return { type: SERVICE_CONDITION, status: 'True', reason: 'Ready', message: `All ${allocations.length} IPAllocation(s) are ready.` };
  const ready = findCondition(waiting.status?.conditions, COND_READY);
  return {
    type: SERVICE_CONDITION, status: 'False', reason: ready?.reason ?? 'Pending',
    message: `IPAllocation ${waiting.metadata.name} is not ready: ${ready?.message ?? 'not allocated yet.'}`,
  };
}

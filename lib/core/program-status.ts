/** The Service's status: its `status.loadBalancer.ingress` and its `mikrolb.de/LoadBalancerReady` condition. An allocation's conditions are worded in allocation-status.ts. */
import { IP_FAMILIES, parseAddress, type IPFamily } from '../ip/index.js';
import type { LoadBalancerIngress } from '../k8s/core-objects.js';
import { ANNOTATION_LB_ENABLED } from '../k8s/keys.js';
import type { Condition, IPAllocation } from '../k8s/schemas.js';
import { COND_PROGRAMMED, COND_READY, REASON_BACKEND_ERROR } from './allocation-status.js';
import { findCondition } from './conditions.js';
import { deepEqualJson } from './equal.js';

export const isReady = (a: IPAllocation): boolean => findCondition(a.status?.conditions, COND_READY)?.status === 'True';

/**
 * Whether the router failed the allocation's last programming (BackendError): its address may
 * well still be on the router, which did not answer or refused a change.
 */
const routerFailed = (a: IPAllocation): boolean => findCondition(a.status?.conditions, COND_PROGRAMMED)?.reason === REASON_BACKEND_ERROR;

/**
 * `status.loadBalancer.ingress`: the ready LB addresses of the Service's families, the primary
 * family's first (the order of `spec.ipFamilies`, as for its clusterIPs: what reads `ingress[0]`
 * gets the primary address), each family's in address order. An address `published` already
 * (the stored ingress) stays while the router fails its allocation (BackendError): a router
 * rebooting or refusing one change does not withdraw a working address from everything that
 * reads the ingress (DNS records, clients); the conditions say what failed. An address not
 * published yet is published once programmed.
 */
export function ingressFor(lbAllocations: readonly IPAllocation[], families: readonly IPFamily[], published: ReadonlySet<string> = new Set()): LoadBalancerIngress[] {
  const order: readonly IPFamily[] = families.length === 0 ? IP_FAMILIES : families;
  const byText = new Map<string, { family: number; value: bigint }>();
  for (const a of lbAllocations) {
    if (!a.status?.address || a.metadata.deletionTimestamp) continue;
    if (!isReady(a) && !(routerFailed(a) && published.has(a.status.address))) continue;
    const p = parseAddress(a.status.address);
    const family = p.ok ? order.indexOf(p.family) : -1;
    if (p.ok && family >= 0) byText.set(a.status.address, { family, value: p.value });
  }
  return [...byText]
    .sort(([, x], [, y]) => x.family - y.family || (x.value < y.value ? -1 : x.value > y.value ? 1 : 0))
    .map(([ip]) => ({ ip, ipMode: 'Proxy' }));
}

/**
 * The ingress to write, given the one stored: the stored one itself when it says the same. An
 * API server without the LoadBalancerIPMode feature (Kubernetes 1.29 and older, unless enabled)
 * drops `ipMode` from what is written, so an entry stored without one stands for the wanted
 * entry; compared as written, every run would write the same status again.
 */
export function ingressToWrite(stored: LoadBalancerIngress[], wanted: LoadBalancerIngress[]): LoadBalancerIngress[] {
  const same = stored.length === wanted.length && stored.every((s, i) => {
    const w = wanted[i];
    return w !== undefined && deepEqualJson(s.ipMode === undefined ? { ...s, ipMode: w.ipMode } : s, w);
  });
  return same ? stored : wanted;
}

export const SERVICE_CONDITION = 'mikrolb.de/LoadBalancerReady';
/** The Service's condition is True, and it has no address of its optional family (see ServiceConditionContext.optionalFamily). */
export const REASON_OPTIONAL_FAMILY_UNAVAILABLE = 'SecondaryFamilyUnavailable';

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
  /**
   * The family the Service can go without (see optionalFamily: the second of a PreferDualStack
   * Service's families): a failed family allocation of it does not keep the Service from being
   * ready while the Service has another allocation (see goneWithout).
   */
  optionalFamily?: IPFamily;
  /**
   * What the router forwards nothing for (ignoredPortsNote: the Service's SCTP ports): a ready
   * Service's message ends with it, as the address is allocated and advertised all the same
   * (an SCTP-only Service is Ready and forwards nothing; its Warning event expires, this stays).
   */
  ignoredPorts?: string;
}

/**
 * The failed family allocations of the optional family, while the Service has another
 * allocation: it can go without them (an allocation of that family asked for by address or
 * pool was asked for by name, and stays required).
 */
function goneWithout(sorted: readonly IPAllocation[], family: IPFamily | undefined): { family: IPFamily; allocations: IPAllocation[] } | undefined {
  if (family === undefined) return undefined;
  const optional = (a: IPAllocation): boolean => a.spec.ipFamily === family && !a.spec.address && !a.spec.poolName && a.status?.phase === 'Failed';
  const allocations = sorted.filter(optional);
  return allocations.length > 0 && allocations.length < sorted.length ? { family, allocations } : undefined;
}

/** How many allocations are ready, and (when it goes without its optional family) why not all: one sentence, without its period. */
function readyText(total: number, without: ReturnType<typeof goneWithout>): string {
  if (!without) return `All ${total} IPAllocation(s) are ready`;
  const why = without.allocations.map((a) => `IPAllocation ${a.metadata.name}: ${(findCondition(a.status?.conditions, COND_READY)?.message ?? 'not allocated').replace(/\.$/, '')}`);
  return `${total - without.allocations.length} of ${total} IPAllocation(s) are ready; the Service has no ${without.family} address, which ipFamilyPolicy PreferDualStack allows (${why.join('; ')})`;
}

/**
 * Why a Service is (not) ready yet: the first allocation that is not, with its reason (a failed
 * one of its optional family does not count while it has another: see goneWithout).
 */
export function serviceCondition(allocations: readonly IPAllocation[], ctx: ServiceConditionContext = {}): Omit<Condition, 'lastTransitionTime'> {
  if (ctx.routerError) return { type: SERVICE_CONDITION, status: 'False', reason: 'BackendError', message: ctx.routerError };
  if (allocations.length === 0 && ctx.nothingValid !== undefined) {
    return { type: SERVICE_CONDITION, status: 'False', reason: 'AnnotationInvalid', message: `The Service asks for no address that can be allocated: ${ctx.nothingValid}` };
  }
  if (allocations.length === 0) return { type: SERVICE_CONDITION, status: 'False', reason: 'Pending', message: 'No IPAllocation exists for this Service yet.' };
  const sorted = [...allocations].sort((x, y) => x.metadata.name.localeCompare(y.metadata.name));
  const without = goneWithout(sorted, ctx.optionalFamily);
  const waiting = sorted.find((a) => !isReady(a) && !without?.allocations.includes(a));
  const ignored = ctx.ignoredPorts === undefined ? '' : ` ${ctx.ignoredPorts}`;
  if (!waiting && ctx.lbDisabled) {
    return {
      type: SERVICE_CONDITION, status: 'True', reason: 'LoadBalancingDisabled',
      message: `${readyText(allocations.length, without)}; load balancing is switched off (${ANNOTATION_LB_ENABLED}: "false"), so no ingress is published.`,
    };
  }
  if (!waiting) return { type: SERVICE_CONDITION, status: 'True', reason: without ? REASON_OPTIONAL_FAMILY_UNAVAILABLE : 'Ready', message: `${readyText(allocations.length, without)}.${ignored}` };
  const ready = findCondition(waiting.status?.conditions, COND_READY);
  return {
    type: SERVICE_CONDITION, status: 'False', reason: ready?.reason ?? 'Pending',
    message: `IPAllocation ${waiting.metadata.name} is not ready: ${ready?.message ?? 'not allocated yet.'}`,
  };
}

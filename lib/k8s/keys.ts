/**
 * Every label, annotation and finalizer key MikroLB reads or writes, in one place (as MetalLB's
 * values.go), with the selectors built from them.
 */

/** MikroLB's API group, the prefix of its annotations (kept here, not with the CRD schemas, so the bridge need not load those). */
export const GROUP = 'mikrolb.de';

/** Held by a Service while MikroLB still has router entries or allocations for it. */
export const FINALIZER = 'mikrolb.de/finalizer';

/** Labels on an IPAllocation naming the Service it belongs to. */
export const LABEL_SERVICE_NAMESPACE = 'mikrolb.de/service-namespace';
export const LABEL_SERVICE_NAME = 'mikrolb.de/service-name';
export const LABEL_SERVICE_UID = 'mikrolb.de/service-uid';

/** Labels on an IPAddressClaim: the pool it was claimed from, and the allocation holding it. */
export const LABEL_CLAIM_POOL = 'mikrolb.de/pool';
export const LABEL_CLAIM_ALLOCATION_UID = 'mikrolb.de/allocation-uid';

/** The label selector of the claims held from a pool. */
export const claimsOfPool = (pool: string): string => `${LABEL_CLAIM_POOL}=${pool}`;

/** The label selector of the claims held for a Service (by its allocations). */
export const claimsOfService = (uid: string): string => `${LABEL_SERVICE_UID}=${uid}`;

/** The label selector of the claims an allocation holds (normally one). */
export const claimsOfAllocation = (uid: string): string => `${LABEL_CLAIM_ALLOCATION_UID}=${uid}`;

/**
 * A label on the claim of an address the router itself holds that an auto-assigned allocation
 * keeps because no other address of its pools was free: a pool that has a free address again
 * wakes its holders (they would otherwise wait for the resync: the freed address retries only
 * allocations without one).
 */
export const LABEL_CLAIM_ROUTER_HELD = 'mikrolb.de/router-held';
export const claimsRouterHeld = `${LABEL_CLAIM_ROUTER_HELD}=true`;

/** Kubernetes' label on an EndpointSlice naming its Service. */
export const LABEL_SLICE_SERVICE_NAME = 'kubernetes.io/service-name';

/** The label selector of a Service's allocations. */
export const allocationsOfService = (uid: string): string => `${LABEL_SERVICE_UID}=${uid}`;

/** The label selector of a Service's EndpointSlices (in its namespace). */
export const slicesOfService = (name: string): string => `${LABEL_SLICE_SERVICE_NAME}=${name}`;

/** The Service an allocation's labels name, when they name one. */
export function serviceOfLabels(labels: Readonly<Record<string, string>> | undefined): { namespace: string; name: string } | undefined {
  const namespace = labels?.[LABEL_SERVICE_NAMESPACE];
  const name = labels?.[LABEL_SERVICE_NAME];
  return namespace && name ? { namespace, name } : undefined;
}

/** Service annotations MikroLB reads (the same keys as upstream MikroLB). */
export const ANNOTATION_LB_ENABLED = 'mikrolb.de/load-balancer-enabled';
export const ANNOTATION_LB_IPS = 'mikrolb.de/load-balancer-ips';
export const ANNOTATION_LB_POOLS = 'mikrolb.de/load-balancer-pools';
export const ANNOTATION_SNAT_ENABLED = 'mikrolb.de/snat-enabled';
export const ANNOTATION_SNAT_IPS = 'mikrolb.de/snat-ips';
export const SNAT_USE_LB_IPS = 'use-lb-ips';

/** MetalLB's explicit addresses, honoured on Services of our class (see `lbAddressSource`). */
export const ANNOTATION_METALLB_IPS = 'metallb.io/loadBalancerIPs';
/** MetalLB's older spelling of the same annotation. */
export const ANNOTATION_METALLB_IPS_LEGACY = 'metallb.universe.tf/loadBalancerIPs';
/** MetalLB's pool annotations (and older spelling): not read, which a Service that sets one is told. */
export const METALLB_POOL_ANNOTATIONS = ['metallb.io/address-pool', 'metallb.universe.tf/address-pool'] as const;
/** The deprecated Service field, named as problems and docs name it. */
export const FIELD_LOAD_BALANCER_IP = 'spec.loadBalancerIP';

/** Services with the same key may share an address when their ports do not overlap. */
export const ANNOTATION_ALLOW_SHARED_IP = 'mikrolb.de/allow-shared-ip';
/** MetalLB's key for the same, honoured too. */
export const ANNOTATION_METALLB_ALLOW_SHARED_IP = 'metallb.io/allow-shared-ip';
/** MetalLB's older spelling of the same, which MetalLB still reads: honoured too. */
export const ANNOTATION_METALLB_ALLOW_SHARED_IP_LEGACY = 'metallb.universe.tf/allow-shared-ip';

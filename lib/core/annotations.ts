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
/** The deprecated Service field, named as problems and docs name it. */
export const FIELD_LOAD_BALANCER_IP = 'spec.loadBalancerIP';

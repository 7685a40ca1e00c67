/** Service annotations MikroLB reads (the same keys as upstream MikroLB). */
export const ANNOTATION_LB_ENABLED = 'mikrolb.de/load-balancer-enabled';
export const ANNOTATION_LB_IPS = 'mikrolb.de/load-balancer-ips';
export const ANNOTATION_LB_POOLS = 'mikrolb.de/load-balancer-pools';
export const ANNOTATION_SNAT_ENABLED = 'mikrolb.de/snat-enabled';
export const ANNOTATION_SNAT_IPS = 'mikrolb.de/snat-ips';
export const SNAT_USE_LB_IPS = 'use-lb-ips';

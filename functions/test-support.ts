import type { RouterState } from '../lib/router/state.js';

/**
 * Fixtures of the tests that run allocate and program against the simulator: a small office's
 * router and one Service behind a pool on its LAN.
 */

/** The router: the LAN on ether1, whose 192.0.2.1 is the router's own address; pods behind bridge. */
export const LAN_ROUTER: RouterState = {
  version: '7.19.1',
  menus: {
    '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }, { '.id': '*2', name: 'bridge', type: 'bridge' }],
    '/ip/address': [{ '.id': '*10', address: '192.0.2.1/24', interface: 'ether1' }, { '.id': '*11', address: '10.0.0.1/24', interface: 'bridge' }],
    '/ip/route': [{ '.id': '*12', 'dst-address': '0.0.0.0/0', gateway: '192.0.2.254' }],
  },
};

export interface LanService {
  uid: string;
  namespace: string;
  name: string;
  port: { name: string; port: number; protocol: 'TCP' | 'UDP'; targetPort: number };
  /** The pool `lan`'s addresses, and its interface (none: found by route). */
  pool: { addresses: string[]; interfaceName?: string };
  annotations?: Record<string, string>;
}

/** The pool `lan` (converted to claims, with our finalizer), the Service (ours, with our finalizer) and a slice with one ready endpoint, 10.0.0.66. */
export function lanServiceObjects(s: LanService): object[] {
  return [
    { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', uid: 'pool-uid', creationTimestamp: '2026-01-01T00:00:00Z', finalizers: ['mikrolb.de/finalizer'] },
      spec: { ipFamily: 'IPv4', addresses: s.pool.addresses, autoAssign: true, advertise: true, ...(s.pool.interfaceName ? { interfaceName: s.pool.interfaceName } : {}) }, status: { claimsAdopted: true } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: s.name, namespace: s.namespace, uid: s.uid, finalizers: ['mikrolb.de/finalizer'], ...(s.annotations ? { annotations: s.annotations } : {}) },
      spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [s.port] } },
    { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${s.name}-1`, namespace: s.namespace, uid: 'es-uid', labels: { 'kubernetes.io/service-name': s.name } },
      addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.66'], conditions: { ready: true } }], ports: [{ name: s.port.name, port: s.port.targetPort, protocol: s.port.protocol }] },
  ];
}

import { memoryPort, type MemoryPort, type MemoryPortOptions } from '../lib/k8s/memory.js';
import type { KubePort } from '../lib/k8s/port.js';
import { portAs, type Account } from '../lib/k8s/rbac/test-support.js';
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

/** An in-memory API server a function reaches as its ServiceAccount (deploy/base/rbac-<account>.yaml). */
export interface AccountPort extends MemoryPort {
  /** The function's view: a request its Role does not grant is refused (403), as in a cluster. */
  port: KubePort;
  /**
   * The same state with every right: what the test itself does (seed, change as a user or an
   * operator would, stage a race by hand, read back what to assert).
   */
  admin: KubePort;
  /** The same state as another component's ServiceAccount (a function racing this one). */
  as(account: Account): KubePort;
}

/**
 * The memory port behind the RBAC that deploy/ gives `account`: how every function's unit test
 * runs it, so that a request its Role does not grant fails here and not first in a cluster.
 */
export function memoryPortAs(account: Account, opts: MemoryPortOptions = {}): AccountPort {
  const kube = memoryPort(opts);
  return { ...kube, port: portAs(kube.port, account), admin: kube.port, as: (other) => portAs(kube.port, other) };
}

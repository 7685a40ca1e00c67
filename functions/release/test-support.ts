import { objectInvocation, resyncInvocation } from '../../lib/events/cloudevent.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { silentLogger } from '../../lib/log/logger.js';
import type { RouterPort } from '../../lib/router/port.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createAllocate } from '../allocate/handler.js';
import { createProgram } from '../program/handler.js';
import { LAN_ROUTER, memoryPortAs, type AccountPort } from '../test-support.js';

/** What the release tests that count reads share: N Services of one pool, allocated and programmed, and a counting port. */
export const NOW = (): Date => new Date('2026-01-01T00:00:00Z');
export const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const RETRY = { attempts: 5, pause: async () => undefined };
export const COMMON = { classes: CLASSES, now: NOW, log: silentLogger(), retry: RETRY };

const objects = (n: number): object[] => [
  { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', finalizers: ['mikrolb.de/finalizer'] },
    spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true, interfaceName: 'ether1' }, status: { claimsAdopted: true } },
  ...Array.from({ length: n }, (_, i) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: `web-${i}`, namespace: 'shop', uid: `uid-web-${i}` },
    spec: { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass, ipFamilies: ['IPv4'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] } })),
];

/** Services `web-0` … `web-{n-1}` in namespace `shop`, each allocated from pool `lan` and programmed on the router. */
export async function programmedServices(n: number): Promise<{ kube: AccountPort; router: ReturnType<typeof memoryRouter> }> {
  const kube = memoryPortAs('release', { now: NOW, objects: objects(n) });
  const router = memoryRouter(structuredClone(LAN_ROUTER));
  const allocate = createAllocate({ ...COMMON, kube: kube.as('allocate') });
  for (let i = 0; i < n; i++) {
    const outcome = await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: `web-${i}` }));
    if (outcome.kind !== 'done') throw new Error(`allocating web-${i}: ${outcome.kind}`);
  }
  const programmed = await createProgram({ ...COMMON, kube: kube.as('program'), router })(resyncInvocation());
  if (programmed.kind !== 'done') throw new Error(`programming: ${programmed.kind}`);
  return { kube, router };
}

export interface Cost {
  /** Every request to the API server. */
  requests: number;
  /** Lists of a whole kind (no label or field selector). */
  wholeLists: number;
  /** Reads of whole router menus. */
  routerReads: number;
  /** Lists of claims by a label (an allocation's, a Service's, a pool's). */
  selectedClaimLists: number;
}

/** The ports, counting into `cost` what goes through them. */
export function counting(port: KubePort, router: RouterPort): { kube: KubePort; router: RouterPort; cost: Cost } {
  const cost: Cost = { requests: 0, wholeLists: 0, routerReads: 0, selectedClaimLists: 0 };
  const count = <A extends unknown[], R>(f: (...args: A) => Promise<R>) => (...args: A): Promise<R> => {
    cost.requests++;
    return f(...args);
  };
  const kube: KubePort = {
    get: count(port.get), create: count(port.create), replace: count(port.replace), replaceStatus: count(port.replaceStatus), remove: count(port.remove), recordEvent: count(port.recordEvent),
    list: (kind, opts) => {
      cost.requests++;
      if (!opts?.labelSelector && !opts?.fieldSelector) cost.wholeLists++;
      else if (kind === 'IPAddressClaim') cost.selectedClaimLists++;
      return port.list(kind, opts);
    },
  };
  return { kube, router: { ...router, readMany: (menus) => (cost.routerReads++, router.readMany(menus)) }, cost };
}

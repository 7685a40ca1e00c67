import { describe, expect, it } from 'vitest';
import { objectInvocation, resyncInvocation } from '../../lib/events/cloudevent.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { withoutFinalizer } from '../../lib/k8s/finalizer.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import type { RouterPort } from '../../lib/router/port.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createAllocate } from '../allocate/handler.js';
import { createProgram } from '../program/handler.js';
import { createRelease } from './handler.js';
import { LAN_ROUTER, memoryPortAs } from '../test-support.js';

/**
 * After a mass deletion that release never saw (the Services' finalizers taken off by hand, or
 * the controller down while they went), one resync collects every allocation left behind, or
 * releases those found being deleted. Each costs its own reads and writes; the lists of whole
 * kinds and of their claims and the reads of the whole router are shared: a list of every
 * Service, allocation and router entry per allocation cost O(N²) (1,000 orphans: 2,000 lists of
 * 1,000 objects and 1,000 reads of 1,000 Services' entries), and each listed its own claims.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const RETRY = { attempts: 5, pause: async () => undefined };

const objects = (n: number): object[] => [
  { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', finalizers: ['mikrolb.de/finalizer'] },
    spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true, interfaceName: 'ether1' }, status: { claimsAdopted: true } },
  ...Array.from({ length: n }, (_, i) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: `web-${i}`, namespace: 'shop', uid: `uid-web-${i}` },
    spec: { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass, ipFamilies: ['IPv4'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] } })),
];

interface Cost {
  /** Every request to the API server. */
  requests: number;
  /** Lists of a whole kind (no label or field selector). */
  wholeLists: number;
  /** Reads of whole router menus. */
  routerReads: number;
  /** Lists of claims by a label (an allocation's, a Service's, a pool's). */
  selectedClaimLists: number;
}

/**
 * N Services allocated and programmed, then deleted with their finalizers taken off by hand (and,
 * `allocationsDeleted`, their allocations deleted too, held by our finalizer): what one resync of
 * release costs.
 */
async function collect(n: number, allocationsDeleted = false): Promise<Cost> {
  const kube = memoryPortAs('release', { now: NOW, objects: objects(n) });
  const router = memoryRouter(structuredClone(LAN_ROUTER));
  const common = { classes: CLASSES, now: NOW, log: silentLogger(), retry: RETRY };
  const allocate = createAllocate({ ...common, kube: kube.as('allocate') });
  for (let i = 0; i < n; i++) expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: `web-${i}` }))).kind).toBe('done');
  expect((await createProgram({ ...common, kube: kube.as('program'), router })(resyncInvocation())).kind).toBe('done');
  expect((router.state().menus['/ip/address'] ?? []).filter((e) => e.comment?.startsWith('mikrolb:'))).toHaveLength(n);
  for (let i = 0; i < n; i++) {
    const svc = ServiceSchema.parse(await kube.admin.get('Service', `web-${i}`, 'shop'));
    await kube.admin.replace('Service', withoutFinalizer(svc));
    await kube.admin.remove('Service', `web-${i}`, 'shop');
  }
  if (allocationsDeleted) for (const a of await kube.admin.list('IPAllocation')) await kube.admin.remove('IPAllocation', IPAllocationSchema.parse(a).metadata.name);

  const cost: Cost = { requests: 0, wholeLists: 0, routerReads: 0, selectedClaimLists: 0 };
  const count = <F extends (...args: never[]) => Promise<unknown>>(f: F): F => ((...args: Parameters<F>) => (cost.requests++, f(...args))) as F;
  const port = kube.port;
  const counted: KubePort = {
    get: count(port.get), create: count(port.create), replace: count(port.replace), replaceStatus: count(port.replaceStatus), remove: count(port.remove), recordEvent: count(port.recordEvent),
    list: (kind, opts) => {
      cost.requests++;
      if (!opts?.labelSelector && !opts?.fieldSelector) cost.wholeLists++;
      else if (kind === 'IPAddressClaim') cost.selectedClaimLists++;
      return port.list(kind, opts);
    },
  };
  const countedRouter: RouterPort = { ...router, readMany: (menus) => (cost.routerReads++, router.readMany(menus)) };
  const release = createRelease({ ...common, kube: counted, router: countedRouter, claimGraceMs: 60_000 });
  const outcome = await release(resyncInvocation());
  expect(outcome.kind).toBe('done');

  // everything of the Services went: allocations, claims, router entries
  expect(await kube.admin.list('IPAllocation')).toEqual([]);
  expect(await kube.admin.list('IPAddressClaim')).toEqual([]);
  const ours = Object.values(router.state().menus).flat().filter((e) => e.comment?.includes(':svc='));
  expect(ours).toEqual([]);
  return cost;
}

describe('a resync collecting many orphaned allocations', () => {
  it.each([
    ['left as they were', false],
    ['being deleted', true],
  ])('lists each kind (the claims too) and reads the router a fixed number of times, whatever the number of orphans (allocations %s)', async (_, deleted) => {
    const few = await collect(5, deleted);
    const many = await collect(50, deleted);
    const shared = (c: Cost): Omit<Cost, 'requests'> => ({ wholeLists: c.wholeLists, routerReads: c.routerReads, selectedClaimLists: c.selectedClaimLists });
    expect(shared(many)).toEqual(shared(few));
    // per orphan: its own reads and writes (the allocation, its claim, its finalizer), a few each
    expect((many.requests - few.requests) / 45).toBeLessThanOrEqual(7);
  });
});

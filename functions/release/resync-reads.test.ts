import { describe, expect, it } from 'vitest';
import { objectInvocation, resyncInvocation } from '../../lib/events/cloudevent.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { silentLogger } from '../../lib/log/logger.js';
import type { RouterPort } from '../../lib/router/port.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createAllocate } from '../allocate/handler.js';
import { createProgram } from '../program/handler.js';
import { createRelease } from './handler.js';
import { LAN_ROUTER, memoryPortAs } from '../test-support.js';

/**
 * Services deleted while the controller was down (held by our finalizer), and their pool
 * deleted with them: one resync of release takes them all apart. Each Service costs its own
 * reads and writes; the lists of whole kinds, the reads of the whole router and the looks at the
 * pool are shared (gc-reads.test.ts proves the same for Services gone for good): a look at the
 * pool after each freed allocation listed every allocation (N Services: N lists of N), and each
 * Service's router entries were taken off from a whole read of its own.
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

interface Cost { requests: number; wholeLists: number; routerReads: number }

/** N Services allocated and programmed, then deleted but the first `live` (and, `poolDeleted`, their pool first). */
async function deleted(n: number, poolDeleted: boolean, live = 0) {
  const kube = memoryPortAs('release', { now: NOW, objects: objects(n) });
  const router = memoryRouter(structuredClone(LAN_ROUTER));
  const common = { classes: CLASSES, now: NOW, log: silentLogger(), retry: RETRY };
  const allocate = createAllocate({ ...common, kube: kube.as('allocate') });
  for (let i = 0; i < n; i++) expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: `web-${i}` }))).kind).toBe('done');
  expect((await createProgram({ ...common, kube: kube.as('program'), router })(resyncInvocation())).kind).toBe('done');
  if (poolDeleted) await kube.admin.remove('IPPool', 'lan');
  for (let i = live; i < n; i++) await kube.admin.remove('Service', `web-${i}`, 'shop');
  return { kube, router, common };
}

/** What one resync of release costs after `deleted`. */
async function resync(n: number, poolDeleted: boolean, live = 0): Promise<Cost> {
  const { kube, router, common } = await deleted(n, poolDeleted, live);
  const cost: Cost = { requests: 0, wholeLists: 0, routerReads: 0 };
  const count = <F extends (...args: never[]) => Promise<unknown>>(f: F): F => ((...args: Parameters<F>) => (cost.requests++, f(...args))) as F;
  const port = kube.port;
  const counted: KubePort = {
    get: count(port.get), create: count(port.create), replace: count(port.replace), replaceStatus: count(port.replaceStatus), remove: count(port.remove), recordEvent: count(port.recordEvent),
    list: (kind, opts) => { cost.requests++; if (!opts?.labelSelector && !opts?.fieldSelector) cost.wholeLists++; return port.list(kind, opts); },
  };
  const countedRouter: RouterPort = { ...router, readMany: (menus) => (cost.routerReads++, router.readMany(menus)) };
  const release = createRelease({ ...common, kube: counted, router: countedRouter, claimGraceMs: 60_000 });
  expect((await release(resyncInvocation())).kind).toBe('done');

  // everything of the deleted Services went, and the pool with them once nothing held it
  expect(await kube.admin.list('Service')).toHaveLength(live);
  expect(await kube.admin.list('IPAllocation')).toHaveLength(live);
  expect(await kube.admin.list('IPAddressClaim')).toHaveLength(live);
  expect(await kube.admin.list('IPPool')).toHaveLength(poolDeleted && live === 0 ? 0 : 1);
  expect(Object.values(router.state().menus).flat().filter((e) => e.comment?.includes(':svc=') && !e.comment.includes(':svc=uid-web-0'))).toEqual([]);
  return cost;
}

describe('a resync releasing many Services deleted while the controller was down', () => {
  it('looks at their pool being deleted a fixed number of times, whatever the number of Services', async () => {
    const few = await resync(1, true);
    const many = await resync(20, true);
    expect(many.wholeLists).toBe(few.wholeLists);
  });

  it('reads the router whole a fixed number of times, whatever the number of Services', async () => {
    const few = await resync(1, false);
    const many = await resync(20, false);
    expect({ wholeLists: many.wholeLists, routerReads: many.routerReads }).toEqual({ wholeLists: few.wholeLists, routerReads: few.routerReads });
    // per Service: its own reads and writes (the Service, its allocation, its claim, their finalizers), a few each
    expect((many.requests - few.requests) / 19).toBeLessThanOrEqual(8);
  });

  it('keeps the pool (and its finalizer) while a Service that lives on holds one of its addresses', async () => {
    await resync(20, true, 1); // asserts the pool is still there, with the live Service's allocation and claim
  });

  it('keeps every Service, allocation and claim while the router cannot be read', async () => {
    const { kube, router, common } = await deleted(3, false);
    const down: RouterPort = { ...router, readMany: () => Promise.reject(new Error('connection refused')) };
    const release = createRelease({ ...common, kube: kube.port, router: down, claimGraceMs: 60_000 });
    expect((await release(resyncInvocation())).kind).toBe('retry');
    expect(await kube.admin.list('Service')).toHaveLength(3);
    expect(await kube.admin.list('IPAllocation')).toHaveLength(3);
    expect(await kube.admin.list('IPAddressClaim')).toHaveLength(3);
  });
});

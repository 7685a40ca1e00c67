import { describe, expect, it } from 'vitest';
import { objectInvocation, resyncInvocation } from '../../lib/events/cloudevent.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createRelease } from '../release/handler.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * An operator's reservation (an IPAllocation without a Service) carries our finalizer, as a
 * Service's allocations do: deleting it reaches release, which frees its address at once.
 * Without it the claim outlived the reservation until the resync's garbage collection.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const RETRY = { attempts: 5, pause: async () => undefined };
const POOL = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: false }, status: { claimsAdopted: true },
};
const RESERVATION = { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'reserved-gw' }, spec: { address: '192.0.2.1' } };

function setup(objects: unknown[]) {
  const kube = memoryPortAs('allocate', { objects, now: NOW });
  const allocate = createAllocate({ kube: kube.port, now: NOW, log: silentLogger(), retry: RETRY, classes: CLASSES });
  const release = createRelease({ kube: kube.as('release'), router: memoryRouter({ version: '7.19.1', menus: {} }), classes: CLASSES, now: NOW, log: silentLogger(), retry: RETRY, claimGraceMs: 60_000 });
  const reservation = async () => {
    const o = await kube.admin.get('IPAllocation', 'reserved-gw');
    return o === undefined ? undefined : IPAllocationSchema.parse(o);
  };
  return { kube, allocate, release, reservation };
}

describe('an operator reservation', () => {
  it('gets our finalizer with its address, and its deletion frees the address at once', async () => {
    const c = setup([POOL, RESERVATION]);
    expect((await c.allocate(objectInvocation('add', { kind: 'IPAllocation', name: 'reserved-gw' }))).kind).toBe('done');
    expect(await c.reservation()).toMatchObject({ metadata: { finalizers: ['mikrolb.de/finalizer'] }, status: { phase: 'Allocated', address: '192.0.2.1' } });
    expect(await c.kube.admin.list('IPAddressClaim')).toHaveLength(1);
    await c.kube.admin.remove('IPAllocation', 'reserved-gw');
    expect((await c.reservation())?.metadata.deletionTimestamp).toBeDefined();
    expect((await c.release(objectInvocation('update', { kind: 'IPAllocation', name: 'reserved-gw' }))).kind).toBe('done');
    expect(await c.reservation()).toBeUndefined();
    expect(await c.kube.admin.list('IPAddressClaim')).toEqual([]);
  });

  it('allocated by an earlier version (no finalizer) gets it on the next resync, its address kept', async () => {
    const c = setup([POOL, { ...RESERVATION, metadata: { name: 'reserved-gw', uid: 'res-uid' }, status: { phase: 'Allocated', address: '192.0.2.1', observedGeneration: 1, advertised: false } },
      { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: '192.0.2.1', labels: { 'mikrolb.de/pool': 'lan', 'mikrolb.de/allocation-uid': 'res-uid' } },
        spec: { address: '192.0.2.1', poolName: 'lan', allocationName: 'reserved-gw', allocationUID: 'res-uid' } }]);
    expect((await c.reservation())?.metadata.finalizers).toBeUndefined();
    expect((await c.allocate(resyncInvocation())).kind).toBe('done');
    expect(await c.reservation()).toMatchObject({ metadata: { finalizers: ['mikrolb.de/finalizer'] }, status: { phase: 'Allocated', address: '192.0.2.1' } });
    expect((await c.kube.admin.list('IPAddressClaim')).map((o) => JSON.stringify(o))).toEqual([expect.stringContaining('"allocationUID":"res-uid"')]);
  });
});

/**
 * A reservation deleted by hand (its finalizer taken off) leaves its claim and its
 * advertisement, tagged with its uid. Release takes both off when the deletion reaches it as
 * the claim (the bridge's route); allocate, meeting the claim first (a Service asking for the
 * address by name), freed the claim and left the advertisement: release then found the claim
 * the Service's, and the Service's own advertisement of the address was refused as a duplicate
 * until the resync. Allocate now leaves a reservation's claim to release.
 */
describe('an operator reservation deleted by hand', () => {
  it("is freed by release, its advertisement taken off, before a Service asking for its address gets it", async () => {
    const kube = memoryPortAs('allocate', { objects: [POOL, RESERVATION, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'pinned', namespace: 'shop', annotations: { 'mikrolb.de/load-balancer-ips': '192.0.2.1' } },
      spec: { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass, ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] } }], now: NOW });
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: silentLogger(), retry: RETRY, classes: CLASSES });
    const run = async (change: 'add' | 'update', ref: Parameters<typeof objectInvocation>[1]) => expect((await allocate(objectInvocation(change, ref))).kind).toBe('done');
    await run('add', { kind: 'IPAllocation', name: 'reserved-gw' });
    const reserved = IPAllocationSchema.parse(await kube.admin.get('IPAllocation', 'reserved-gw'));
    const router = memoryRouter({ version: '7.19.1', menus: {
      '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }],
      '/ip/address': [{ '.id': '*5', address: '192.0.2.1/32', interface: 'ether1', comment: `mikrolb:default:svc=${reserved.metadata.uid ?? ''}:adv:192.0.2.1` }],
    } });
    const release = createRelease({ kube: kube.as('release'), router, classes: CLASSES, now: NOW, log: silentLogger(), retry: RETRY, claimGraceMs: 60_000 });
    await run('add', { kind: 'Service', namespace: 'shop', name: 'pinned' });
    const pinned = async () => (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o)).find((a) => a.metadata.labels?.['mikrolb.de/service-name'] === 'pinned');
    expect((await pinned())?.status?.phase).toBe('Failed');

    await kube.admin.replace('IPAllocation', { ...reserved, metadata: { ...reserved.metadata, finalizers: [] } });
    await kube.admin.remove('IPAllocation', 'reserved-gw');
    // the Service's next event meets the claim first; then the bridge's deliveries: the claim to
    // release (the reservation's deletion), the pool to allocate (the claim's deletion)
    await run('update', { kind: 'Service', namespace: 'shop', name: 'pinned' });
    expect((await release(objectInvocation('update', { kind: 'IPAddressClaim', name: '192.0.2.1' }))).kind).toBe('done');
    await run('update', { kind: 'IPPool', name: 'lan' });
    expect([(await pinned())?.status?.phase, (await pinned())?.status?.address]).toEqual(['Allocated', '192.0.2.1']);
    expect((router.state().menus['/ip/address'] ?? []).map((e) => e.comment)).toEqual([]);
  });
});

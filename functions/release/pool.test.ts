import { describe, expect, it } from 'vitest';
import { objectInvocation, resyncInvocation } from '../../lib/events/cloudevent.js';
import { answerOf } from '../../lib/events/outcome.js';
import { IPPoolSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { poolMirror, type PoolsView } from '../../lib/k8s/mirror.js';
import { createRelease } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A pool being deleted while an allocation still holds one of its addresses waits on its
 * users: the run is blocked (a 2xx, never retried), the pool says why, and once the holder is
 * gone the next run finishes the deletion.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const POOL = { kind: 'IPPool', name: 'lan' } as const;

async function setup(pools?: PoolsView) {
  const kube = memoryPortAs('release', {
    now: NOW,
    objects: [
      { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', finalizers: ['mikrolb.de/finalizer'] },
        spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'] },
        status: { allocations: [{ address: '192.0.2.20', allocationName: 'reserved-gw', allocationUID: 'uid-gw' }] } },
      { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'reserved-gw', uid: 'uid-gw' },
        spec: { address: '192.0.2.20' }, status: { phase: 'Allocated', address: '192.0.2.20', advertised: false } },
    ],
  });
  const release = createRelease({
    kube: kube.port, router: memoryRouter({ version: '7.19.1', menus: {} }), classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
    now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, claimGraceMs: 60_000,
    ...(pools ? { pools } : {}),
  });
  await kube.admin.remove('IPPool', 'lan');
  return { kube, release };
}

describe('release of a pool whose addresses are still held', () => {
  it('is blocked on its users, answered 2xx, and the pool says which allocation holds it', async () => {
    const { kube, release } = await setup();
    const outcome = await release(objectInvocation('delete', POOL));
    expect(outcome).toMatchObject({ kind: 'blocked', reason: 'AddressesInUse', message: expect.stringContaining('reserved-gw: 192.0.2.20') });
    expect(answerOf(outcome).status).toBe(200);
    const pool = IPPoolSchema.parse(await kube.admin.get('IPPool', 'lan'));
    expect(pool.metadata.finalizers).toEqual(['mikrolb.de/finalizer']);
    expect(pool.status?.conditions?.find((c) => c.type === 'DeletionBlocked')).toMatchObject({ status: 'True', reason: 'AddressesInUse' });
  });

  it('a resync that meets the waiting pool is done (the pool is one of many things it looked at)', async () => {
    const { release } = await setup();
    expect((await release(resyncInvocation())).kind).toBe('done');
  });

  it('finishes the deletion once the holder is gone', async () => {
    const { kube, release } = await setup();
    await kube.admin.remove('IPAllocation', 'reserved-gw');
    expect((await release(objectInvocation('update', POOL))).kind).toBe('done');
    expect(await kube.admin.get('IPPool', 'lan')).toBeUndefined();
  });
});

describe('with the controller’s copy of the pools', () => {
  it('a pool the copy sees alive needs nothing; once the copy sees it deleting, it is handled as without one', async () => {
    const mirror = poolMirror();
    const { kube, release } = await setup(mirror);
    const deleting = IPPoolSchema.parse(await kube.admin.get('IPPool', 'lan'));
    const { deletionTimestamp: _, ...alive } = deleting.metadata;
    const run = mirror.relist();
    run.page([{ ...deleting, metadata: alive }]); // as the watch saw it before the deletion
    run.finish();
    expect((await release(objectInvocation('update', POOL))).kind).toBe('done');
    expect(IPPoolSchema.parse(await kube.admin.get('IPPool', 'lan')).status?.conditions).toBeUndefined();
    mirror.seen(deleting); // the deletion's event reaches the copy before it wakes release
    expect(await release(objectInvocation('update', POOL))).toMatchObject({ kind: 'blocked', reason: 'AddressesInUse' });
  });
});

describe('a pool being deleted while Services share one of its addresses', () => {
  it('names every holder of the shared address, not only the claim\'s first', async () => {
    const holders = [
      { allocationName: 'ip-dns-tcp', allocationUID: 'uid-tcp', ports: [{ protocol: 'TCP', port: 53 }] },
      { allocationName: 'ip-dns-udp', allocationUID: 'uid-udp', ports: [{ protocol: 'UDP', port: 53 }] },
    ];
    const kube = memoryPortAs('release', {
      now: NOW,
      objects: [
        { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', finalizers: ['mikrolb.de/finalizer'] },
          spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'] }, status: { claimsAdopted: true } },
        { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: '192.0.2.53', labels: { 'mikrolb.de/pool': 'lan' } },
          spec: { address: '192.0.2.53', poolName: 'lan', allocationName: 'ip-dns-tcp', allocationUID: 'uid-tcp', sharingKey: 'dns', holders } },
        ...holders.map((h) => ({ apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: h.allocationName, uid: h.allocationUID },
          spec: { address: '192.0.2.53' }, status: { phase: 'Programmed', address: '192.0.2.53', advertised: true } })),
      ],
    });
    const release = createRelease({
      kube: kube.port, router: memoryRouter({ version: '7.19.1', menus: {} }), classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
      now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, claimGraceMs: 60_000,
    });
    await kube.admin.remove('IPPool', 'lan');
    expect(await release(objectInvocation('delete', POOL))).toMatchObject({
      kind: 'blocked', reason: 'AddressesInUse',
      message: '2 IPAllocation(s) still hold addresses from this pool (ip-dns-tcp: 192.0.2.53, ip-dns-udp: 192.0.2.53); delete their Services or allocations to finish deleting the pool.',
    });
  });
});

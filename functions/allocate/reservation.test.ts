import { describe, expect, it } from 'vitest';
import { objectInvocation, resyncInvocation } from '../../lib/events/cloudevent.js';
import { memoryPort } from '../../lib/k8s/memory.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createRelease } from '../release/handler.js';
import { createAllocate } from './handler.js';

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
  const kube = memoryPort({ objects, now: NOW });
  const allocate = createAllocate({ kube: kube.port, now: NOW, log: silentLogger(), retry: RETRY, classes: CLASSES });
  const release = createRelease({ kube: kube.port, router: memoryRouter({ version: '7.19.1', menus: {} }), classes: CLASSES, now: NOW, log: silentLogger(), retry: RETRY, claimGraceMs: 60_000 });
  const reservation = async () => {
    const o = await kube.port.get('IPAllocation', 'reserved-gw');
    return o === undefined ? undefined : IPAllocationSchema.parse(o);
  };
  return { kube, allocate, release, reservation };
}

describe('an operator reservation', () => {
  it('gets our finalizer with its address, and its deletion frees the address at once', async () => {
    const c = setup([POOL, RESERVATION]);
    expect((await c.allocate(objectInvocation('add', { kind: 'IPAllocation', name: 'reserved-gw' }))).kind).toBe('done');
    expect(await c.reservation()).toMatchObject({ metadata: { finalizers: ['mikrolb.de/finalizer'] }, status: { phase: 'Allocated', address: '192.0.2.1' } });
    expect(await c.kube.port.list('IPAddressClaim')).toHaveLength(1);
    await c.kube.port.remove('IPAllocation', 'reserved-gw');
    expect((await c.reservation())?.metadata.deletionTimestamp).toBeDefined();
    expect((await c.release(objectInvocation('update', { kind: 'IPAllocation', name: 'reserved-gw' }))).kind).toBe('done');
    expect(await c.reservation()).toBeUndefined();
    expect(await c.kube.port.list('IPAddressClaim')).toEqual([]);
  });

  it('allocated by an earlier version (no finalizer) gets it on the next resync, its address kept', async () => {
    const c = setup([POOL, { ...RESERVATION, metadata: { name: 'reserved-gw', uid: 'res-uid' }, status: { phase: 'Allocated', address: '192.0.2.1', observedGeneration: 1, advertised: false } },
      { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: '192.0.2.1', labels: { 'mikrolb.de/pool': 'lan', 'mikrolb.de/allocation-uid': 'res-uid' } },
        spec: { address: '192.0.2.1', poolName: 'lan', allocationName: 'reserved-gw', allocationUID: 'res-uid' } }]);
    expect((await c.reservation())?.metadata.finalizers).toBeUndefined();
    expect((await c.allocate(resyncInvocation())).kind).toBe('done');
    expect(await c.reservation()).toMatchObject({ metadata: { finalizers: ['mikrolb.de/finalizer'] }, status: { phase: 'Allocated', address: '192.0.2.1' } });
    expect((await c.kube.port.list('IPAddressClaim')).map((o) => JSON.stringify(o))).toEqual([expect.stringContaining('"allocationUID":"res-uid"')]);
  });
});

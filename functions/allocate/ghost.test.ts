import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { ANNOTATION_LB_IPS } from '../../lib/k8s/keys.js';
import { IPAddressClaimSchema, IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { silentLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A claim whose holder's allocation is gone — deleted without its release, as when someone
 * takes the finalizer off by hand — holds its address for nobody. Before, it was freed only by
 * release's garbage collection at the next resync (minutes): the Service whose allocation was
 * deleted got a new one with another address, and a Service asking for the address by name
 * failed AddressAlreadyUsed meanwhile, though the claim named an allocation that no longer
 * exists. An allocation exists before any claim made for it, so a holder missing now is gone
 * for good, and allocate frees such a claim of a Service's when it meets it (an operator
 * reservation's is left to release, which takes the reservation's advertisement off first).
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const POOL = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'public-v4', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.16/28'], autoAssign: true, avoidBuggyIPs: true, advertise: true }, status: { claimsAdopted: true },
};
const service = (name: string, annotations: Record<string, string> = {}) => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop', annotations },
  spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
});

function setup(objects: unknown[]) {
  const kube = memoryPortAs('allocate', { objects: [POOL, ...objects], now: NOW });
  const allocate = createAllocate({ kube: kube.port, now: NOW, log: silentLogger(), retry: { attempts: 10, pause: async () => undefined }, classes: CLASSES });
  const allocationsOf = async (svc: string) => (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o)).filter((a) => a.metadata.labels?.['mikrolb.de/service-name'] === svc);
  /** Deleted as `kubectl edit` (finalizer off) and `kubectl delete` would: no release runs. */
  const deleteByHand = async (name: string): Promise<void> => {
    const a = IPAllocationSchema.parse(await kube.admin.get('IPAllocation', name));
    await kube.admin.replace('IPAllocation', { ...a, metadata: { ...a.metadata, finalizers: [] } });
    await kube.admin.remove('IPAllocation', name);
    expect(await kube.admin.get('IPAllocation', name)).toBeUndefined();
  };
  const claimOf = async (address: string) => {
    const raw = await kube.admin.get('IPAddressClaim', address);
    return raw ? IPAddressClaimSchema.parse(raw) : undefined;
  };
  const run = async (ref: Parameters<typeof objectInvocation>[1], change: 'add' | 'update' = 'update') => expect((await allocate(objectInvocation(change, ref))).kind).toBe('done');
  return { kube, allocationsOf, deleteByHand, claimOf, run };
}

describe('a claim whose holder is gone', () => {
  it('does not keep a Service from the address its deleted allocation held: the allocation made again gets it back', async () => {
    const t = setup([service('web')]);
    await t.run({ kind: 'Service', namespace: 'shop', name: 'web' }, 'add');
    const [first] = await t.allocationsOf('web');
    const address = first?.status?.address ?? expect.unreachable('no address');
    await t.deleteByHand(first?.metadata.name ?? '');
    // the deletion of a Service's allocation reaches allocate as its Service
    await t.run({ kind: 'Service', namespace: 'shop', name: 'web' });
    const [again] = await t.allocationsOf('web');
    expect(again?.metadata.uid).not.toBe(first?.metadata.uid);
    expect([again?.status?.phase, again?.status?.address]).toEqual(['Allocated', address]);
    expect((await t.claimOf(address))?.spec.allocationUID).toBe(again?.metadata.uid);
  });

  // an operator reservation's claim is left to release, which takes its advertisement off
  // first (see reservation.test.ts): its deletion reaches release as the claim
  it("is left to release when it is an operator reservation's: the Service asking for the address by name waits for its deletion", async () => {
    const reservation = { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'held-by-hand' }, spec: { address: '192.0.2.20' } };
    const t = setup([reservation, service('pinned', { [ANNOTATION_LB_IPS]: '192.0.2.20' })]);
    await t.run({ kind: 'IPAllocation', name: 'held-by-hand' });
    expect((await t.claimOf('192.0.2.20'))?.spec.allocationName).toBe('held-by-hand');
    await t.run({ kind: 'Service', namespace: 'shop', name: 'pinned' }, 'add');
    expect((await t.allocationsOf('pinned')).map((a) => a.status?.phase)).toEqual(['Failed']);

    await t.deleteByHand('held-by-hand');
    await t.run({ kind: 'IPPool', name: 'public-v4' });
    expect((await t.allocationsOf('pinned')).map((a) => a.status?.phase)).toEqual(['Failed']);
    expect((await t.claimOf('192.0.2.20'))?.spec.allocationName).toBe('held-by-hand');
    // freed by release, the claim's deletion reaches the pool, which tries its waiters again
    await t.kube.admin.remove('IPAddressClaim', '192.0.2.20');
    await t.run({ kind: 'IPPool', name: 'public-v4' });
    const [pinned] = await t.allocationsOf('pinned');
    expect([pinned?.status?.phase, pinned?.status?.address]).toEqual(['Allocated', '192.0.2.20']);
    expect((await t.claimOf('192.0.2.20'))?.spec.allocationUID).toBe(pinned?.metadata.uid);
  });

  it('is left alone while its holder lives: the Service asking for the address by name fails AddressAlreadyUsed', async () => {
    const reservation = { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'reserved' }, spec: { address: '192.0.2.20' } };
    const t = setup([reservation, service('pinned', { [ANNOTATION_LB_IPS]: '192.0.2.20' })]);
    await t.run({ kind: 'IPAllocation', name: 'reserved' });
    await t.run({ kind: 'Service', namespace: 'shop', name: 'pinned' }, 'add');
    await t.run({ kind: 'IPPool', name: 'public-v4' });
    const [pinned] = await t.allocationsOf('pinned');
    expect(pinned?.status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('AddressAlreadyUsed');
    expect((await t.claimOf('192.0.2.20'))?.spec.allocationName).toBe('reserved');
  });
});

describe('an allocation of a Service that is no longer ours', () => {
  /**
   * A Service that stopped being ours (here: its finalizer taken off by hand, then its type
   * changed to ClusterIP; or in the moment before release marks its allocations deleted) still
   * has its allocations. One that waits (Failed) is tried again on every pool event: it claimed
   * the address it waited for as soon as it was freed, for a Service that no longer wants it,
   * ahead of a Service of ours that asks for it too.
   */
  it('claims nothing when its address is freed; a Service of ours waiting for it gets it', async () => {
    const reservation = { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'reserved' }, spec: { address: '192.0.2.20' } };
    const t = setup([reservation, service('old', { [ANNOTATION_LB_IPS]: '192.0.2.20' }), service('next', { [ANNOTATION_LB_IPS]: '192.0.2.20' })]);
    await t.run({ kind: 'IPAllocation', name: 'reserved' });
    await t.run({ kind: 'Service', namespace: 'shop', name: 'old' }, 'add');
    await t.run({ kind: 'Service', namespace: 'shop', name: 'next' }, 'add');
    expect((await t.allocationsOf('old')).map((a) => a.status?.phase)).toEqual(['Failed']);
    expect((await t.allocationsOf('next')).map((a) => a.status?.phase)).toEqual(['Failed']);
    // its finalizer off by hand, then no longer a LoadBalancer
    const raw = await t.kube.admin.get('Service', 'old', 'shop');
    const svc = ServiceSchema.parse(raw);
    await t.kube.admin.replace('Service', { ...svc, metadata: { ...svc.metadata, finalizers: [] }, spec: { ...svc.spec, type: 'ClusterIP' } });
    // the address is freed (its reservation released), and the pool's claim event wakes the waiting
    await t.deleteByHand('reserved');
    await t.kube.admin.remove('IPAddressClaim', '192.0.2.20');
    await t.run({ kind: 'IPPool', name: 'public-v4' });
    expect((await t.allocationsOf('old')).map((a) => [a.status?.phase, a.status?.address])).toEqual([['Failed', undefined]]);
    const [next] = await t.allocationsOf('next');
    expect([next?.status?.phase, next?.status?.address]).toEqual(['Allocated', '192.0.2.20']);
    expect((await t.claimOf('192.0.2.20'))?.spec.allocationUID).toBe(next?.metadata.uid);
  });
});

describe('a shared claim with a holder that is gone', () => {
  it('lets a Service of the key use the ports the gone holder used', async () => {
    const holder = (name: string) => ({ allocationName: name, allocationUID: `uid-${name}` });
    const claim = {
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: '192.0.2.20', labels: { 'mikrolb.de/pool': 'public-v4' } },
      spec: {
        address: '192.0.2.20', poolName: 'public-v4', ...holder('gone-tcp'), sharingKey: 'dns',
        holders: [{ ...holder('gone-tcp'), ports: [{ protocol: 'TCP', port: 53 }] }, { ...holder('live-udp'), ports: [{ protocol: 'UDP', port: 53 }] }],
      },
    };
    const live = { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'live-udp', uid: 'uid-live-udp' }, spec: { address: '192.0.2.20' }, status: { phase: 'Allocated', address: '192.0.2.20' } };
    const dns = { ...service('dns-tcp', { [ANNOTATION_LB_IPS]: '192.0.2.20', 'mikrolb.de/allow-shared-ip': 'dns' }) };
    const t = setup([claim, live, { ...dns, spec: { ...dns.spec, ports: [{ name: 'dns', port: 53, protocol: 'TCP', targetPort: 53 }] } }]);
    await t.run({ kind: 'Service', namespace: 'shop', name: 'dns-tcp' }, 'add');
    const [a] = await t.allocationsOf('dns-tcp');
    expect([a?.status?.phase, a?.status?.address]).toEqual(['Allocated', '192.0.2.20']);
    expect((await t.claimOf('192.0.2.20'))?.spec.holders?.map((h) => h.allocationName)).toEqual(['live-udp', a?.metadata.name]);
  });
});

import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import type { WriteRecord } from '../../lib/k8s/memory.js';
import { IPAddressClaimSchema, IPAllocationSchema, IPPoolSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createRelease } from '../release/handler.js';
import { createAllocate } from './handler.js';
import { memoryPortAs, type AccountPort } from '../test-support.js';

/**
 * A pool deleted while allocate decides from it. allocate read the pool alive and chose one of
 * its addresses; before its claim's create lands, the pool is deleted and release, finding no
 * claim of it, lets it go. The claim then names a pool that no longer exists: allocate must
 * not hand its address out (a pool being deleted hands out nothing), and no claim of the gone
 * pool may stay.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const RETRY = { attempts: 5, pause: async () => undefined };

const pool = (name: string, addresses: string[]) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name, finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses, autoAssign: true, avoidBuggyIPs: true, advertise: true }, status: { claimsAdopted: true },
});

const service = (annotations: Record<string, string>) => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', finalizers: ['mikrolb.de/finalizer'], annotations },
  spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP' }] },
});

/** `deleted`: the pool deleted, and released, just before allocate's first claim of one of its addresses. */
function setup(objects: unknown[], deleted: string) {
  let staged = false;
  const ref: { kube?: AccountPort } = {}; // the port the hook writes through, made below
  const beforeWrite = async (w: WriteRecord): Promise<void> => {
    const kube = ref.kube;
    if (staged || !kube || w.verb !== 'create' || w.kind !== 'IPAddressClaim') return;
    staged = true;
    await kube.admin.remove('IPPool', deleted);
    const release = createRelease({ kube: kube.as('release'), router: memoryRouter({ version: '7.19.1', menus: {} }), classes: CLASSES, now: NOW, log: silentLogger(), retry: RETRY, claimGraceMs: 60_000 });
    expect((await release(objectInvocation('update', { kind: 'IPPool', name: deleted }))).kind).toBe('done');
    expect(await kube.admin.get('IPPool', deleted)).toBeUndefined();
  };
  const kube = memoryPortAs('allocate', { objects, now: NOW, beforeWrite });
  ref.kube = kube;
  const allocate = createAllocate({ kube: kube.port, now: NOW, log: silentLogger(), retry: RETRY, classes: CLASSES });
  const claims = async () => (await kube.admin.list('IPAddressClaim')).map((o) => IPAddressClaimSchema.parse(o).spec);
  const allocations = async () => (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o));
  return { kube, allocate, claims, allocations, staged: () => staged };
}

describe('allocate deciding from a pool deleted meanwhile', () => {
  it('a Service naming the pool fails with PoolNotFound and no claim of the gone pool is left', async () => {
    const c = setup([pool('lan', ['192.0.2.0/24']), service({ 'mikrolb.de/load-balancer-pools': 'lan' })], 'lan');
    expect((await c.allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    expect(c.staged()).toBe(true);
    expect(await c.claims()).toEqual([]);
    const [a] = await c.allocations();
    expect(a?.status).toMatchObject({ phase: 'Failed' });
    expect(a?.status?.address).toBeUndefined();
    expect(a?.status?.conditions?.find((x) => x.type === 'Ready')?.reason).toBe('PoolNotFound');
  });

  it('a Service of no pool in particular gets an address of another pool', async () => {
    // 'a-lan' sorts first: the choice among auto-assign pools tries it before 'b-lan'
    const c = setup([pool('a-lan', ['192.0.2.0/24']), pool('b-lan', ['198.51.100.0/24']), service({})], 'a-lan');
    expect((await c.allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    expect(c.staged()).toBe(true);
    const claims = await c.claims();
    expect(claims.map((x) => x.poolName)).toEqual(['b-lan']);
    const [a] = await c.allocations();
    expect(a?.status).toMatchObject({ phase: 'Allocated', address: claims[0]?.address });
  });
});

describe("a pool being deleted, as allocate counts it", () => {
  const deleting = (status: Record<string, unknown>) => ({
    ...pool('lan', ['192.0.2.0/30']),
    metadata: { name: 'lan', generation: 2, finalizers: ['mikrolb.de/finalizer'], deletionTimestamp: '2026-01-01T00:00:00Z' },
    status,
  });
  const claim = (address: string, allocationName: string) => ({
    apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: address, labels: { 'mikrolb.de/pool': 'lan' } },
    spec: { address, poolName: 'lan', allocationName, allocationUID: `uid-${allocationName}` },
  });
  const blocked = { type: 'DeletionBlocked', status: 'True', reason: 'AddressesInUse', message: '1 IPAllocation(s) still hold …', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 2 };
  const run = async (objects: unknown[]) => {
    const kube = memoryPortAs('allocate', { objects, now: NOW });
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: silentLogger(), retry: RETRY, classes: CLASSES });
    expect((await allocate(objectInvocation('update', { kind: 'IPPool', name: 'lan' }))).kind).toBe('done');
    return IPPoolSchema.parse(await kube.admin.get('IPPool', 'lan')).status;
  };

  it('counts the addresses still held, hands out none, and says it is being deleted', async () => {
    const status = await run([deleting({ claimsAdopted: true, totalAddresses: '3', allocatedAddresses: '2', freeAddresses: '0', observedGeneration: 1, conditions: [blocked] }), claim('192.0.2.1', 'ip-a')]);
    expect(status).toMatchObject({ totalAddresses: '3', allocatedAddresses: '1', freeAddresses: '0', observedGeneration: 2 });
    expect(status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Deleting', observedGeneration: 2 });
    // release's condition, naming the holders, stays
    expect(status?.conditions?.find((c) => c.type === 'DeletionBlocked')).toMatchObject({ status: 'True', reason: 'AddressesInUse' });
  });

  it('converts a pool deleted before it was converted: its live holders get their claims (which hold the deletion), the ledger goes', async () => {
    const ledger = { allocations: [
      { address: '192.0.2.1', allocationName: 'ip-a', allocationUID: 'uid-ip-a' },
      { address: '192.0.2.2', allocationName: 'ip-gone', allocationUID: 'uid-ip-gone' },
    ], totalAddresses: '2', allocatedAddresses: '2', freeAddresses: '0' };
    const holder = {
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'ip-a', uid: 'uid-ip-a', finalizers: ['mikrolb.de/finalizer'] },
      spec: { poolName: 'lan' }, status: { address: '192.0.2.1', poolName: 'lan', phase: 'Programmed' },
    };
    const kube = memoryPortAs('allocate', { objects: [deleting(ledger), holder], now: NOW });
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: silentLogger(), retry: RETRY, classes: CLASSES });
    expect((await allocate(objectInvocation('update', { kind: 'IPPool', name: 'lan' }))).kind).toBe('done');
    const status = IPPoolSchema.parse(await kube.admin.get('IPPool', 'lan')).status;
    expect(status).toMatchObject({ claimsAdopted: true, allocatedAddresses: '1', freeAddresses: '0' });
    expect(status?.allocations).toBeUndefined();
    expect(status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Deleting' });
    expect((await kube.admin.list('IPAddressClaim')).map((o) => IPAddressClaimSchema.parse(o).spec)).toEqual([
      { address: '192.0.2.1', poolName: 'lan', allocationName: 'ip-a', allocationUID: 'uid-ip-a' },
    ]);
  });
});

describe('a claim on a pool that does not carry our finalizer yet (created a moment ago)', () => {
  it('puts it on, so a deletion right after waits for the claim instead of going at once', async () => {
    const fresh = { ...pool('lan', ['192.0.2.0/24']), metadata: { name: 'lan', uid: 'pool-uid' } };
    const kube = memoryPortAs('allocate', { objects: [fresh, service({ 'mikrolb.de/load-balancer-pools': 'lan' })], now: NOW });
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: silentLogger(), retry: RETRY, classes: CLASSES });
    expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    const [a] = (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o));
    expect(a?.status).toMatchObject({ phase: 'Allocated', address: expect.stringMatching(/^192\.0\.2\./) });
    expect(IPPoolSchema.parse(await kube.admin.get('IPPool', 'lan')).metadata.finalizers).toEqual(['mikrolb.de/finalizer']);
    // the user deletes the pool: our finalizer holds it (release lets it go once unheld), the address stays held
    await kube.admin.remove('IPPool', 'lan');
    expect(IPPoolSchema.parse(await kube.admin.get('IPPool', 'lan')).metadata.deletionTimestamp).toBeDefined();
    expect((await kube.admin.list('IPAddressClaim')).map((o) => IPAddressClaimSchema.parse(o).spec.address)).toEqual([a?.status?.address]);
  });
});

/**
 * A claim deleted by hand (`kubectl delete ipaddressclaim`) while its pool is being deleted. The
 * holder's address is not a new hand-out: its status names it, and a pool being deleted keeps
 * its holders' addresses until they are released. Before, allocate re-claimed the address, saw
 * the pool being deleted and gave the claim back, 16 times over ("retry later"), and release,
 * finding no claim between two of them, let the pool go: the holder then lost its address.
 */
describe('a claim deleted by hand while its pool is being deleted', () => {
  const withHolder = async () => {
    const kube = memoryPortAs('allocate', { objects: [pool('lan', ['192.0.2.0/24']), service({ 'mikrolb.de/load-balancer-pools': 'lan' })], now: NOW });
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: silentLogger(), retry: RETRY, classes: CLASSES });
    const release = createRelease({ kube: kube.as('release'), router: memoryRouter({ version: '7.19.1', menus: {} }), classes: CLASSES, now: NOW, log: silentLogger(), retry: RETRY, claimGraceMs: 60_000 });
    expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    const [holder] = (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o));
    const address = holder?.status?.address ?? '';
    expect(address).toMatch(/^192\.0\.2\./);
    await kube.admin.remove('IPPool', 'lan');
    expect((await release(objectInvocation('update', { kind: 'IPPool', name: 'lan' }))).kind).toBe('blocked');
    await kube.admin.remove('IPAddressClaim', address);
    const claims = async () => (await kube.admin.list('IPAddressClaim')).map((o) => IPAddressClaimSchema.parse(o).spec);
    const holderNow = async () => IPAllocationSchema.parse(await kube.admin.get('IPAllocation', holder?.metadata.name ?? ''));
    return { kube, allocate, release, holder: holder?.metadata.name ?? '', uid: holder?.metadata.uid, address, claims, holderNow };
  };

  it('its holder takes the claim again at once and keeps the address; the pool waits for it', async () => {
    const c = await withHolder();
    // as the bridge sends the deletion: the holder first, then (batched) the pool
    expect((await c.allocate(objectInvocation('update', { kind: 'IPAllocation', name: c.holder }))).kind).toBe('done');
    expect(await c.claims()).toEqual([{ address: c.address, poolName: 'lan', allocationName: c.holder, allocationUID: c.uid }]);
    expect((await c.release(objectInvocation('update', { kind: 'IPPool', name: 'lan' }))).kind).toBe('blocked');
    expect((await c.allocate(objectInvocation('update', { kind: 'IPPool', name: 'lan' }))).kind).toBe('done');
    expect(IPPoolSchema.parse(await c.kube.admin.get('IPPool', 'lan')).metadata.deletionTimestamp).toBeDefined();
    expect((await c.holderNow()).status).toMatchObject({ phase: 'Allocated', address: c.address });
  });

  it('release reaching the pool before the holder took its claim again does not let the pool go', async () => {
    const c = await withHolder();
    // the holder's status still names the address: the pool is held by it, claim or not, and
    // release tries again soon (allocate, not the user, takes the claim again)
    expect((await c.release(objectInvocation('update', { kind: 'IPPool', name: 'lan' }))).kind).toBe('retry');
    expect(await c.kube.admin.get('IPPool', 'lan')).toBeDefined();
    expect((await c.allocate(objectInvocation('update', { kind: 'IPAllocation', name: c.holder }))).kind).toBe('done');
    expect(await c.claims()).toEqual([{ address: c.address, poolName: 'lan', allocationName: c.holder, allocationUID: c.uid }]);
    expect((await c.holderNow()).status).toMatchObject({ phase: 'Allocated', address: c.address });
    expect((await c.release(objectInvocation('update', { kind: 'IPPool', name: 'lan' }))).kind).toBe('blocked');
  });

  it('the pool goes once its holder is released', async () => {
    const c = await withHolder();
    expect((await c.allocate(objectInvocation('update', { kind: 'IPAllocation', name: c.holder }))).kind).toBe('done');
    await c.kube.admin.remove('Service', 'web', 'shop');
    expect((await c.release(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    expect(await c.claims()).toEqual([]);
    expect((await c.release(objectInvocation('update', { kind: 'IPPool', name: 'lan' }))).kind).toBe('done');
    expect(await c.kube.admin.get('IPPool', 'lan')).toBeUndefined();
  });

  it('a pool going without our finalizer keeps nothing: the holder fails at once instead of claiming and giving back 16 times', async () => {
    const foreign = { ...pool('lan', ['192.0.2.0/24']), metadata: { name: 'lan', uid: 'pool-uid', finalizers: ['example.com/keep'], deletionTimestamp: '2026-01-01T00:00:00Z' } };
    const holder = {
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'ip-a', uid: 'uid-ip-a', generation: 1, finalizers: ['mikrolb.de/finalizer'] },
      spec: { poolName: 'lan' }, status: { address: '192.0.2.1', phase: 'Allocated', observedGeneration: 1 },
    };
    const kube = memoryPortAs('allocate', { objects: [foreign, holder], now: NOW });
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: silentLogger(), retry: RETRY, classes: CLASSES });
    expect((await allocate(objectInvocation('update', { kind: 'IPAllocation', name: 'ip-a' }))).kind).toBe('done');
    expect(await kube.admin.list('IPAddressClaim')).toEqual([]);
    const a = IPAllocationSchema.parse(await kube.admin.get('IPAllocation', 'ip-a'));
    expect(a.status?.phase).toBe('Failed');
    expect(a.status?.conditions?.find((x) => x.type === 'Ready')?.reason).toBe('PoolNotFound');
  });
});

import { describe, expect, it } from 'vitest';
import { objectInvocation, parseCloudEvent } from '../../lib/events/cloudevent.js';
import { apiServerEvent, encode } from '../../lib/events/test-support.js';
import { IPAddressClaimSchema, IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A claim deleted by hand (`kubectl delete ipaddressclaim`) while its allocation still holds
 * and uses the address: the bridge sends the deletion to allocate as the allocations the claim
 * named (and, a second later, as its pool). The allocation, settled as it is, checks its claim
 * and takes it again, so the pool's waiters do not get an address whose NAT rules and
 * advertisement are still the holder's. Before, allocate returned on the settled status, and
 * the pool's run gave the address to the Service waiting for it (until the resync).
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const POOL = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'one', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.7'], autoAssign: true, avoidBuggyIPs: false, advertise: true }, status: { claimsAdopted: true },
};
const service = (name: string) => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop' },
  spec: { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass, ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
});

/** `keeps` holds the pool's one address, `waits` waits for it (PoolExhausted). */
async function holderAndWaiter() {
  const kube = memoryPortAs('allocate', { objects: [POOL, service('keeps'), service('waits')], now: NOW });
  const allocate = createAllocate({ kube: kube.port, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: CLASSES });
  const allocationOf = async (svc: string) => (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o)).find((a) => a.metadata.labels?.['mikrolb.de/service-name'] === svc);
  expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'keeps' }))).kind).toBe('done');
  expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'waits' }))).kind).toBe('done');
  const holder = await allocationOf('keeps');
  return { kube, allocate, allocationOf, holder };
}

describe('a claim deleted by hand while its allocation holds the address', () => {
  it('is taken again by that allocation, and the Service waiting on the pool does not get the address', async () => {
    const { kube, allocate, allocationOf, holder } = await holderAndWaiter();
    const claim = async () => {
      const o = await kube.admin.get('IPAddressClaim', '192.0.2.7');
      return o === undefined ? undefined : IPAddressClaimSchema.parse(o);
    };
    expect(holder?.status?.address).toBe('192.0.2.7');
    expect((await allocationOf('waits'))?.status?.phase).toBe('Failed');

    await kube.admin.remove('IPAddressClaim', '192.0.2.7');
    // as the bridge sends the deletion: the holder first, then (batched) the pool
    expect((await allocate(objectInvocation('update', { kind: 'IPAllocation', name: holder?.metadata.name ?? '' }))).kind).toBe('done');
    expect((await claim())?.spec.allocationUID).toBe(holder?.metadata.uid);
    expect((await allocate(objectInvocation('update', { kind: 'IPPool', name: 'one' }))).kind).toBe('done');
    expect((await claim())?.spec.allocationUID).toBe(holder?.metadata.uid);
    expect((await allocationOf('waits'))?.status).toMatchObject({ phase: 'Failed' });
    expect((await allocationOf('waits'))?.status?.address).toBeUndefined();
    expect((await allocationOf('keeps'))?.status?.address).toBe('192.0.2.7');
  });
});

/**
 * Under Knative Eventing the ApiServerSource sends the claim's deletion whole to allocate as
 * the claim, which can no longer be read: allocate reconciled the claim's pool only, and the
 * pool's run gave the address to the Service waiting for it while the holder still used it
 * (its NAT rules and advertisement on the router), until the resync. The event names the
 * claim's holders, as the bridge's route does: allocate checks them first.
 */
describe('a claim deleted by hand, as the ApiServerSource sends it', () => {
  it.each(['binary', 'structured'] as const)('is taken again by its holder before the pool is reconciled (%s mode)', async (encoding) => {
    const { kube, allocate, allocationOf, holder } = await holderAndWaiter();
    const last = await kube.admin.get('IPAddressClaim', '192.0.2.7');

    await kube.admin.remove('IPAddressClaim', '192.0.2.7');
    const event = apiServerEvent({ type: 'dev.knative.apiserver.resource.delete', kind: 'IPAddressClaim', apiversion: 'mikrolb.de/v1alpha1', name: '192.0.2.7', namespace: '', data: last });
    const parsed = parseCloudEvent(encode(event, encoding));
    if (!parsed.ok) throw new Error(parsed.message);
    expect((await allocate(parsed.invocation)).kind).toBe('done');
    const claim = await kube.admin.get('IPAddressClaim', '192.0.2.7');
    expect(claim === undefined ? undefined : IPAddressClaimSchema.parse(claim).spec.allocationUID).toBe(holder?.metadata.uid);
    expect((await allocationOf('waits'))?.status?.address).toBeUndefined();
    expect((await allocationOf('keeps'))?.status?.address).toBe('192.0.2.7');
  });
});

/**
 * The ApiServerSource sends allocate every update of an IPAllocation, each status write of
 * program's among them. A settled allocation checked its claim on every update (one GET each),
 * for the claim's deletion by hand, which under Knative Eventing reaches allocate as the claim
 * with its holders (above): an update sent whole is the allocation's own change, and reads no
 * claim. One named only (the bridge's route for a deleted claim's holders) still checks it.
 */
describe("a settled allocation's update", () => {
  it.each([
    ['sent whole (the ApiServerSource)', 0, true],
    ['named only (the bridge)', 1, false],
  ] as const)('%s reads the claim %i time(s)', async (_, reads, whole) => {
    const kube = memoryPortAs('allocate', { objects: [POOL, service('keeps')], now: NOW });
    const claimReads: string[] = [];
    const port = { ...kube.port, get: async (...args: Parameters<typeof kube.port.get>) => {
      if (args[0] === 'IPAddressClaim') claimReads.push(args[1]);
      return kube.port.get(...args);
    } };
    const allocate = createAllocate({ kube: port, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: CLASSES });
    expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'keeps' }))).kind).toBe('done');
    const holder = (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o))[0];
    if (!holder) throw new Error('no allocation');
    claimReads.length = 0;
    const ref = { kind: 'IPAllocation', name: holder.metadata.name } as const;
    const event = apiServerEvent({ type: 'dev.knative.apiserver.resource.update', kind: 'IPAllocation', apiversion: 'mikrolb.de/v1alpha1', name: holder.metadata.name, namespace: '', data: holder });
    const parsed = parseCloudEvent(encode(event, 'binary'));
    if (!parsed.ok) throw new Error(parsed.message);
    expect((await allocate(whole ? parsed.invocation : objectInvocation('update', ref))).kind).toBe('done');
    expect(claimReads).toHaveLength(reads);
  });
});

/**
 * The race the bridge's order cannot rule out: a run of the waiting Service already under way
 * when the claim goes (its own events, queued before) finds the address free and claims it
 * first. The address then has one holder, the waiter: the former holder gives it up and says
 * why, rather than both Services publishing it.
 */
describe('a claim deleted by hand while a waiting Service\'s run is under way', () => {
  it('goes to the waiter, and the former holder gives the address up (PoolExhausted)', async () => {
    const { kube, allocate, allocationOf, holder } = await holderAndWaiter();

    await kube.admin.remove('IPAddressClaim', '192.0.2.7');
    expect((await allocate(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'waits' }))).kind).toBe('done');
    expect((await allocationOf('waits'))?.status?.address).toBe('192.0.2.7');
    expect((await allocate(objectInvocation('update', { kind: 'IPAllocation', name: holder?.metadata.name ?? '' }))).kind).toBe('done');
    const claim = await kube.admin.get('IPAddressClaim', '192.0.2.7');
    expect(claim === undefined ? undefined : IPAddressClaimSchema.parse(claim).spec.allocationUID).toBe((await allocationOf('waits'))?.metadata.uid);
    expect((await allocationOf('keeps'))?.status).toMatchObject({ phase: 'Failed' });
    expect((await allocationOf('keeps'))?.status?.address).toBeUndefined();
    expect((await allocationOf('keeps'))?.status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('PoolExhausted');
  });
});

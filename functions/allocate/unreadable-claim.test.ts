import { describe, expect, it } from 'vitest';
import { objectInvocation, resyncInvocation } from '../../lib/events/cloudevent.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A claim that exists but is none allocate can read (made by hand or by another tool: a field
 * missing, or a spec naming another address than its name): the address is taken by someone
 * else. Before, the allocation whose candidate it was failed on it on every run (500, retried
 * forever) without moving on and without telling anyone, and so did the claim's own event.
 * Now it moves on as after an AlreadyExists, the claim is left as it is, and the pool gets a
 * Warning event naming it.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const POOL = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'two', uid: 'pool-uid', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.10-192.0.2.11'], autoAssign: true, avoidBuggyIPs: false, advertise: true }, status: { claimsAdopted: true },
};
const service = (name: string, annotations: Record<string, string> = {}) => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop', annotations },
  spec: { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass, ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
});
/** Made by hand: no allocationUID. */
const handMade = (name: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name }, spec: { address: name, poolName: 'two', allocationName: 'by-hand' },
});
/** Valid to the schema, but its spec names another address than its name. */
const misnamed = (name: string, address: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name }, spec: { address, poolName: 'two', allocationName: 'elsewhere', allocationUID: 'elsewhere-uid' },
});

function setUp(objects: object[]) {
  const kube = memoryPortAs('allocate', { objects: [POOL, ...objects], now: NOW });
  const log = memoryLogger();
  const allocate = createAllocate({ kube: kube.port, now: NOW, log, retry: { attempts: 5, pause: async () => undefined }, classes: CLASSES });
  const allocationOf = async (svc: string) =>
    (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o)).find((a) => a.metadata.labels?.['mikrolb.de/service-name'] === svc);
  const claims = () => kube.admin.list('IPAddressClaim');
  const warnings = () => kube.events.filter((e) => e.type === 'Warning' && e.regarding.kind === 'IPPool' && e.regarding.name === 'two');
  const allocateService = (name: string) => allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name }));
  return { kube, log, allocate, allocationOf, claims, warnings, allocateService };
}

describe('an address whose claim allocate cannot read', () => {
  it.each([
    ['missing a field', '192.0.2.10', handMade('192.0.2.10'), '192.0.2.11'],
    ['missing a field', '192.0.2.11', handMade('192.0.2.11'), '192.0.2.10'],
    ['naming another address', '192.0.2.10', misnamed('192.0.2.10', '198.51.100.1'), '192.0.2.11'],
    ['naming no address', '192.0.2.11', misnamed('192.0.2.11', 'not an address'), '192.0.2.10'],
  ])('counts as taken by someone else (a claim %s, on %s): the allocation gets the other address', async (_, _name, claim, expected) => {
    const t = setUp([service('web'), claim]);
    const before = await t.claims();
    expect((await t.allocateService('web')).kind).toBe('done');
    expect((await t.allocationOf('web'))?.status).toMatchObject({ phase: 'Allocated', address: expected });
    // left as it is: neither deleted nor overwritten
    expect((await t.claims()).filter((c) => JSON.stringify(c).includes(claim.metadata.name))).toEqual(before);
  });

  it('leaves a pool whose every address is so claimed exhausted, not retried forever', async () => {
    const t = setUp([service('web'), handMade('192.0.2.10'), misnamed('192.0.2.11', '192.0.2.99')]);
    const before = await t.claims();
    expect((await t.allocateService('web')).kind).toBe('done');
    const allocation = await t.allocationOf('web');
    expect(allocation?.status?.phase).toBe('Failed');
    expect(allocation?.status?.conditions?.find((c) => c.type === 'Allocated')?.reason).toBe('PoolExhausted');
    expect(await t.claims()).toEqual(before);
  });

  it('fails an allocation asking for the address by name with AddressAlreadyUsed, naming the claim, and says so on the pool', async () => {
    const t = setUp([service('web', { 'mikrolb.de/load-balancer-ips': '192.0.2.10' }), handMade('192.0.2.10')]);
    const before = await t.claims();
    expect((await t.allocateService('web')).kind).toBe('done');
    const allocated = (await t.allocationOf('web'))?.status?.conditions?.find((c) => c.type === 'Allocated');
    expect(allocated?.reason).toBe('AddressAlreadyUsed');
    expect(allocated?.message).toContain('IPAddressClaim 192.0.2.10');
    expect(await t.claims()).toEqual(before);
    expect(t.warnings().map((w) => [w.reason, w.note.split(':')[0]])).toEqual([['ClaimUnreadable', 'IPAddressClaim 192.0.2.10 is not one MikroLB can read (spec.allocationUID']]);
    expect(t.log.entries.some((e) => e.level === 'warn' && e.fields['claim'] === '192.0.2.10')).toBe(true);
  });

  it('made after this instance listed the claims: met, reported on the pool, and passed over', async () => {
    const t = setUp([service('first', { 'mikrolb.de/load-balancer-ips': '192.0.2.10' }), service('web')]);
    expect((await t.allocateService('first')).kind).toBe('done');
    await t.kube.admin.create('IPAddressClaim', handMade('192.0.2.11'));
    expect((await t.allocateService('web')).kind).toBe('done');
    expect((await t.allocationOf('web'))?.status?.conditions?.find((c) => c.type === 'Allocated')?.reason).toBe('PoolExhausted');
    expect(t.warnings().map((w) => w.reason)).toEqual(['ClaimUnreadable']);
    expect(t.warnings()[0]?.note).toContain('IPAddressClaim 192.0.2.11 ');
  });

  it('is reported on its pool by the resync, and its own event is answered', async () => {
    const t = setUp([misnamed('192.0.2.11', '192.0.2.99')]);
    expect((await t.allocate(objectInvocation('add', { kind: 'IPAddressClaim', name: '192.0.2.11' }))).kind).toBe('done');
    expect((await t.allocate(resyncInvocation())).kind).toBe('done');
    expect(t.warnings().map((w) => [w.reason, w.note])).toEqual([['ClaimUnreadable',
      'IPAddressClaim 192.0.2.11 is not one MikroLB can read (spec.address: "192.0.2.99" is not the address its name stands for): address 192.0.2.11 counts as taken and is handed to no one. Fix or delete the claim to free it.']]);
  });
});

describe('the claim of an address an allocation holds, replaced by one allocate cannot read', () => {
  it('is someone else\'s now: the allocation moves to another address, the claim left as it is', async () => {
    const t = setUp([service('web', { 'mikrolb.de/load-balancer-pools': 'two' })]);
    expect((await t.allocateService('web')).kind).toBe('done');
    const held = await t.allocationOf('web');
    const address = held?.status?.address ?? '';
    const other = address === '192.0.2.10' ? '192.0.2.11' : '192.0.2.10';
    await t.kube.admin.remove('IPAddressClaim', address);
    await t.kube.admin.create('IPAddressClaim', handMade(address));
    const before = await t.claims();
    // as the bridge sends a claim's deletion: the allocation it named, checking its claim
    expect((await t.allocate(objectInvocation('update', { kind: 'IPAllocation', name: held?.metadata.name ?? '' }))).kind).toBe('done');
    expect((await t.allocationOf('web'))?.status).toMatchObject({ phase: 'Allocated', address: other });
    expect((await t.claims()).filter((c) => JSON.stringify(c).includes(`"name":"${address}"`))).toEqual(before.filter((c) => JSON.stringify(c).includes(`"name":"${address}"`)));
    expect((await t.allocate(resyncInvocation())).kind).toBe('done');
  });
});

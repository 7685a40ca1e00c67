import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { ANNOTATION_LB_IPS, LABEL_SERVICE_UID } from '../../lib/k8s/keys.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { IPAddressClaimSchema, IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { silentLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * Pinning the address a Service was given (`mikrolb.de/load-balancer-ips` naming its current
 * address, as docs/services.md advises) keeps the address with the Service throughout: the
 * allocation that holds it takes the explicit request as its spec and keeps its claim. Before,
 * that allocation was deleted as no longer wanted while its claim stood, the new explicit
 * allocation failed AddressAlreadyUsed against it, release took the address off the router,
 * and only the freed claim's pool event gave it back — if no other Service took it first.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const POOL = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'public-v4', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.16/28'], autoAssign: true, avoidBuggyIPs: true, advertise: true }, status: { claimsAdopted: true },
};
const SERVICE = {
  apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' },
  spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
};

function setup() {
  const kube = memoryPortAs('allocate', { objects: [POOL, SERVICE], now: NOW });
  const watch: { address?: string; uid?: string } = {};
  const gaps: string[] = [];
  /** After every write: the watched address's claim exists and is held by a live allocation of the Service. */
  const check = async (what: string): Promise<void> => {
    if (watch.address === undefined) return;
    const raw = await kube.admin.get('IPAddressClaim', watch.address);
    if (!raw) return void gaps.push(`after ${what}: no claim`);
    const claim = IPAddressClaimSchema.parse(raw);
    const holder = (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o)).find((a) => a.metadata.uid === claim.spec.allocationUID);
    if (!holder || holder.metadata.labels?.[LABEL_SERVICE_UID] !== watch.uid || holder.metadata.deletionTimestamp) gaps.push(`after ${what}: held by ${claim.spec.allocationName}, ${holder ? (holder.metadata.deletionTimestamp ? 'being deleted' : 'not the Service\'s') : 'gone'}`);
  };
  const port: KubePort = {
    ...kube.port,
    create: async (kind, obj) => { const r = await kube.port.create(kind, obj); await check(`create ${kind} ${obj.metadata.name}`); return r; },
    replace: async (kind, obj) => { const r = await kube.port.replace(kind, obj); await check(`update ${kind} ${obj.metadata.name}`); return r; },
    replaceStatus: async (kind, obj) => { const r = await kube.port.replaceStatus(kind, obj); await check(`status ${kind} ${obj.metadata.name}`); return r; },
    remove: async (kind, name, namespace, pre) => { await kube.port.remove(kind, name, namespace, pre); await check(`delete ${kind} ${name}`); },
  };
  const instance = () => createAllocate({ kube: port, now: NOW, log: silentLogger(), retry: { attempts: 10, pause: async () => undefined }, classes: CLASSES });
  const allocations = async () => (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o));
  const pin = async (address: string): Promise<void> => {
    const svc = ServiceSchema.parse(await kube.admin.get('Service', 'web', 'shop'));
    await kube.admin.replace('Service', { ...svc, metadata: { ...svc.metadata, annotations: { ...svc.metadata.annotations, [ANNOTATION_LB_IPS]: address } } });
  };
  const claimHolder = async (address: string) => {
    const raw = await kube.admin.get('IPAddressClaim', address);
    return raw ? IPAddressClaimSchema.parse(raw).spec.allocationUID : undefined;
  };
  return { kube, watch, gaps, instance, allocations, pin, claimHolder };
}

const serviceUpdate = objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' });

describe('pinning the address a Service holds', () => {
  it('keeps the address with the Service: its allocation takes the request, and its claim stays', async () => {
    const s = setup();
    const allocate = s.instance();
    expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    const [first] = await s.allocations();
    const address = first?.status?.address ?? '';
    expect(first?.status?.phase).toBe('Allocated');
    s.watch.address = address;
    s.watch.uid = ServiceSchema.parse(await s.kube.admin.get('Service', 'web', 'shop')).metadata.uid;
    const claimUid = (await s.kube.admin.get('IPAddressClaim', address)) ? IPAddressClaimSchema.parse(await s.kube.admin.get('IPAddressClaim', address)).metadata.uid : undefined;

    await s.pin(address);
    const answer = await allocate(serviceUpdate);
    expect(answer.kind, JSON.stringify(answer)).toBe('done');
    expect(JSON.stringify(answer)).not.toContain('AddressAlreadyUsed');

    expect(s.gaps).toEqual([]);
    const after = await s.allocations();
    expect(after.map((a) => [a.metadata.uid, a.spec, a.status?.phase, a.status?.address, a.metadata.deletionTimestamp])).toEqual([[first?.metadata.uid, { address }, 'Allocated', address, undefined]]);
    // the very claim it had, never freed and made again
    expect(IPAddressClaimSchema.parse(await s.kube.admin.get('IPAddressClaim', address)).metadata.uid).toBe(claimUid);
    expect(await s.claimHolder(address)).toBe(first?.metadata.uid);

    // settled: the next event changes nothing
    const again = await allocate(serviceUpdate);
    expect(again).toMatchObject({ kind: 'done' });
    expect((await s.allocations()).map((a) => [a.metadata.resourceVersion, a.spec])).toEqual(after.map((a) => [a.metadata.resourceVersion, a.spec]));
  });

  it('keeps it too when two allocate instances take the pin at once', async () => {
    const s = setup();
    expect((await s.instance()(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    const [first] = await s.allocations();
    const address = first?.status?.address ?? '';
    s.watch.address = address;
    s.watch.uid = ServiceSchema.parse(await s.kube.admin.get('Service', 'web', 'shop')).metadata.uid;

    await s.pin(address);
    const answers = await Promise.all([s.instance()(serviceUpdate), s.instance()(serviceUpdate)]);
    for (const a of answers) expect(a.kind, JSON.stringify(a)).toBe('done');
    expect(JSON.stringify(answers)).not.toContain('AddressAlreadyUsed');
    expect(s.gaps).toEqual([]);
    expect((await s.allocations()).map((a) => [a.metadata.uid, a.spec, a.status?.phase, a.status?.address])).toEqual([[first?.metadata.uid, { address }, 'Allocated', address]]);
    expect(await s.claimHolder(address)).toBe(first?.metadata.uid);
    expect((await s.kube.admin.list('IPAddressClaim')).length).toBe(1);
  });

  it('keeps the address when the pin is taken off again', async () => {
    const s = setup();
    const allocate = s.instance();
    expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    const [first] = await s.allocations();
    const address = first?.status?.address ?? '';
    s.watch.address = address;
    s.watch.uid = ServiceSchema.parse(await s.kube.admin.get('Service', 'web', 'shop')).metadata.uid;
    await s.pin(address);
    expect((await allocate(serviceUpdate)).kind).toBe('done');

    const svc = ServiceSchema.parse(await s.kube.admin.get('Service', 'web', 'shop'));
    const { [ANNOTATION_LB_IPS]: _pin, ...rest } = svc.metadata.annotations ?? {};
    await s.kube.admin.replace('Service', { ...svc, metadata: { ...svc.metadata, annotations: rest } });
    expect((await allocate(serviceUpdate)).kind).toBe('done');
    expect(s.gaps).toEqual([]);
    expect((await s.allocations()).map((a) => [a.metadata.uid, a.spec, a.status?.phase, a.status?.address])).toEqual([[first?.metadata.uid, { ipFamily: 'IPv4' }, 'Allocated', address]]);
  });
});

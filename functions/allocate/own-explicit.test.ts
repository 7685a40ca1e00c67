import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { ANNOTATION_SNAT_IPS } from '../../lib/k8s/keys.js';
import { IPAddressClaimSchema, IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { silentLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A Service's own explicit addresses are its explicit allocations': its pool and family
 * allocations never search their way onto one. Before, a Service asking for `snat-ips:
 * 192.0.2.16` whose hashed search began at that very address got it as its load-balancer
 * address, and its SNAT allocation failed AddressAlreadyUsed against its own allocation for
 * ever. An address a family allocation already holds when its Service comes to ask for it by
 * name is given up for the explicit allocation (an explicit ask is a hard constraint, a
 * family's choice is not): the Service ends as it would have been created.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const START = '192.0.2.16'; // where shop/web's search in this pool begins (its hash)
const POOL = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'public-v4', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.16/28'], autoAssign: true, avoidBuggyIPs: true, advertise: true }, status: { claimsAdopted: true },
};
const service = (annotations: Record<string, string>) => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', annotations },
  spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
});

function setup(annotations: Record<string, string>) {
  const kube = memoryPortAs('allocate', { objects: [POOL, service(annotations)], now: NOW });
  const allocate = createAllocate({ kube: kube.port, now: NOW, log: silentLogger(), retry: { attempts: 10, pause: async () => undefined }, classes: CLASSES });
  /** Each allocation's request, phase and address, by what it asks for. */
  const state = async () => (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o))
    .map((a) => ({ asks: a.spec.address ?? a.spec.ipFamily ?? a.spec.poolName, phase: a.status?.phase, address: a.status?.address }))
    .sort((a, b) => String(a.asks).localeCompare(String(b.asks)));
  const claims = async () => (await kube.admin.list('IPAddressClaim')).map((o) => IPAddressClaimSchema.parse(o).spec.address).sort();
  return { kube, allocate, state, claims };
}

describe('a Service\'s own explicit addresses', () => {
  it('are not taken by its load-balancer search: SNAT gets its address, the load balancer another', async () => {
    const s = setup({});
    // the premise: alone, shop/web's load-balancer address is the one it will ask for as SNAT
    expect((await s.allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    expect((await s.state()).map((a) => a.address)).toEqual([START]);

    const t = setup({ [ANNOTATION_SNAT_IPS]: START });
    const answer = await t.allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }));
    expect(answer.kind).toBe('done');
    expect(JSON.stringify(answer)).not.toContain('AddressAlreadyUsed');
    const [snat, lb] = await t.state();
    expect(snat).toEqual({ asks: START, phase: 'Allocated', address: START });
    expect(lb).toMatchObject({ asks: 'IPv4', phase: 'Allocated' });
    expect(lb?.address).not.toBe(START);
    expect(await t.claims()).toEqual([lb?.address, START].sort());
  });

  it('are given up by a family allocation that holds one: the explicit allocation gets it in the same run', async () => {
    const s = setup({});
    expect((await s.allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    expect(await s.state()).toEqual([{ asks: 'IPv4', phase: 'Allocated', address: START }]);

    const svc = ServiceSchema.parse(await s.kube.admin.get('Service', 'web', 'shop'));
    await s.kube.admin.replace('Service', { ...svc, metadata: { ...svc.metadata, annotations: { [ANNOTATION_SNAT_IPS]: START } } });
    const answer = await s.allocate(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' }));
    expect(answer.kind).toBe('done');
    expect(JSON.stringify(answer)).not.toContain('AddressAlreadyUsed');
    const [snat, lb] = await s.state();
    expect(snat).toEqual({ asks: START, phase: 'Allocated', address: START });
    expect(lb).toMatchObject({ asks: 'IPv4', phase: 'Allocated' });
    expect(lb?.address).not.toBe(START);
    expect(await s.claims()).toEqual([lb?.address, START].sort());

    // settled: another event moves nothing
    expect((await s.allocate(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    expect(await s.state()).toEqual([snat, lb]);
  });

  it('are skipped also when a waiting family allocation is tried again on its own (a freed claim\'s pool event)', async () => {
    // the Service's family allocation waits for a free address (the pool was full), and its SNAT
    // address is the one freed: the family allocation, tried first, must leave it to the SNAT one
    const s = setup({ [ANNOTATION_SNAT_IPS]: START });
    const svc = ServiceSchema.parse(await s.kube.admin.get('Service', 'web', 'shop'));
    const uid = svc.metadata.uid ?? '';
    const labels = { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': uid };
    await s.kube.admin.replace('Service', { ...svc, metadata: { ...svc.metadata, finalizers: ['mikrolb.de/finalizer'] } });
    const failed = { phase: 'Failed', conditions: [] };
    await s.kube.admin.create('IPAllocation', { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'web-v4', labels, finalizers: ['mikrolb.de/finalizer'] }, spec: { ipFamily: 'IPv4' } });
    await s.kube.admin.replaceStatus('IPAllocation', { ...IPAllocationSchema.parse(await s.kube.admin.get('IPAllocation', 'web-v4')), status: failed });
    const answer = await s.allocate(objectInvocation('update', { kind: 'IPAllocation', name: 'web-v4' }));
    expect(answer.kind).toBe('done');
    const [lb] = await s.state();
    expect(lb).toMatchObject({ asks: 'IPv4', phase: 'Allocated' });
    expect(lb?.address).not.toBe(START);
  });
});

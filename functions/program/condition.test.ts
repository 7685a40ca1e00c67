import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { silentLogger } from '../../lib/log/logger.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { stateConditions } from '../../lib/core/allocation-status.js';
import { allocationName } from '../../lib/core/service.js';
import { IPAllocationSchema, type IPAllocation } from '../../lib/k8s/schemas.js';
import { createProgram } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A Service of ours that asks only for addresses or pools that are invalid gets no allocation,
 * now or later. Its `mikrolb.de/LoadBalancerReady` condition says so (the AnnotationInvalid
 * event's note, which expires with the event), not that an allocation is still to come.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };

const service = (annotations: Record<string, string>) => ({
  apiVersion: 'v1', kind: 'Service',
  metadata: { name: 'web', namespace: 'shop', uid: 'uid-web', generation: 3, finalizers: ['mikrolb.de/finalizer'], annotations },
  spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }] },
});
const slice = {
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
  metadata: { name: 'web-1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
  ports: [{ port: 8080, protocol: 'TCP' }], endpoints: [{ addresses: ['10.0.0.5'], conditions: { ready: true } }],
};

async function conditionAfterProgram(annotations: Record<string, string>) {
  const kube = memoryPortAs('program', { now: NOW, objects: [service(annotations), slice] });
  const program = createProgram({ kube: kube.port, router: memoryRouter({ version: '7.19.1', menus: {} }), classes: CLASSES, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined } });
  expect((await program(objectInvocation('update', { kind: 'EndpointSlice', namespace: 'shop', name: 'web-1' }))).kind).toBe('done');
  const svc = ServiceSchema.parse(await kube.admin.get('Service', 'web', 'shop'));
  return svc.status?.conditions?.find((c) => c.type === 'mikrolb.de/LoadBalancerReady');
}

describe("the Service's condition when it asks for nothing that can be allocated", () => {
  it('names the invalid address instead of waiting for an allocation', async () => {
    expect(await conditionAfterProgram({ 'mikrolb.de/load-balancer-ips': '300.1.1.1' })).toMatchObject({
      status: 'False', reason: 'AnnotationInvalid', observedGeneration: 3,
      message: 'The Service asks for no address that can be allocated: mikrolb.de/load-balancer-ips: "300.1.1.1" is not a valid IP address; ignoring it',
    });
  });

  it('names every invalid value, as the event does', async () => {
    const condition = await conditionAfterProgram({ 'mikrolb.de/load-balancer-ips': 'a, b', 'mikrolb.de/load-balancer-pools': 'Public_Pool' });
    expect(condition).toMatchObject({ status: 'False', reason: 'AnnotationInvalid' });
    expect(condition?.message).toMatch(/^The Service asks for no address that can be allocated: 3 invalid annotation values: .*"a".*"b".*"Public_Pool"/);
  });

  it('still says Pending for a Service whose allocation is only not made yet', async () => {
    expect(await conditionAfterProgram({})).toMatchObject({ status: 'False', reason: 'Pending', message: 'No IPAllocation exists for this Service yet.' });
  });
});

/**
 * `ipFamilyPolicy: PreferDualStack` asks for the second family where it can be had, as for the
 * Service's ClusterIPs: without an auto-assign pool of it, the Service is served by its first
 * family, and its condition says so (True) instead of waiting for an IPv6 pool for good. Its
 * IPv6 allocation stays, Failed, and is retried when a pool appears. RequireDualStack and a
 * failed first family still hold the Service back.
 */
describe("the Service's condition when its second family cannot be served", () => {
  const UID = 'uid-dual';
  const family = (ipFamily: 'IPv4' | 'IPv6', status: IPAllocation['status']) => ({
    apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
    metadata: { name: allocationName(UID, { ipFamily }), uid: `alloc-${ipFamily}`, resourceVersion: '4', generation: 1, finalizers: ['mikrolb.de/finalizer'],
      labels: { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': UID } },
    spec: { ipFamily }, status,
  });
  const exhausted = (ipFamily: 'IPv4' | 'IPv6') => ({
    phase: 'Failed' as const,
    conditions: stateConditions({ kind: 'notAllocated', reason: 'PoolExhausted', message: `No auto-assign ${ipFamily} pool exists.` }).map((c) => ({ ...c, lastTransitionTime: '2026-01-01T00:00:00Z' })),
  });
  const V4 = allocationName(UID, { ipFamily: 'IPv4' });
  const V6 = allocationName(UID, { ipFamily: 'IPv6' });
  const pool = (name: string, ipFamily: 'IPv4' | 'IPv6', address: string) => ({
    apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name, uid: `pool-${name}`, resourceVersion: '1', generation: 1 },
    spec: { ipFamily, addresses: [address], autoAssign: false, advertise: true, interfaceName: 'ether1' }, status: { claimsAdopted: true },
  });
  const router = { version: '7.19.1', menus: {
    '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }],
    '/ip/address': [{ '.id': '*10', address: '192.0.2.1/24', interface: 'ether1' }],
    '/ipv6/address': [{ '.id': '*11', address: '2001:db8::1/64', interface: 'ether1' }],
  } };

  async function afterProgram(ipFamilyPolicy: string, ipFamilies: readonly ('IPv4' | 'IPv6')[], allocations: unknown[]) {
    const svc = {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: 'web', namespace: 'shop', uid: UID, generation: 1, finalizers: ['mikrolb.de/finalizer'] },
      spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilyPolicy, ipFamilies, ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }] },
    };
    const kube = memoryPortAs('program', { now: NOW, objects: [svc, slice, pool('v4', 'IPv4', '192.0.2.0/24'), pool('v6', 'IPv6', '2001:db8::/64'), ...allocations] });
    const program = createProgram({ kube: kube.port, router: memoryRouter(router), classes: CLASSES, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined } });
    expect((await program(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    const status = ServiceSchema.parse(await kube.admin.get('Service', 'web', 'shop')).status;
    const v6 = IPAllocationSchema.parse(await kube.admin.get('IPAllocation', V6));
    return { ingress: status?.loadBalancer?.ingress, condition: status?.conditions?.find((c) => c.type === 'mikrolb.de/LoadBalancerReady'), v6: v6.status?.phase };
  }

  it('PreferDualStack without an IPv6 address: ready on IPv4, the message names the missing family and why', async () => {
    const got = await afterProgram('PreferDualStack', ['IPv4', 'IPv6'], [family('IPv4', { phase: 'Allocated', address: '192.0.2.15', advertised: false }), family('IPv6', exhausted('IPv6'))]);
    expect(got.ingress).toEqual([{ ip: '192.0.2.15', ipMode: 'Proxy' }]);
    expect(got.condition).toMatchObject({
      status: 'True', reason: 'SecondaryFamilyUnavailable',
      message: `1 of 2 IPAllocation(s) are ready; the Service has no IPv6 address, which ipFamilyPolicy PreferDualStack allows (IPAllocation ${V6}: No auto-assign IPv6 pool exists).`,
    });
    expect(got.v6).toBe('Failed'); // kept, to be retried when an IPv6 pool appears
  });

  it('RequireDualStack: still not ready without the IPv6 address', async () => {
    const got = await afterProgram('RequireDualStack', ['IPv4', 'IPv6'], [family('IPv4', { phase: 'Allocated', address: '192.0.2.15', advertised: false }), family('IPv6', exhausted('IPv6'))]);
    expect(got.ingress).toEqual([{ ip: '192.0.2.15', ipMode: 'Proxy' }]);
    expect(got.condition).toMatchObject({ status: 'False', reason: 'PoolExhausted', message: `IPAllocation ${V6} is not ready: No auto-assign IPv6 pool exists.` });
  });

  it('PreferDualStack without an address of its first family: not ready, though the second has one', async () => {
    const got = await afterProgram('PreferDualStack', ['IPv4', 'IPv6'], [family('IPv4', exhausted('IPv4')), family('IPv6', { phase: 'Allocated', address: '2001:db8::15', advertised: false })]);
    expect(got.ingress).toEqual([{ ip: '2001:db8::15', ipMode: 'Proxy' }]);
    expect(got.condition).toMatchObject({ status: 'False', reason: 'PoolExhausted', message: `IPAllocation ${V4} is not ready: No auto-assign IPv4 pool exists.` });
  });

  it('PreferDualStack with IPv6 first: IPv4 is the family it can go without', async () => {
    const got = await afterProgram('PreferDualStack', ['IPv6', 'IPv4'], [family('IPv4', exhausted('IPv4')), family('IPv6', { phase: 'Allocated', address: '2001:db8::15', advertised: false })]);
    expect(got.condition).toMatchObject({
      status: 'True', reason: 'SecondaryFamilyUnavailable',
      message: `1 of 2 IPAllocation(s) are ready; the Service has no IPv4 address, which ipFamilyPolicy PreferDualStack allows (IPAllocation ${V4}: No auto-assign IPv4 pool exists).`,
    });
  });

  it('PreferDualStack while the first family is not ready (the router holds its address): not ready, and says why rather than naming the missing family', async () => {
    const got = await afterProgram('PreferDualStack', ['IPv4', 'IPv6'], [family('IPv4', { phase: 'Allocated', address: '192.0.2.1', advertised: false }), family('IPv6', exhausted('IPv6'))]);
    expect(got.condition).toMatchObject({ status: 'False', reason: 'AddressInUseByRouter' });
    expect(got.condition?.message).toContain(`IPAllocation ${V4} is not ready:`);
  });
});

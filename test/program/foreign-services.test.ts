import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resyncInvocation, objectInvocation } from '../../lib/events/cloudevent.js';
import type { ObjectRef } from '../../lib/events/invocation.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import { FINALIZER } from '../../lib/k8s/keys.js';
import { getService } from '../../lib/k8s/typed.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { startStack, type Stack } from './setup.js';

/**
 * A LoadBalancer Service another controller serves is never written by MikroLB, whatever
 * mikrolb.de annotations it carries: no finalizer, no allocation, no router entry, and the
 * other controller's `status.loadBalancer.ingress` stays as that controller wrote it.
 */
const kube = apiServerPort(testCluster().transport);
const make = objects(kube);
const ns = uniq('foreign');
const pool = uniq('foreign-v4');
const OTHER = { type: 'LoadBalancer', loadBalancerClass: 'example.com/other-lb' };
const THEIR_INGRESS = [{ ip: '198.51.100.7', ipMode: 'VIP' }];
let stack: Stack;

async function slice(service: string): Promise<void> {
  await kube.create('EndpointSlice', {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: `${service}-a`, namespace: ns, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.244.6.11'], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });
}

/** What the other controller does: publish its own address. */
async function publishTheirIngress(name: string): Promise<void> {
  const svc = await getService(kube, ns, name);
  if (!svc) throw new Error(`Service ${name} is gone`);
  await kube.replaceStatus('Service', { ...svc, status: { ...svc.status, loadBalancer: { ingress: THEIR_INGRESS } } });
}

/** Every function, for the Service and on resync, as the bridge would deliver them. */
async function runEverything(name: string): Promise<void> {
  const ref: ObjectRef = { kind: 'Service', namespace: ns, name };
  for (const fn of [stack.functions.allocate, stack.functions.release]) expect((await fn(objectInvocation('update', ref))).kind).toBe('done');
  expect((await stack.program.object(ref)).status).toBe(200);
  for (const fn of [stack.functions.allocate, stack.functions.release]) expect((await fn(resyncInvocation())).kind).toBe('done');
  expect((await stack.program.resync()).status).toBe(200);
}

async function expectUntouched(name: string): Promise<void> {
  const svc = await getService(kube, ns, name);
  expect(svc?.metadata.finalizers ?? []).not.toContain(FINALIZER);
  expect(svc?.status?.loadBalancer?.ingress).toEqual(THEIR_INGRESS);
  expect((svc?.status?.conditions ?? []).map((c) => c.type)).not.toContain('mikrolb.de/LoadBalancerReady');
  expect(await make.allocationsOf(ns, name)).toEqual([]);
  const uid = svc?.metadata.uid ?? '?';
  expect(Object.values(stack.sim.state().menus).flat().filter((e) => (e.comment ?? '').includes(uid))).toEqual([]);
}

beforeAll(async () => {
  stack = await startStack();
  await make.namespace(ns);
  await make.pool(pool, { ipFamily: 'IPv4', addresses: ['198.18.60.10-198.18.60.30'], autoAssign: false, interfaceName: 'ether1' });
});

afterAll(async () => {
  await make.cleanup();
  await stack.close();
});

describe('a LoadBalancer Service of another class', () => {
  it('carrying mikrolb.de/snat-ips is never written: no finalizer, its ingress stays', async () => {
    await make.service(ns, 'theirs', OTHER, { 'mikrolb.de/snat-ips': '198.18.60.20' });
    await slice('theirs');
    await publishTheirIngress('theirs');
    await runEverything('theirs');
    await expectUntouched('theirs');
  });

  it('that was a SNAT-only Service of ours is let go: router entries, allocation and finalizer go, its new ingress stays', async () => {
    await make.service(ns, 'was-ours', { type: 'ClusterIP' }, { 'mikrolb.de/snat-ips': '198.18.60.21' });
    await slice('was-ours');
    await runEverything('was-ours');
    const before = await getService(kube, ns, 'was-ours');
    expect(before?.metadata.finalizers).toContain(FINALIZER);
    const [held] = await make.allocationsOf(ns, 'was-ours');
    expect(held?.status?.address).toBe('198.18.60.21');
    expect(Object.values(stack.sim.state().menus).flat().some((e) => (e.comment ?? '').includes(before?.metadata.uid ?? '?'))).toBe(true);

    if (!before) throw new Error('Service was-ours is gone');
    await kube.replace('Service', { ...before, spec: { ...before.spec, ...OTHER } });
    await publishTheirIngress('was-ours');
    await runEverything('was-ours');
    await expectUntouched('was-ours');
  });
});

/**
 * A Service's class cannot change while it is a LoadBalancer, but it can through another type:
 * made a ClusterIP Service, it loses its class (and its ingress: the API server clears both),
 * and made a LoadBalancer again it may name any class. Both updates can come before MikroLB
 * runs at all.
 */
describe('a class changed through another type', () => {
  const asType = async (name: string, spec: Record<string, unknown>): Promise<void> => {
    const svc = await getService(kube, ns, name);
    if (!svc) throw new Error(`Service ${name} is gone`);
    const { loadBalancerClass: _class, ...rest } = svc.spec;
    await kube.replace('Service', { ...svc, spec: { ...rest, ...spec } });
  };

  it('ours, then another controller\'s: released (router entries, allocation, finalizer), its new ingress stays', async () => {
    await make.service(ns, 'to-theirs', { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' }, { 'mikrolb.de/load-balancer-pools': pool });
    await slice('to-theirs');
    await runEverything('to-theirs');
    const before = await getService(kube, ns, 'to-theirs');
    expect(before?.status?.loadBalancer?.ingress?.map((i) => i.ip)).toEqual([expect.stringMatching(/^198\.18\.60\./)]);
    expect(Object.values(stack.sim.state().menus).flat().some((e) => (e.comment ?? '').includes(before?.metadata.uid ?? '?'))).toBe(true);

    await asType('to-theirs', { type: 'ClusterIP' });
    expect((await getService(kube, ns, 'to-theirs'))?.status?.loadBalancer?.ingress).toBeUndefined();
    await asType('to-theirs', OTHER);
    await publishTheirIngress('to-theirs');
    await runEverything('to-theirs');
    await expectUntouched('to-theirs');
  });

  it('another controller\'s, then ours: allocated and published like a new Service', async () => {
    await make.service(ns, 'to-ours', OTHER, { 'mikrolb.de/load-balancer-pools': pool });
    await slice('to-ours');
    await publishTheirIngress('to-ours');
    await runEverything('to-ours');
    await expectUntouched('to-ours');

    await asType('to-ours', { type: 'NodePort' });
    await asType('to-ours', { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' });
    await runEverything('to-ours');
    await runEverything('to-ours');
    const svc = await getService(kube, ns, 'to-ours');
    const [held] = await make.allocationsOf(ns, 'to-ours');
    expect(held?.status?.phase).toBe('Programmed');
    expect(svc?.metadata.finalizers).toContain(FINALIZER);
    expect(svc?.status?.loadBalancer?.ingress).toEqual([{ ip: held?.status?.address, ipMode: 'Proxy' }]);
  });
});

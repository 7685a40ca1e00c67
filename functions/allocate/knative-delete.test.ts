import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { apiServerEvent, encode } from '../../lib/events/test-support.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { createAllocateApp } from './app.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * Under Knative Eventing the ApiServerSource sends a deleted IPAllocation whole, and allocate
 * (as program and release) heard of it as the allocation, which it can no longer read: a
 * Service whose allocation was deleted (`kubectl delete ipallocation`) was not given one again
 * until the PingSource's resync, minutes later (the bridge sends the deletion as the Service).
 * The event now names the Service its labels name, as the bridge's does.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const POOL = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.16/28'], autoAssign: true, avoidBuggyIPs: true, advertise: true }, status: { claimsAdopted: true },
};
const SERVICE = {
  apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' },
  spec: { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass, ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
};

describe("allocate under Knative Eventing: a Service's allocation deleted", () => {
  it.each(['binary', 'structured'] as const)('is made again at once (%s mode)', async (encoding) => {
    const kube = memoryPortAs('allocate', { objects: [POOL, SERVICE], now: NOW });
    const deps = { kube: kube.port, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: CLASSES };
    expect((await createAllocate(deps)(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    const allocations = async () => (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o));
    const [first] = await allocations();
    if (!first) throw new Error('no allocation');
    // released as usual (its claim freed, the finalizer dropped), then gone: the event carries its last state
    await kube.admin.remove('IPAddressClaim', first.status?.address ?? '');
    await kube.admin.replace('IPAllocation', { ...first, metadata: { ...first.metadata, finalizers: [] } });
    await kube.admin.remove('IPAllocation', first.metadata.name);
    const event = apiServerEvent({ type: 'dev.knative.apiserver.resource.delete', kind: 'IPAllocation', apiversion: 'mikrolb.de/v1alpha1', name: first.metadata.name, data: first });
    const { headers, body } = encode(event, encoding);
    const sent = new Headers();
    for (const [key, value] of Object.entries(headers)) if (typeof value === 'string') sent.set(key, value);
    const res = await createAllocateApp(deps).request('/', { method: 'POST', headers: sent, body });
    expect(res.status).toBe(200);
    const [again] = await allocations();
    expect(again?.metadata.uid).not.toBe(first.metadata.uid);
    expect([again?.status?.phase, again?.status?.address]).toEqual(['Allocated', first.status?.address]);
  });
});

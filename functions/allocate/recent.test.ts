import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { recentServices } from '../../lib/k8s/recent.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A new Service as the controller's own watch saw it saves allocate its first read; the
 * finalizer's write carries the hint's resourceVersion, so a stale hint costs a read, not a
 * wrong decision.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const objects = () => [
  { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan' },
    spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true }, status: { claimsAdopted: true } },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' },
    spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP' }] } },
];

async function setup() {
  const kube = memoryPortAs('allocate', { objects: objects(), now: NOW });
  const gets: string[] = [];
  const port: KubePort = { ...kube.port, get: (kind, ...rest) => {
    gets.push(kind);
    return kube.port.get(kind, ...rest);
  } };
  const recent = recentServices(10);
  recent.seen(await kube.admin.get('Service', 'web', 'shop'));
  const allocate = createAllocate({
    kube: port, recent, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
  });
  return { kube, gets, allocate };
}

const web = { kind: 'Service', namespace: 'shop', name: 'web' } as const;

describe('allocate starts a new Service from the watch hint', () => {
  it('without reading the Service first', async () => {
    const { kube, gets, allocate } = await setup();
    expect((await allocate(objectInvocation('add', web))).kind).toBe('done');
    expect(gets.filter((k) => k === 'Service')).toHaveLength(1); // only the re-read after creating allocations
    const [a] = (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o));
    expect(a?.status?.address).toMatch(/^192\.0\.2\./);
  });

  it('a hint the Service has moved on from costs a read, and what it says now wins', async () => {
    const { kube, gets, allocate } = await setup();
    const now = ServiceSchema.parse(await kube.admin.get('Service', 'web', 'shop'));
    await kube.admin.replace('Service', { ...now, spec: { ...now.spec, type: 'ClusterIP' } });
    expect((await allocate(objectInvocation('add', web))).kind).toBe('done');
    expect(gets.filter((k) => k === 'Service').length).toBeGreaterThanOrEqual(1);
    expect(await kube.admin.list('IPAllocation')).toEqual([]);
    expect(ServiceSchema.parse(await kube.admin.get('Service', 'web', 'shop')).metadata.finalizers ?? []).toEqual([]);
  });

  it('a Service deleted since the watch saw it is done with: nothing made, no failed run', async () => {
    // `kubectl apply` then `kubectl delete` at once: the delete's event has not reached the hint
    // yet. Before, the finalizer's write met NotFound and the run failed (500, retried, logged).
    const { kube, allocate } = await setup();
    await kube.admin.remove('Service', 'web', 'shop');
    expect((await allocate(objectInvocation('add', web))).kind).toBe('done');
    expect(await kube.admin.list('IPAllocation')).toEqual([]);
  });
});

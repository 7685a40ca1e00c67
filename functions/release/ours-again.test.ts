import { describe, expect, it } from 'vitest';
import { SERVICE_CONDITION } from '../../lib/core/program-status.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import type { MemoryPort } from '../../lib/k8s/memory.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createRelease } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A Service that stopped being ours (its type changed) is released: its allocations go, its
 * load-balancer status is cleared, then our finalizer. If it becomes ours again while release
 * runs, allocate takes it up at once (with the finalizer still on, it only adds allocations), so
 * release must not finish from its first read: clearing the status allocate wrote, and dropping
 * the finalizer of a Service we manage, left it unmanaged until the resync (chaos, seed 60606:
 * a release slowed by the router for 7 s).
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const UID = 'svc-uid-1';
const ADDRESS = '192.0.2.15';
const READY = { type: SERVICE_CONDITION, status: 'False', reason: 'AddressIPFamilyMismatch', message: 'written by allocate', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 1 };

const objects = [
  { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan' },
    spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true, interfaceName: 'ether1' }, status: { claimsAdopted: true } },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', uid: UID, generation: 1, finalizers: ['mikrolb.de/finalizer'] },
    spec: { type: 'ClusterIP', ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP' }] },
    status: { loadBalancer: { ingress: [{ ip: ADDRESS }] } } },
  { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: ADDRESS, labels: { 'mikrolb.de/pool': 'lan', 'mikrolb.de/allocation-uid': 'alloc-1' } },
    spec: { address: ADDRESS, poolName: 'lan', allocationName: 'web-v4', allocationUID: 'alloc-1' } },
  { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
    metadata: { name: 'web-v4', uid: 'alloc-1', generation: 1, finalizers: ['mikrolb.de/finalizer'], labels: { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': UID } },
    spec: { ipFamily: 'IPv4' }, status: { phase: 'Allocated', address: ADDRESS, advertised: false, observedGeneration: 1 } },
];

/** The Service made ours again, with allocate's condition on it, as release deletes the allocation. */
function ownedAgainDuringRelease() {
  let staged = false;
  const ref: { kube?: MemoryPort } = {};
  const kube = memoryPortAs('release', {
    objects, now: NOW,
    beforeWrite: async (w) => {
      const port = ref.kube?.port;
      if (staged || !port || w.kind !== 'IPAllocation') return;
      staged = true;
      const svc = ServiceSchema.parse(await port.get('Service', 'web', 'shop'));
      const ours = ServiceSchema.parse(await port.replace('Service', { ...svc, spec: { ...svc.spec, type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass } }));
      await port.replaceStatus('Service', { ...ours, status: { ...ours.status, conditions: [READY] } });
    },
  });
  ref.kube = kube;
  const log = memoryLogger();
  const release = createRelease({
    kube: kube.port, router: memoryRouter({ version: '7.19.1', menus: { '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }] } }),
    classes: CLASSES, now: NOW, log, retry: { attempts: 5, pause: async () => undefined }, claimGraceMs: 60_000,
  });
  return { kube, release, log, staged: () => staged };
}

describe('release of a Service that becomes ours again meanwhile', () => {
  it('keeps our finalizer and the status allocate wrote', async () => {
    const c = ownedAgainDuringRelease();
    const outcome = await c.release(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' }));
    expect(outcome.kind).toBe('done');
    expect(c.staged()).toBe(true);
    const svc = ServiceSchema.parse(await c.kube.admin.get('Service', 'web', 'shop'));
    expect(svc.spec.type).toBe('LoadBalancer');
    expect(svc.metadata.finalizers).toEqual(['mikrolb.de/finalizer']);
    expect(svc.status?.conditions?.map((x) => [x.type, x.reason])).toEqual([[SERVICE_CONDITION, 'AddressIPFamilyMismatch']]);
    // what it had started stays done: the allocation it read is released (allocate makes a new one)
    expect(await c.kube.admin.list('IPAddressClaim')).toEqual([]);
    // and what it says it did is what it did: the Service was not let go
    expect(c.log.entries.map((e) => e.msg)).toEqual(['Released an allocation', 'Released the allocations of a Service that is ours again']);
    expect(JSON.stringify(outcome)).toContain('kept the finalizer of Service shop/web: it is ours again');
  });
});

import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { KubeError } from '../../lib/k8s/errors.js';
import type { WriteRecord } from '../../lib/k8s/memory.js';
import { IPAllocationSchema, IPPoolSchema } from '../../lib/k8s/schemas.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * Every allocation converts the pools not yet converted to claims (adoptClaims). One pool whose
 * conversion keeps failing (here the API server refuses the claim of an address its old ledger
 * holds) must not stop the allocations of Services that do not need it: before, each of them
 * failed with that pool's error, and was retried with it for as long as the pool stayed so.
 * The pool says why (a Warning event); what needs the pool waits for it (retried).
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const RETRY = { attempts: 3, pause: async () => undefined };

const pool = (name: string, addresses: string[], created: string, status: object) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name, creationTimestamp: created, finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses, autoAssign: true, avoidBuggyIPs: true, advertise: true }, status,
});
// converted long ago; `old` is of an earlier version, its ledger naming one holder
const LAN = pool('lan', ['198.51.100.0/24'], '2025-06-01T00:00:00Z', { claimsAdopted: true });
const OLD = pool('old', ['192.0.2.0/24'], '2025-01-01T00:00:00Z', { allocations: [{ address: '192.0.2.7', allocationName: 'ip-old', allocationUID: 'uid-old' }] });
const OLD_HOLDER = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
  metadata: { name: 'ip-old', uid: 'uid-old', finalizers: ['mikrolb.de/finalizer'] },
  spec: { poolName: 'old' },
  status: { address: '192.0.2.7', poolName: 'old', phase: 'Programmed' },
};
const service = (name: string, annotations: Record<string, string> = {}) => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop', annotations },
  spec: { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass, ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
});

function setup(objects: unknown[]) {
  // the API server refuses the claim of the old ledger's address, every time
  const beforeWrite = (w: WriteRecord): void => {
    if (w.verb === 'create' && w.kind === 'IPAddressClaim' && w.name === '192.0.2.7') {
      throw new KubeError('IPAddressClaim.mikrolb.de "192.0.2.7" is invalid: metadata.labels: Invalid value', 422, 'Invalid');
    }
  };
  const kube = memoryPortAs('allocate', { objects, now: NOW, beforeWrite });
  const log = memoryLogger();
  const allocate = createAllocate({ kube: kube.port, now: NOW, log, retry: RETRY, classes: CLASSES });
  const statusOf = async (service: string) => (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o))
    .find((a) => a.metadata.labels?.['mikrolb.de/service-name'] === service)?.status;
  return { kube, log, allocate, statusOf };
}

const serviceAdded = (name: string) => objectInvocation('add', { kind: 'Service', namespace: 'shop', name });

describe('allocate with a pool whose conversion to claims keeps failing', () => {
  it('allocates a Service of another pool, and the pool says why it is not converted', async () => {
    const c = setup([LAN, OLD, OLD_HOLDER, service('web', { 'mikrolb.de/load-balancer-pools': 'lan' })]);
    expect((await c.allocate(serviceAdded('web'))).kind).toBe('done');
    expect(await c.statusOf('web')).toMatchObject({ phase: 'Allocated', address: expect.stringMatching(/^198\.51\.100\./) });

    expect(IPPoolSchema.parse(await c.kube.admin.get('IPPool', 'old')).status).not.toMatchObject({ claimsAdopted: true });
    expect(c.kube.events.filter((e) => e.regarding.kind === 'IPPool')).toEqual([
      expect.objectContaining({ type: 'Warning', reason: 'ClaimsNotAdopted', regarding: expect.objectContaining({ name: 'old' }), note: expect.stringContaining('192.0.2.7') }),
    ]);
    expect(c.log.entries.filter((e) => e.level === 'warn').map((e) => e.msg)).toContain('A pool could not be converted to address claims; it hands out nothing until it is');
  });

  it('gives a Service asking for any address one of another pool (the failing one, older, hands out nothing)', async () => {
    const c = setup([LAN, OLD, OLD_HOLDER, service('any')]);
    expect((await c.allocate(serviceAdded('any'))).kind).toBe('done');
    expect(await c.statusOf('any')).toMatchObject({ phase: 'Allocated', address: expect.stringMatching(/^198\.51\.100\./) });
  });

  it('retries what needs that pool, and records no failure it may not have', async () => {
    const c = setup([LAN, OLD, OLD_HOLDER, service('legacy', { 'mikrolb.de/load-balancer-pools': 'old' })]);
    expect((await c.allocate(serviceAdded('legacy'))).kind).not.toBe('done');
    expect((await c.statusOf('legacy'))?.phase).not.toBe('Failed');
    // its holder keeps its address and its status (its claim waits for the pool too)
    expect((await c.allocate(objectInvocation('update', { kind: 'IPAllocation', name: 'ip-old' }))).kind).not.toBe('done');
    expect(IPAllocationSchema.parse(await c.kube.admin.get('IPAllocation', 'ip-old')).status).toMatchObject({ address: '192.0.2.7', phase: 'Programmed' });
  });

  it('still wakes the allocations waiting on another pool, and retries the failing pool\'s own run', async () => {
    const waiting = {
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'reserved', uid: 'uid-reserved', finalizers: ['mikrolb.de/finalizer'] },
      spec: { poolName: 'lan' }, status: { phase: 'Failed' },
    };
    const c = setup([LAN, OLD, OLD_HOLDER, waiting]);
    expect((await c.allocate(objectInvocation('update', { kind: 'IPPool', name: 'lan' }))).kind).toBe('done');
    expect(IPAllocationSchema.parse(await c.kube.admin.get('IPAllocation', 'reserved')).status).toMatchObject({ phase: 'Allocated', address: expect.stringMatching(/^198\.51\.100\./) });
    expect((await c.allocate(objectInvocation('update', { kind: 'IPPool', name: 'old' }))).kind).not.toBe('done');
  });

  it('a pool\'s run wakes every allocation waiting on it, past one that needs the failing pool', async () => {
    const failed = (name: string, poolName: string) => ({
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name, uid: `uid-${name}`, finalizers: ['mikrolb.de/finalizer'] },
      spec: { poolName }, status: { phase: 'Failed' },
    });
    const c = setup([LAN, OLD, OLD_HOLDER, failed('a-old', 'old'), failed('b-lan', 'lan')]);
    // asked again once the failing pool is converted: this run could not decide it
    expect((await c.allocate(objectInvocation('update', { kind: 'IPPool', name: 'lan' }))).kind).not.toBe('done');
    expect(IPAllocationSchema.parse(await c.kube.admin.get('IPAllocation', 'b-lan')).status).toMatchObject({ phase: 'Allocated', address: expect.stringMatching(/^198\.51\.100\./) });
    expect(IPAllocationSchema.parse(await c.kube.admin.get('IPAllocation', 'a-old')).status).toEqual({ phase: 'Failed' });
  });
});

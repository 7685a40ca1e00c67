import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import type { Kind } from '../../lib/k8s/resources.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A Service this run gives the finalizer to cannot have allocations yet (they are made only
 * after it, and release takes them all before dropping it): allocate skips listing them.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const POOL = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan' },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true }, status: { claimsAdopted: true },
};
const service = (finalizers: string[]) => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', finalizers },
  spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP' }] },
});

function run(finalizers: string[]) {
  const kube = memoryPortAs('allocate', { objects: [POOL, service(finalizers)], now: NOW });
  const lists: Kind[] = [];
  const port = { ...kube.port, list: (kind: Kind, ...rest: Parameters<typeof kube.port.list> extends [Kind, ...infer R] ? R : never) => {
    lists.push(kind);
    return kube.port.list(kind, ...rest);
  } };
  const allocate = createAllocate({ kube: port, now: NOW, log: memoryLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false } });
  return { kube, allocate, lists };
}

const web = { kind: 'Service', namespace: 'shop', name: 'web' } as const;

describe('a new Service', () => {
  it('gets its finalizer and an allocated address without a list of allocations', async () => {
    const { kube, allocate, lists } = run([]);
    expect((await allocate(objectInvocation('add', web))).kind).toBe('done');
    const made = (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o));
    expect(made.map((a) => a.status?.phase)).toEqual(['Allocated']);
    expect(lists).not.toContain('IPAllocation');
  });

  it('one that already has the finalizer lists its allocations (and keeps the one it has)', async () => {
    const first = run([]);
    await first.allocate(objectInvocation('add', web));
    const before = (await first.kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o));
    first.lists.length = 0;
    expect((await first.allocate(objectInvocation('update', web))).kind).toBe('done');
    expect(first.lists).toContain('IPAllocation');
    const after = (await first.kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o));
    expect(after.map((a) => [a.metadata.name, a.status?.address])).toEqual(before.map((a) => [a.metadata.name, a.status?.address]));
  });
});

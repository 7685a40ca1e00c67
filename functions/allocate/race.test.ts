import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import type { KubeObject } from '../../lib/k8s/port.js';
import type { Kind } from '../../lib/k8s/resources.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs, type AccountPort } from '../test-support.js';

/**
 * allocate read a Service, then created its allocation; release may have released the Service
 * in between (finding no allocation yet). allocate reads the Service again after the creates
 * and deletes what it made for a Service that went, so nothing is left to the resync's GC.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const POOL = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan' },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true }, status: { claimsAdopted: true },
};
const SERVICE = {
  apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', finalizers: ['mikrolb.de/finalizer'] },
  spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP' }] },
};

function run(deleteServiceAfterCreate: boolean) {
  const kube = memoryPortAs('allocate', { objects: [POOL, SERVICE], now: NOW });
  const port = {
    ...kube.port,
    // the Service is deleted (release ran to completion) right after the allocation is created
    create: async (kind: Kind, obj: KubeObject): Promise<unknown> => {
      const made = await kube.port.create(kind, obj);
      if (kind === 'IPAllocation' && deleteServiceAfterCreate) {
        const svc = await kube.admin.get('Service', 'web', 'shop');
        if (svc && typeof svc === 'object' && 'metadata' in svc) await kube.admin.replace('Service', { ...SERVICE, ...svc, metadata: { ...SERVICE.metadata, finalizers: [] } });
        await kube.admin.remove('Service', 'web', 'shop');
      }
      return made;
    },
  };
  const allocate = createAllocate({ kube: port, now: NOW, log: memoryLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false } });
  return { kube, allocate };
}

const allocations = async (kube: AccountPort) => (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o));

describe('allocate racing release of a Service', () => {
  it('deletes the allocation it created for a Service that went meanwhile (its finalizer leaves the rest to release)', async () => {
    const { kube, allocate } = run(true);
    const answer = await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }));
    expect(answer.kind).toBe('done');
    expect(await kube.admin.get('Service', 'web', 'shop')).toBeUndefined();
    const left = await allocations(kube);
    expect(left).toHaveLength(1);
    expect(left[0]?.metadata.deletionTimestamp).toBeDefined();
    expect(JSON.stringify(answer)).toContain('(its Service went while it was created)');
  });

  it('keeps it while the Service stays', async () => {
    const { kube, allocate } = run(false);
    expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    const left = await allocations(kube);
    expect(left.map((a) => [a.metadata.deletionTimestamp, a.status?.phase])).toEqual([[undefined, 'Allocated']]);
  });
});

import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { poolMirror } from '../../lib/k8s/mirror.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { recordingReads } from '../../test/helpers/recording-port.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A pool's invocation (the pool or one of its claims changed) gives waiting allocations another
 * chance. A Service's allocation without a status is not waiting: the invocation that made it
 * is allocating it (and writes its status as the hand-off's precondition expects).
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const LAN = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/28'], autoAssign: true, avoidBuggyIPs: false, advertise: false }, status: { claimsAdopted: true },
};
const allocation = (name: string, labels: Record<string, string>, status?: object) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name, labels, finalizers: ['mikrolb.de/finalizer'] },
  spec: { poolName: 'lan' }, ...(status ? { status } : {}),
});
const service = (name: string) => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop', uid: `uid-${name}`, finalizers: ['mikrolb.de/finalizer'] },
  spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP' }] },
});
const OWNED = { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': 'uid-web' };

async function reconcile(objects: unknown[], opts: { mirrored?: boolean } = {}) {
  const kube = memoryPortAs('allocate', { now: NOW, objects: [LAN, ...objects] });
  const reads: string[] = [];
  const port = recordingReads(kube.port, reads);
  const pools = poolMirror();
  if (opts.mirrored) {
    const run = pools.relist();
    run.page(await kube.admin.list('IPPool'));
    run.finish();
  }
  const allocate = createAllocate({
    kube: port, now: NOW, log: silentLogger(), retry: { attempts: 3, pause: async () => undefined },
    classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, ...(opts.mirrored ? { pools } : {}),
  });
  expect((await allocate(objectInvocation('update', { kind: 'IPPool', name: 'lan' }))).kind).toBe('done');
  const status = async (name: string) => IPAllocationSchema.parse(await kube.admin.get('IPAllocation', name)).status;
  return { status, reads };
}

describe('allocate: a pool invocation', () => {
  it('retries a failed allocation and an operator reservation that never ran, not a Service’s allocation in flight', async () => {
    const { status } = await reconcile([
      service('web'), service('api'),
      allocation('failed', OWNED, { phase: 'Failed', conditions: [] }),
      allocation('reservation', {}),
      allocation('in-flight', { ...OWNED, 'mikrolb.de/service-name': 'api', 'mikrolb.de/service-uid': 'uid-api' }),
    ]);
    expect((await status('failed'))?.phase).toBe('Allocated');
    expect((await status('reservation'))?.phase).toBe('Allocated');
    expect((await status('in-flight'))).toBeUndefined();
  });

  it('reads the pool from the controller’s copy (no read of its own) when it keeps one', async () => {
    const { reads } = await reconcile([], { mirrored: true });
    expect(reads.filter((r) => r.endsWith('IPPool'))).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { resyncInvocation } from '../../lib/events/cloudevent.js';
import { KubeError } from '../../lib/k8s/errors.js';
import type { KubeObject } from '../../lib/k8s/port.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A resync converges every Service, pool and reservation: one whose run keeps failing (here the
 * API server refuses its allocation) must not starve the others, as in program's and release's
 * resyncs. Before, allocate's resync stopped at the first failure, and every Service listed
 * after it waited for an address until that one healed.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const POOL = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'pool', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/28'], autoAssign: true, avoidBuggyIPs: false, advertise: true }, status: { claimsAdopted: true },
};
const service = (name: string) => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop' },
  spec: { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass, ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
});
const RESERVATION = { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'reserved' }, spec: { address: '192.0.2.9' } };

describe('allocate: a resync with one Service that keeps failing', () => {
  it('still allocates the Services, pools and reservations after it, and asks to be retried', async () => {
    const kube = memoryPortAs('allocate', { objects: [POOL, service('a-broken'), service('b-fine'), RESERVATION], now: NOW });
    const refused = (obj: KubeObject) => IPAllocationSchema.parse(obj).metadata.labels?.['mikrolb.de/service-name'] === 'a-broken';
    const port = { ...kube.port, create: async (kind: Parameters<typeof kube.port.create>[0], obj: KubeObject) => {
      if (kind === 'IPAllocation' && refused(obj)) throw new KubeError('etcdserver: request timed out', 500, 'InternalError');
      return kube.port.create(kind, obj);
    } };
    const allocate = createAllocate({ kube: port, now: NOW, log: silentLogger(), retry: { attempts: 2, pause: async () => undefined }, classes: CLASSES });
    const outcome = await allocate(resyncInvocation());
    expect(outcome.kind).toBe('retry');
    const allocations = (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o));
    const byName = Object.fromEntries(allocations.map((a) => [a.metadata.labels?.['mikrolb.de/service-name'] ?? a.metadata.name, a.status?.address]));
    expect(byName).toEqual({ 'b-fine': expect.stringMatching(/^192\.0\.2\./), reserved: '192.0.2.9' });
  });
});

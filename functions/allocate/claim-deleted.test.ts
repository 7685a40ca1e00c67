import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { memoryPort } from '../../lib/k8s/memory.js';
import { IPAddressClaimSchema, IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';

/**
 * A claim deleted by hand (`kubectl delete ipaddressclaim`) while its allocation still holds
 * and uses the address: the bridge sends the deletion to allocate as the allocations the claim
 * named (and, a second later, as its pool). The allocation, settled as it is, checks its claim
 * and takes it again, so the pool's waiters do not get an address whose NAT rules and
 * advertisement are still the holder's. Before, allocate returned on the settled status, and
 * the pool's run gave the address to the Service waiting for it (until the resync).
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const POOL = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'one', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.7'], autoAssign: true, avoidBuggyIPs: false, advertise: true }, status: { claimsAdopted: true },
};
const service = (name: string) => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop' },
  spec: { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass, ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
});

describe('a claim deleted by hand while its allocation holds the address', () => {
  it('is taken again by that allocation, and the Service waiting on the pool does not get the address', async () => {
    const kube = memoryPort({ objects: [POOL, service('keeps'), service('waits')], now: NOW });
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: CLASSES });
    const allocationOf = async (svc: string) => (await kube.port.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o)).find((a) => a.metadata.labels?.['mikrolb.de/service-name'] === svc);
    const claim = async () => {
      const o = await kube.port.get('IPAddressClaim', '192.0.2.7');
      return o === undefined ? undefined : IPAddressClaimSchema.parse(o);
    };
    expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'keeps' }))).kind).toBe('done');
    expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'waits' }))).kind).toBe('done');
    const holder = await allocationOf('keeps');
    expect(holder?.status?.address).toBe('192.0.2.7');
    expect((await allocationOf('waits'))?.status?.phase).toBe('Failed');

    await kube.port.remove('IPAddressClaim', '192.0.2.7');
    // as the bridge sends the deletion: the holder first, then (batched) the pool
    expect((await allocate(objectInvocation('update', { kind: 'IPAllocation', name: holder?.metadata.name ?? '' }))).kind).toBe('done');
    expect((await claim())?.spec.allocationUID).toBe(holder?.metadata.uid);
    expect((await allocate(objectInvocation('update', { kind: 'IPPool', name: 'one' }))).kind).toBe('done');
    expect((await claim())?.spec.allocationUID).toBe(holder?.metadata.uid);
    expect((await allocationOf('waits'))?.status).toMatchObject({ phase: 'Failed' });
    expect((await allocationOf('waits'))?.status?.address).toBeUndefined();
    expect((await allocationOf('keeps'))?.status?.address).toBe('192.0.2.7');
  });
});

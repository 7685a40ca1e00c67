import { describe, expect, it } from 'vitest';
import { allocationName } from '../../lib/core/service.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { claimNameOf } from '../../lib/k8s/claims.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { ANNOTATION_LB_IPS } from '../../lib/k8s/keys.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { client as openClient, sim as startSim } from '../../lib/routeros/client/test-support.js';
import { createTracer } from '../../test/tracer/index.js';
import { LAN_ROUTER, lanServiceObjects, memoryPortAs } from '../test-support.js';
import { createProgram } from './handler.js';

/**
 * A Service that pins the address it holds (`mikrolb.de/load-balancer-ips` naming it) reaches
 * program as soon as allocate, if not sooner: the allocation holding the address still asks for
 * a family, and is the pinned address's allocation all the same (matchAllocations pairs it by
 * the address it holds), so the address stays on the router and in the ingress. Before, program
 * took it off and emptied the ingress until an allocation asking for it by name got it back.
 */
const UID = '7e5a0000-0000-4000-8000-0000000000cc';
const NOW = () => new Date('2026-01-01T00:00:00Z');
const NAME = allocationName(UID, { ipFamily: 'IPv4' });
const ADDRESS = '192.0.2.12';

describe('program and a Service pinning the address it holds', () => {
  it('keeps the address on the router and in the ingress before allocate took the pin up', async () => {
    const sim = await startSim({ initialState: LAN_ROUTER });
    const kube = memoryPortAs('program', {
      now: NOW,
      objects: lanServiceObjects({ uid: UID, namespace: 'shop', name: 'web', port: { name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }, pool: { addresses: ['192.0.2.10-192.0.2.20'] } }),
    });
    const made = IPAllocationSchema.parse(await kube.admin.create('IPAllocation', {
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
      metadata: { name: NAME, finalizers: ['mikrolb.de/finalizer'], labels: { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': UID } },
      spec: { ipFamily: 'IPv4' },
    }));
    await kube.admin.create('IPAddressClaim', {
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: claimNameOf(ADDRESS) ?? '' },
      spec: { address: ADDRESS, poolName: 'lan', allocationName: NAME, allocationUID: made.metadata.uid ?? '' },
    });
    await kube.admin.replaceStatus('IPAllocation', { ...made, status: { phase: 'Allocated', address: ADDRESS, advertised: false, observedGeneration: made.metadata.generation } });
    const program = createProgram({ kube: kube.port, router: openClient(sim, { timeoutMs: 5000 }), classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined } });
    const run = async () => (await program(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind;
    const ingress = async () => ServiceSchema.parse(await kube.admin.get('Service', 'web', 'shop')).status?.loadBalancer?.ingress?.map((i) => i.ip);
    const reach = () => createTracer(sim.state()).trace({ srcAddress: '203.0.113.7', srcPort: 40000, dstAddress: ADDRESS, dstPort: 80, protocol: 'tcp', inInterface: 'ether1' });

    expect(await run()).toBe('done');
    expect(await ingress()).toEqual([ADDRESS]);
    expect(reach()).toMatchObject({ ok: true, dstAddress: '10.0.0.66', dstPort: 8080 });

    const svc = ServiceSchema.parse(await kube.admin.get('Service', 'web', 'shop'));
    await kube.admin.replace('Service', { ...svc, metadata: { ...svc.metadata, annotations: { [ANNOTATION_LB_IPS]: ADDRESS } } });
    expect(await run()).toBe('done');
    expect(await ingress()).toEqual([ADDRESS]);
    expect(reach()).toMatchObject({ ok: true, dstAddress: '10.0.0.66', dstPort: 8080 });
    expect(IPAllocationSchema.parse(await kube.admin.get('IPAllocation', NAME)).status?.phase).toBe('Programmed');
  });
});

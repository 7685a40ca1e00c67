import { describe, expect, it } from 'vitest';
import type { WriteRecord } from '../../lib/k8s/memory.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { KubeError } from '../../lib/k8s/errors.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { allocationName } from '../../lib/core/service.js';
import { newProgramReport } from './deps.js';
import { createProgram } from './handler.js';
import { writeOutcomes } from './statuses.js';
import { memoryPortAs, type AccountPort } from '../test-support.js';

/**
 * An allocation deleted and gone between program's read and its status write (its Service
 * deleted and released meanwhile): nothing is left to record, and the run goes on with the
 * other allocations instead of failing as an unexpected error (500).
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const allocation = (name: string, address: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name, labels: { 'mikrolb.de/service-uid': 'uid-web' } },
  spec: { ipFamily: 'IPv4' }, status: { phase: 'Allocated', address, advertised: false, observedGeneration: 1 },
});

describe('program writing the statuses of allocations one of which went meanwhile', () => {
  it('skips the one gone and writes the other', async () => {
    const ref: { kube?: AccountPort } = {};
    let staged = false;
    const beforeWrite = async (w: WriteRecord): Promise<void> => {
      if (staged || !ref.kube || w.kind !== 'IPAllocation' || w.name !== 'ip-gone') return;
      staged = true;
      await ref.kube.admin.remove('IPAllocation', 'ip-gone');
    };
    const kube = memoryPortAs('program', { now: NOW, objects: [allocation('ip-gone', '192.0.2.7'), allocation('ip-stays', '192.0.2.8')], beforeWrite });
    ref.kube = kube;
    const read = await Promise.all(['ip-gone', 'ip-stays'].map(async (n) => IPAllocationSchema.parse(await kube.admin.get('IPAllocation', n))));
    const programmed = { kind: 'advertised' as const, interfaceName: 'ether1' };
    const deps = { kube: kube.port, router: memoryRouter({ version: '7.19.1', menus: {} }), classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined } };
    const written = await writeOutcomes(deps, read, new Map([['ip-gone', programmed], ['ip-stays', programmed]]), newProgramReport());
    expect(staged).toBe(true);
    expect(written.map((a) => [a.metadata.name, a.status?.phase])).toEqual([['ip-stays', 'Programmed']]);
    expect(await kube.admin.get('IPAllocation', 'ip-stays')).toMatchObject({ status: { phase: 'Programmed', address: '192.0.2.8' } });
  });
});

/** A Service of ours holding one allocated address (its pool, claim and allocation). */
function serviceWithAllocation(uid: string, address: string, name: string): unknown[] {
  return [
    { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', generation: 1 },
      spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true, interfaceName: 'ether1' }, status: { claimsAdopted: true } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', uid, generation: 1, finalizers: ['mikrolb.de/finalizer'], annotations: { 'mikrolb.de/load-balancer-ips': address } },
      spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] } },
    { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: address, labels: { 'mikrolb.de/pool': 'lan', 'mikrolb.de/allocation-uid': 'alloc-1' } },
      spec: { address, poolName: 'lan', allocationName: name, allocationUID: 'alloc-1' } },
    { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name, uid: 'alloc-1', generation: 1, finalizers: ['mikrolb.de/finalizer'],
      labels: { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': uid } },
      spec: { address }, status: { phase: 'Allocated', address, advertised: false, observedGeneration: 1 } },
  ];
}

describe('program writing the status of a Service that went meanwhile', () => {
  it('has nothing to write and is done', async () => {
    const uid = '5e1f0000-0000-4000-8000-0000000000b2';
    const address = '192.0.2.15';
    const name = allocationName(uid, { address });
    const objects = serviceWithAllocation(uid, address, name);
    const ref: { kube?: AccountPort } = {};
    let serviceWrites = 0;
    const beforeWrite = async (w: WriteRecord): Promise<void> => {
      if (!ref.kube || w.kind !== 'Service' || w.subresource !== 'status') return;
      serviceWrites++;
      // the first (carrying the read's resourceVersion) meets a change; before the second the Service is deleted and gone
      if (serviceWrites === 1) throw new KubeError('the object has been modified', 409, 'Conflict');
      const svc = ServiceSchema.parse(await ref.kube.admin.get('Service', 'web', 'shop'));
      await ref.kube.admin.replace('Service', { ...svc, metadata: { ...svc.metadata, finalizers: [] } });
      await ref.kube.admin.remove('Service', 'web', 'shop');
    };
    const kube = memoryPortAs('program', { now: NOW, objects, beforeWrite });
    ref.kube = kube;
    const router = memoryRouter({ version: '7.19.1', menus: { '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }], '/ip/address': [{ '.id': '*10', address: '192.0.2.1/24', interface: 'ether1' }] } });
    const program = createProgram({ kube: kube.port, router, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined } });
    const outcome = await program(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' }));
    expect(serviceWrites).toBe(2);
    expect(await kube.admin.get('Service', 'web', 'shop')).toBeUndefined();
    expect(outcome.kind).toBe('done');
  });
});

describe('program writing the status of a Service that stopped being a LoadBalancer meanwhile', () => {
  it('leaves its status to release: no ingress on a ClusterIP Service (the API server refuses one)', async () => {
    const uid = '5e1f0000-0000-4000-8000-0000000000b3';
    const address = '192.0.2.16';
    const name = allocationName(uid, { address });
    const objects = serviceWithAllocation(uid, address, name);
    const ref: { kube?: AccountPort } = {};
    let serviceWrites = 0;
    const staged = (): boolean => serviceWrites >= 2;
    const beforeWrite = async (w: WriteRecord): Promise<void> => {
      if (staged() || !ref.kube || w.kind !== 'Service' || w.subresource !== 'status') return;
      serviceWrites++;
      // the first write (proving the read unchanged) meets another writer's change; program
      // settles, then the user makes it a ClusterIP Service just before the status write
      if (serviceWrites === 1) throw new KubeError('the object has been modified', 409, 'Conflict');
      const svc = ServiceSchema.parse(await ref.kube.admin.get('Service', 'web', 'shop'));
      const { loadBalancerClass: _class, ...spec } = svc.spec;
      await ref.kube.admin.replace('Service', { ...svc, spec: { ...spec, type: 'ClusterIP' } });
    };
    const kube = memoryPortAs('program', { now: NOW, objects, beforeWrite });
    ref.kube = kube;
    const router = memoryRouter({ version: '7.19.1', menus: { '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }], '/ip/address': [{ '.id': '*10', address: '192.0.2.1/24', interface: 'ether1' }] } });
    const program = createProgram({ kube: kube.port, router, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined } });
    const outcome = await program(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' }));
    expect(staged()).toBe(true);
    expect(outcome.kind).toBe('done');
    const svc = ServiceSchema.parse(await kube.admin.get('Service', 'web', 'shop'));
    expect(svc.spec.type).toBe('ClusterIP');
    expect(svc.status?.loadBalancer?.ingress ?? []).toEqual([]);
  });
});

describe('program on an API server that drops ipMode (Kubernetes 1.29 and older, LoadBalancerIPMode off)', () => {
  it('writes the ingress once: the stored {ip} without ipMode is what it wrote', async () => {
    const uid = '5e1f0000-0000-4000-8000-0000000000b4';
    const address = '192.0.2.17';
    const kube = memoryPortAs('program', { now: NOW, objects: serviceWithAllocation(uid, address, allocationName(uid, { address })) });
    let ingressWrites = 0;
    // such a server stores a Service's status without the ipMode it was given
    const port: KubePort = {
      ...kube.port,
      replaceStatus: async (kind, obj) => {
        if (kind !== 'Service') return kube.port.replaceStatus(kind, obj);
        ingressWrites++;
        const svc = ServiceSchema.parse(obj);
        const ingress = svc.status?.loadBalancer?.ingress?.map(({ ipMode: _mode, ...rest }) => rest);
        return kube.port.replaceStatus(kind, { ...svc, status: { ...svc.status, loadBalancer: { ...svc.status?.loadBalancer, ingress } } });
      },
    };
    const router = memoryRouter({ version: '7.19.1', menus: { '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }], '/ip/address': [{ '.id': '*10', address: '192.0.2.1/24', interface: 'ether1' }] } });
    const program = createProgram({ kube: port, router, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined } });
    const svcRef = { kind: 'Service' as const, namespace: 'shop', name: 'web' };
    expect((await program(objectInvocation('update', svcRef))).kind).toBe('done');
    expect(ServiceSchema.parse(await kube.admin.get('Service', 'web', 'shop')).status?.loadBalancer?.ingress).toEqual([{ ip: address }]);
    const written = ingressWrites;
    // the Service's next events, and every resync: nothing to write
    for (let i = 0; i < 3; i++) expect((await program(objectInvocation('update', svcRef))).kind).toBe('done');
    expect(ingressWrites).toBe(written);
  });
});

import { describe, expect, it } from 'vitest';
import { allocationName } from '../../lib/core/service.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { EndpointSliceSchema, ServiceSchema } from '../../lib/k8s/core-objects.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createProgram } from './handler.js';
import { recordingReads } from '../../test/helpers/recording-port.js';
import { memoryPortAs } from '../test-support.js';

/**
 * After its router write, program writes the statuses with the resourceVersions it read
 * before: when each object takes its write unchanged, nothing was released meanwhile and the
 * re-read of the Service and its allocations is skipped. (The interleavings where something
 * was: race.test.ts.)
 */
const UID = '0a1b2c3d-0000-4000-8000-000000000009';
const ALLOC_UID = '0a1b2c3d-0000-4000-8000-0000000000a9';
const LB_IP = '192.0.2.25';
const ALLOC = allocationName(UID, { ipFamily: 'IPv4' });
const NOW = () => new Date('2026-01-01T00:00:00Z');

const objects = () => [
  { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', uid: 'pool-uid', resourceVersion: '1', generation: 1 },
    spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true, interfaceName: 'ether1' }, status: { claimsAdopted: true } },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', uid: UID, resourceVersion: '2', finalizers: ['mikrolb.de/finalizer'] },
    spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] } },
  { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-abc', namespace: 'shop', uid: 'es-uid', resourceVersion: '3', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.11'], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
  { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: ALLOC, uid: ALLOC_UID, resourceVersion: '4', generation: 1, finalizers: ['mikrolb.de/finalizer'],
    labels: { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': UID } },
    spec: { ipFamily: 'IPv4' }, status: { phase: 'Allocated', address: LB_IP, advertised: false } },
];

function setup(beforeStatusWrite?: (kube: KubePort) => Promise<void>, opts: { failed?: boolean } = {}) {
  // failed: the allocation as allocate left it when the address was taken (retried on a change of its pool)
  const failed = { phase: 'Failed', conditions: [{ type: 'Ready', status: 'False', reason: 'AddressAlreadyUsed', message: 'taken', lastTransitionTime: '2026-01-01T00:00:00Z' }] };
  const seeded = opts.failed ? objects().map((o) => (o.kind === 'IPAllocation' ? { ...o, status: failed } : o)) : objects();
  const kube = memoryPortAs('program', { objects: seeded, now: NOW });
  const reads: string[] = [];
  let once = beforeStatusWrite;
  const port: KubePort = {
    ...recordingReads(kube.port, reads),
    replaceStatus: async (kind, obj) => {
      const hook = once;
      once = undefined;
      if (hook) await hook(kube.admin);
      return kube.port.replaceStatus(kind, obj);
    },
  };
  const router = memoryRouter({ version: '7.19.1', menus: { '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }] } });
  const program = createProgram({
    kube: port, router,
    classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined },
  });
  return { kube, program, reads, router };
}

const web = { kind: 'Service', namespace: 'shop', name: 'web' } as const;

describe('program proves nothing changed by writing the statuses it read', () => {
  it('reads the Service and its allocations once when both take their write', async () => {
    const { kube, program, reads } = setup();
    expect((await program(objectInvocation('update', web))).kind).toBe('done');
    expect(reads.filter((r) => r === 'get Service' || r === 'list IPAllocation')).toEqual(['get Service', 'list IPAllocation']);
    const svc = ServiceSchema.parse(await kube.admin.get('Service', 'web', 'shop'));
    expect(svc.status?.loadBalancer?.ingress).toEqual([{ ip: LB_IP, ipMode: 'Proxy' }]);
    expect(IPAllocationSchema.parse(await kube.admin.get('IPAllocation', ALLOC)).status?.phase).toBe('Programmed');
  });

  it('reads again when an object changed after its read (here: the Service, just before the first status write)', async () => {
    const { kube, program, reads } = setup(async (k) => {
      const svc = ServiceSchema.parse(await k.get('Service', 'web', 'shop'));
      await k.replace('Service', { ...svc, metadata: { ...svc.metadata, labels: { touched: 'yes' } } });
    });
    expect((await program(objectInvocation('update', web))).kind).toBe('done');
    expect(reads.filter((r) => r === 'get Service').length).toBeGreaterThanOrEqual(2);
    const svc = ServiceSchema.parse(await kube.admin.get('Service', 'web', 'shop'));
    expect(svc.status?.loadBalancer?.ingress).toEqual([{ ip: LB_IP, ipMode: 'Proxy' }]);
    expect(IPAllocationSchema.parse(await kube.admin.get('IPAllocation', ALLOC)).status?.phase).toBe('Programmed');
  });
});

describe('an endpoint change of a programmed Service', () => {
  // No status changes, so nothing proves that no other run wrote the router meanwhile; but a
  // write that only sets entries cannot leave one doubled, so the router is not read again.
  it('is one narrowed read and one write of the router', async () => {
    const { kube, program, router } = setup();
    expect((await program(objectInvocation('update', web))).kind).toBe('done');
    const slice = EndpointSliceSchema.parse(await kube.admin.get('EndpointSlice', 'web-abc', 'shop'));
    await kube.admin.replace('EndpointSlice', { ...slice, endpoints: [{ addresses: ['10.0.0.12'], conditions: { ready: true } }] });
    const before = { roundTrips: router.roundTrips, ops: router.ops.length };
    expect((await program(objectInvocation('update', web))).kind).toBe('done');
    const ops = router.ops.slice(before.ops);
    expect(ops.map((op) => op.op)).toEqual(['set']);
    expect(router.roundTrips - before.roundTrips).toBe(2);
    const targets = (router.state().menus['/ip/firewall/nat'] ?? []).filter((e) => e.action === 'dst-nat').map((e) => e['to-addresses']);
    expect(targets).toEqual(['10.0.0.12']);
  });

  it('that adds a rule reads the router once more, for a rule another run may have added too', async () => {
    const { kube, program, router } = setup();
    expect((await program(objectInvocation('update', web))).kind).toBe('done');
    const slice = EndpointSliceSchema.parse(await kube.admin.get('EndpointSlice', 'web-abc', 'shop'));
    await kube.admin.replace('EndpointSlice', { ...slice, endpoints: ['10.0.0.11', '10.0.0.12'].map((ip) => ({ addresses: [ip], conditions: { ready: true } })) });
    const before = { roundTrips: router.roundTrips, ops: router.ops.length };
    expect((await program(objectInvocation('update', web))).kind).toBe('done');
    expect(router.ops.slice(before.ops).some((op) => op.op === 'add')).toBe(true);
    expect(router.roundTrips - before.roundTrips).toBe(3);
  });
});

describe('a program run that read the allocations before a concurrent run recorded the address', () => {
  // e.g. program woken by a new slice while allocate, retrying a Failed allocation, recorded
  // its address and a second program run published it: the first run's Service write meets
  // that one's, and its retry must not take the ingress back (an allocation allocate has not
  // recorded anything in yet is left alone altogether: program.test.ts)
  it('reads the allocations again with the Service after a conflict, and keeps the ingress', async () => {
    const handoff = async (k: KubePort): Promise<void> => {
      const a = IPAllocationSchema.parse(await k.get('IPAllocation', ALLOC));
      await k.replaceStatus('IPAllocation', { ...a, status: {
        phase: 'Programmed', address: LB_IP, advertised: true, interfaceName: 'ether1', observedGeneration: 1,
        conditions: [{ type: 'Ready', status: 'True', reason: 'Programmed', message: 'advertised', lastTransitionTime: '2026-01-01T00:00:00Z' }],
      } });
      const svc = ServiceSchema.parse(await k.get('Service', 'web', 'shop'));
      await k.replaceStatus('Service', { ...svc, status: { loadBalancer: { ingress: [{ ip: LB_IP, ipMode: 'Proxy' }] } } });
    };
    const { kube, program } = setup(handoff, { failed: true });
    expect((await program(objectInvocation('update', web))).kind).toBe('done');
    const svc = ServiceSchema.parse(await kube.admin.get('Service', 'web', 'shop'));
    expect(svc.status?.loadBalancer?.ingress).toEqual([{ ip: LB_IP, ipMode: 'Proxy' }]);
  });
});

import { describe, expect, it } from 'vitest';
import { createProgram } from '../program/handler.js';
import { allocationName } from '../../lib/core/service.js';
import { objectInvocation, resyncInvocation } from '../../lib/events/cloudevent.js';
import type { ObjectRef } from '../../lib/events/invocation.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { silentLogger } from '../../lib/log/logger.js';
import type { RouterState } from '../../lib/router/state.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createRelease } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A Service being deleted is taken apart in one invocation that writes against what it read:
 * one read of the Service, none of its allocations, each allocation deleted finalizer-first (no
 * deletion pending on our finalizer, whose update would wake release again).
 */

const UID = '5e1f0000-0000-4000-8000-0000000000a1';
const IPS = ['192.0.2.15', '192.0.2.16'];
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const NOW = () => new Date('2026-01-01T00:00:00Z');
const WEB: ObjectRef = { kind: 'Service', namespace: 'shop', name: 'web' };
const SEED: RouterState = {
  version: '7.19.1',
  menus: {
    '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }, { '.id': '*2', name: 'bridge', type: 'bridge' }],
    '/ip/address': [{ '.id': '*10', address: '192.0.2.1/24', interface: 'ether1' }, { '.id': '*11', address: '10.0.0.1/24', interface: 'bridge' }],
  },
};

function cluster() {
  const held = IPS.map((address, i) => ({ address, name: allocationName(UID, { address }), uid: `alloc-${i}` }));
  return [
    { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', uid: 'pool-uid', generation: 1 },
      spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true, interfaceName: 'ether1' },
      status: { claimsAdopted: true } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', uid: UID, generation: 1, finalizers: ['mikrolb.de/finalizer'],
      annotations: { 'mikrolb.de/load-balancer-ips': IPS.join(',') } },
      spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] } },
    { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-abc', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.11'], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
    ...held.map((h) => ({
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim',
      metadata: { name: h.address, labels: { 'mikrolb.de/pool': 'lan', 'mikrolb.de/allocation-uid': h.uid } },
      spec: { address: h.address, poolName: 'lan', allocationName: h.name, allocationUID: h.uid },
    })),
    ...held.map((h) => ({
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
      metadata: { name: h.name, uid: h.uid, generation: 1, finalizers: ['mikrolb.de/finalizer'],
        labels: { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': UID } },
      spec: { address: h.address }, status: { phase: 'Allocated', address: h.address, advertised: false, observedGeneration: 1 },
    })),
  ];
}

/** The port, counting its reads by verb and kind. */
function counting(port: KubePort): { port: KubePort; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  const count = (what: string): void => void reads.set(what, (reads.get(what) ?? 0) + 1);
  return {
    reads,
    port: {
      ...port,
      get: (kind, name, namespace) => (count(`get ${kind}`), port.get(kind, name, namespace)),
      list: (kind, opts) => (count(`list ${kind}`), port.list(kind, opts)),
    },
  };
}

describe('releasing a Service being deleted', () => {
  it('reads the Service once and its allocations only in their list, deletes each allocation finalizer-first, and leaves nothing behind', async () => {
    const kube = memoryPortAs('release', { now: NOW, objects: cluster() });
    const router = memoryRouter(SEED);
    const common = { classes: CLASSES, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, router };
    expect((await createProgram({ ...common, kube: kube.as('program') })(objectInvocation('update', WEB))).kind).toBe('done');
    const ours = () => Object.values(router.state().menus).flat().filter((e) => (e.comment ?? '').includes(`svc=${UID}:`));
    expect(ours().length).toBeGreaterThan(0);

    await kube.admin.remove('Service', 'web', 'shop'); // pending on our finalizer
    const counted = counting(kube.port);
    const writesBefore = kube.writes.length;
    const release = createRelease({ ...common, kube: counted.port, claimGraceMs: 60_000 });
    expect((await release(objectInvocation('update', WEB))).kind).toBe('done');

    expect(await Promise.all((['Service', 'IPAllocation', 'IPAddressClaim'] as const).map((kind) => kube.admin.list(kind)))).toEqual([[], [], []]);
    expect(ours()).toEqual([]);
    // (whether the pool of the freed addresses is being deleted: here read, once for both, in the
    // controller answered by the watch's copy of the pools)
    expect(Object.fromEntries(counted.reads)).toEqual({ 'get Service': 1, 'list IPAllocation': 1, 'list IPAddressClaim': 2, 'get IPPool': 1 });
    const allocationWrites = kube.writes.slice(writesBefore).filter((w) => w.kind === 'IPAllocation').map((w) => `${w.verb} ${w.name}`);
    expect(allocationWrites).toEqual(IPS.flatMap((address) => [`update ${allocationName(UID, { address })}`, `delete ${allocationName(UID, { address })}`]));
  });
});

describe('releasing one allocation of a live Service while allocate records another', () => {
  // The all-in-one hand-off writes the router for a new allocation before its status: a re-plan
  // of the Service from the allocations as listed then would take that address's entries off,
  // and the Programmed status that follows wakes nobody. Release waits for the status instead.
  it('asks to be retried, changing nothing, until the other allocation\'s status is written; then takes off only its own address', async () => {
    const router = memoryRouter(SEED);
    const common = { classes: CLASSES, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, router };
    const programmed = memoryPortAs('release', { now: NOW, objects: cluster() });
    expect((await createProgram({ ...common, kube: programmed.as('program') })(objectInvocation('update', WEB))).kind).toBe('done');
    const advertised = () => (router.state().menus['/ip/address'] ?? []).filter((e) => (e.comment ?? '').includes(`svc=${UID}:`)).map((e) => e.address).sort();
    expect(advertised()).toEqual(IPS.map((ip) => `${ip}/32`));
    const before = structuredClone(router.state());

    const [gone = '', recording = ''] = IPS.map((address) => allocationName(UID, { address }));
    const objects = cluster().map((o) => {
      if (o.kind !== 'IPAllocation') return o;
      if (o.metadata.name === gone) return { ...o, metadata: { ...o.metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } };
      return Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'status'));
    });
    const kube = memoryPortAs('release', { now: NOW, objects });
    const release = createRelease({ ...common, kube: kube.port, claimGraceMs: 60_000 });
    const ref = { kind: 'IPAllocation', name: gone } as const;
    expect(await release(objectInvocation('update', ref))).toMatchObject({ kind: 'retry', reason: 'Conflict', retryAfterSeconds: 1, message: expect.stringContaining(recording) });
    expect(router.state()).toEqual(before);
    expect(kube.writes).toEqual([]);

    const a = IPAllocationSchema.parse(await kube.admin.get('IPAllocation', recording));
    await kube.admin.replaceStatus('IPAllocation', { ...a, status: { phase: 'Programmed', address: IPS[1], advertised: true, interfaceName: 'ether1', observedGeneration: 1 } });
    expect((await release(objectInvocation('update', ref))).kind).toBe('done');
    expect(advertised()).toEqual([`${IPS[1]}/32`]);
    expect(await kube.admin.get('IPAllocation', gone)).toBeUndefined();
  });
});

describe('the resync over Services', () => {
  it('reads again only a Service listed with something to release: not one of ours that lives on, nor one without our finalizer', async () => {
    const others = [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'plain', namespace: 'shop', uid: 'uid-plain', generation: 1 }, spec: { type: 'ClusterIP', ports: [{ port: 80, protocol: 'TCP' }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'left', namespace: 'shop', uid: 'uid-left', generation: 2, finalizers: ['mikrolb.de/finalizer'] }, spec: { type: 'ClusterIP', ports: [{ port: 80, protocol: 'TCP' }] } },
    ];
    const kube = memoryPortAs('release', { now: NOW, objects: [...cluster(), ...others] });
    const router = memoryRouter(SEED);
    const common = { classes: CLASSES, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, router };
    expect((await createProgram({ ...common, kube: kube.as('program') })(objectInvocation('update', WEB))).kind).toBe('done');
    const entries = structuredClone(router.state().menus);
    const counted = counting(kube.port);
    const release = createRelease({ ...common, kube: counted.port, claimGraceMs: 60_000 });
    expect((await release(resyncInvocation())).kind).toBe('done');
    // `left` (no longer a LoadBalancer, still holding our finalizer) is read and released; `web`
    // (ours, live) and `plain` (never ours) only listed
    expect(counted.reads.get('get Service')).toBe(1);
    expect(ServiceSchema.parse(await kube.admin.get('Service', 'left', 'shop')).metadata.finalizers ?? []).toEqual([]);
    expect(router.state().menus).toEqual(entries);
    expect(await kube.admin.list('IPAllocation')).toHaveLength(IPS.length);
  });
});

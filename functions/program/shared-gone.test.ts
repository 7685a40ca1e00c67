import { describe, expect, it } from 'vitest';
import { createRelease } from '../release/handler.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import type { ObjectRef } from '../../lib/events/invocation.js';
import { EndpointSliceSchema } from '../../lib/k8s/core-objects.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import type { RouterPort } from '../../lib/router/port.js';
import type { RouterState } from '../../lib/router/state.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createTracer } from '../../test/tracer/index.js';
import { createProgram } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A program run whose Service (the only holder of a shared address) was deleted and released
 * while it wrote put the address's own entries (advertisement, LB list entry) back; its settle
 * finds the Service gone and the claim freed, and takes them off again. Another Service of the
 * key may claim the freed address (it tries the key's address first) and be programmed between
 * that check and the removal: its program found the entries standing and wrote none, and the
 * removal left it Programmed with its address neither advertised nor in the LB list until its
 * next program run. The settle reads the claim again after the removal, and programs whoever
 * shares the address now.
 */
const NOW = () => new Date('2026-01-01T01:00:00Z');
const OLD = '2026-01-01T00:00:00Z';
const ADDRESS = '192.0.2.10';
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const F = ['mikrolb.de/finalizer'];
const A: ObjectRef = { kind: 'Service', namespace: 'shop', name: 'a' };
const B: ObjectRef = { kind: 'Service', namespace: 'shop', name: 'b' };

const service = (name: string, port: number) => ({
  apiVersion: 'v1', kind: 'Service',
  metadata: { name, namespace: 'shop', uid: `svc-${name}`, finalizers: F, annotations: { 'mikrolb.de/allow-shared-ip': 'k' } },
  spec: { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass, ipFamilies: ['IPv4'], ports: [{ name: 'p', port, protocol: 'TCP', targetPort: port + 8000 }] },
});
const slice = (name: string, endpoint: string, port: number) => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-1`, namespace: 'shop', labels: { 'kubernetes.io/service-name': name } },
  addressType: 'IPv4', endpoints: [{ addresses: [endpoint], conditions: { ready: true } }], ports: [{ name: 'p', port: port + 8000, protocol: 'TCP' }],
});
const allocation = (name: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
  metadata: { name, uid: `uid-${name}`, finalizers: F, labels: { 'mikrolb.de/service-uid': `svc-${name}`, 'mikrolb.de/service-name': name, 'mikrolb.de/service-namespace': 'shop' } },
  spec: { ipFamily: 'IPv4' }, status: { phase: 'Programmed', address: ADDRESS, advertised: true },
});
const claimOf = (name: string, port: number) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim',
  metadata: { name: ADDRESS, creationTimestamp: OLD, labels: { 'mikrolb.de/pool': 'lan', 'mikrolb.de/allocation-uid': `uid-${name}`, 'mikrolb.de/service-uid': `svc-${name}` } },
  spec: { address: ADDRESS, poolName: 'lan', allocationName: name, allocationUID: `uid-${name}`, sharingKey: 'k', holders: [{ allocationName: name, allocationUID: `uid-${name}`, ports: [{ protocol: 'TCP', port }], joinedAt: OLD }] },
});
const pool = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', uid: 'pool-uid', finalizers: F },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.10-192.0.2.20'], autoAssign: true, advertise: true, interfaceName: 'ether1' }, status: { claimsAdopted: true },
};
const SEED: RouterState = {
  version: '7.19.1',
  menus: {
    '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }, { '.id': '*2', name: 'bridge', type: 'bridge' }],
    '/ip/address': [{ '.id': '*10', address: '192.0.2.1/24', interface: 'ether1' }, { '.id': '*11', address: '10.0.0.1/24', interface: 'bridge' }],
  },
};

describe('a sharing Service released while program writes, its address claimed by another Service of the key meanwhile', () => {
  it('leaves the new holder its address advertised and in the LB list', async () => {
    const kube = memoryPortAs('program', { now: NOW, objects: [pool, service('a', 80), slice('a', '10.0.0.11', 80), allocation('a'), claimOf('a', 80), service('b', 443), slice('b', '10.0.0.22', 443)] });
    const router = memoryRouter(SEED);
    const common = { kube: kube.port, classes: CLASSES, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined } };
    const run = async (fn: ReturnType<typeof createProgram>, ref: ObjectRef) => (await fn(objectInvocation('update', ref))).kind;
    const plain = createProgram({ ...common, router });
    const release = createRelease({ ...common, kube: kube.as('release'), router, claimGraceMs: 60_000 });
    expect(await run(plain, A)).toBe('done');
    // a's endpoints change: program has a write to make
    const s = EndpointSliceSchema.parse(await kube.admin.get('EndpointSlice', 'a-1', 'shop'));
    await kube.admin.replace('EndpointSlice', { ...s, endpoints: [{ addresses: ['10.0.0.12'], conditions: { ready: true } }] });

    let stage: 'write' | 'settle' | 'done' = 'write';
    let wholeReads = 0;
    const racing: RouterPort = {
      ...router,
      execute: async (ops) => {
        if (stage === 'write') {
          stage = 'settle';
          // a is deleted and released before program's write lands: its claim is freed
          await kube.admin.remove('Service', 'a', 'shop');
          expect(await run(release, A)).toBe('done');
          expect(await kube.admin.get('IPAddressClaim', ADDRESS)).toBeUndefined();
        }
        return router.execute(ops);
      },
      readMany: async (menus) => {
        // the whole reads are the settle's (program's own are narrowed): the Service's entries
        // off, and the freed address's, at once; b comes before the second is read
        if (stage === 'settle' && ++wholeReads === 2) {
          stage = 'done';
          expect(await kube.admin.get('Service', 'a', 'shop')).toBeUndefined();
          // program's settle found a gone and the claim freed; b (key k) claims the address and
          // is programmed before the address's entries are taken off
          const created = IPAllocationSchema.parse(await kube.admin.create('IPAllocation', allocation('b')));
          await kube.admin.replaceStatus('IPAllocation', { ...created, status: allocation('b').status });
          await kube.admin.create('IPAddressClaim', claimOf('b', 443));
          expect(await run(plain, B)).toBe('done');
        }
        return router.readMany(menus);
      },
    };
    expect(await run(createProgram({ ...common, router: racing }), A)).toBe('done');
    expect(stage).toBe('done');

    const comments = Object.values(router.state().menus).flat().map((e) => e.comment ?? '');
    expect(comments.filter((c) => c.includes('svc=svc-a:'))).toEqual([]);
    expect(comments.filter((c) => c.includes(`svc=ip-${ADDRESS}:`)).sort()).toEqual([`mikrolb:default:svc=ip-${ADDRESS}:adv:${ADDRESS}`, `mikrolb:default:svc=ip-${ADDRESS}:lb-list:${ADDRESS}`]);
    const t = createTracer(router.state()).trace({ srcAddress: '203.0.113.7', srcPort: 40000, dstAddress: ADDRESS, dstPort: 443, protocol: 'tcp', inInterface: 'ether1' });
    expect(t).toMatchObject({ ok: true, dstAddress: '10.0.0.22', dstPort: 8443 });
  });
});

import { describe, expect, it } from 'vitest';
import { createRelease } from '../release/handler.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import type { ObjectRef } from '../../lib/events/invocation.js';
import { EndpointSliceSchema } from '../../lib/k8s/core-objects.js';
import type { KubeObject } from '../../lib/k8s/port.js';
import { silentLogger } from '../../lib/log/logger.js';
import type { RouterPort } from '../../lib/router/port.js';
import type { RouterState } from '../../lib/router/state.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createProgram } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A claim that exists but is none we can read (made by hand or by another tool: a field
 * missing, or a spec naming another address than its name) holds its address for someone else:
 * none of ours shares it, so a shared address's own entries (its advertisement, its LB list
 * entry) do not stay there for it, and nobody of ours is programmed as its holder. Program read
 * such a claim where it checks whether an address is shared (the claim's own event, a Service
 * with a sharing key, the settle of a released Service's shared address) and failed with 500 on
 * it, retried without end.
 */
const NOW = () => new Date('2026-01-01T01:00:00Z');
const OLD = '2026-01-01T00:00:00Z';
const ADDRESS = '192.0.2.10';
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const F = ['mikrolb.de/finalizer'];
const A: ObjectRef = { kind: 'Service', namespace: 'shop', name: 'a' };

const service = (name: string) => ({
  apiVersion: 'v1', kind: 'Service',
  metadata: { name, namespace: 'shop', uid: `svc-${name}`, finalizers: F, annotations: { 'mikrolb.de/allow-shared-ip': 'k' } },
  spec: { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass, ipFamilies: ['IPv4'], ports: [{ name: 'p', port: 80, protocol: 'TCP', targetPort: 8080 }] },
});
const slice = (name: string) => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-1`, namespace: 'shop', labels: { 'kubernetes.io/service-name': name } },
  addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.11'], conditions: { ready: true } }], ports: [{ name: 'p', port: 8080, protocol: 'TCP' }],
});
const allocation = (name: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
  metadata: { name, uid: `uid-${name}`, finalizers: F, labels: { 'mikrolb.de/service-uid': `svc-${name}`, 'mikrolb.de/service-name': name, 'mikrolb.de/service-namespace': 'shop' } },
  spec: { ipFamily: 'IPv4' }, status: { phase: 'Programmed', address: ADDRESS, advertised: true },
});
const sharedClaim = (name: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim',
  metadata: { name: ADDRESS, creationTimestamp: OLD, labels: { 'mikrolb.de/pool': 'lan', 'mikrolb.de/allocation-uid': `uid-${name}`, 'mikrolb.de/service-uid': `svc-${name}` } },
  spec: { address: ADDRESS, poolName: 'lan', allocationName: name, allocationUID: `uid-${name}`, sharingKey: 'k', holders: [{ allocationName: name, allocationUID: `uid-${name}`, ports: [{ protocol: 'TCP', port: 80 }], joinedAt: OLD }] },
});
/** Made by hand: no allocationUID. */
const handMade = (name: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name }, spec: { address: name, poolName: 'lan', allocationName: 'by-hand' },
});
/** Valid to the schema, but its spec names another address than its name (and a holder of ours, shared). */
const misnamed = (name: string) => ({ ...sharedClaim('a'), metadata: { name }, spec: { ...sharedClaim('a').spec, address: '198.51.100.1' } });
const UNREADABLE = [['missing a field', handMade], ['naming another address', misnamed]] as const;
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
const SHARED_ENTRIES = [`mikrolb:default:svc=ip-${ADDRESS}:adv:${ADDRESS}`, `mikrolb:default:svc=ip-${ADDRESS}:lb-list:${ADDRESS}`];

/** Service a holds ADDRESS alone, its claim shared under key k, programmed. */
async function programmed() {
  const kube = memoryPortAs('program', { now: NOW, objects: [pool, service('a'), slice('a'), allocation('a'), sharedClaim('a')] });
  const router = memoryRouter(structuredClone(SEED));
  const common = { kube: kube.port, classes: CLASSES, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined } };
  const program = createProgram({ ...common, router });
  const release = createRelease({ ...common, kube: kube.as('release'), router, claimGraceMs: 60_000 });
  expect((await program(objectInvocation('update', A))).kind).toBe('done');
  const comments = () => Object.values(router.state().menus).flat().flatMap((e) => (e.comment ? [e.comment] : []));
  expect(comments().filter((c) => c.includes(`svc=ip-${ADDRESS}:`)).sort()).toEqual(SHARED_ENTRIES);
  /** The claim replaced by one we cannot read. */
  const replace = async (make: (name: string) => KubeObject) => {
    await kube.admin.remove('IPAddressClaim', ADDRESS);
    await kube.admin.create('IPAddressClaim', make(ADDRESS));
    return kube.admin.get('IPAddressClaim', ADDRESS);
  };
  return { kube, router, common, program, release, comments, replace };
}

describe('program: an IPAddressClaim event for a claim it cannot read, at a shared address', () => {
  it.each(UNREADABLE.flatMap(([what, make]) => (['update', 'delete'] as const).map((change) => [what, change, make] as const)))(
    'takes the address\'s own entries off and programs no holder of it (a claim %s, %s); the claim left as it is', async (_, change, make) => {
      const t = await programmed();
      const before = await t.replace(make);
      expect((await t.program(objectInvocation(change, { kind: 'IPAddressClaim', name: ADDRESS }))).kind).toBe('done');
      expect(t.comments().filter((c) => c.includes(`svc=ip-${ADDRESS}:`))).toEqual([]);
      expect(await t.kube.admin.get('IPAddressClaim', ADDRESS)).toEqual(before);
    });
});

describe('program: a Service with a sharing key whose address a claim it cannot read holds now', () => {
  // the address's own entries go with the claim's event (above); allocate moves the allocation
  // off the address (functions/allocate/unreadable-claim.test.ts)
  it.each(UNREADABLE)('is answered, the address not planned as shared (a claim %s); the claim left as it is', async (_, make) => {
    const t = await programmed();
    const before = await t.replace(make);
    expect((await t.program(objectInvocation('update', A))).kind).toBe('done');
    expect(t.comments().filter((c) => /svc=svc-a:(adv|lb-list):/.test(c)).sort()).toEqual([`mikrolb:default:svc=svc-a:adv:${ADDRESS}`, `mikrolb:default:svc=svc-a:lb-list:${ADDRESS}`]);
    expect(await t.kube.admin.get('IPAddressClaim', ADDRESS)).toEqual(before);
  });
});

describe('program: a sharing Service released while program writes, its address claimed at once with a claim program cannot read', () => {
  it.each(UNREADABLE)('takes the address\'s entries off again and leaves the claim (a claim %s)', async (_, make) => {
    const t = await programmed();
    // a's endpoints change: program has a write to make
    const s = EndpointSliceSchema.parse(await t.kube.admin.get('EndpointSlice', 'a-1', 'shop'));
    await t.kube.admin.replace('EndpointSlice', { ...s, endpoints: [{ addresses: ['10.0.0.12'], conditions: { ready: true } }] });
    let raced = false;
    const racing: RouterPort = {
      ...t.router,
      execute: async (ops) => {
        if (!raced) {
          raced = true;
          // a is deleted and released before program's write lands; someone else claims its address
          await t.kube.admin.remove('Service', 'a', 'shop');
          expect((await t.release(objectInvocation('update', A))).kind).toBe('done');
          expect(await t.kube.admin.get('IPAddressClaim', ADDRESS)).toBeUndefined();
          await t.kube.admin.create('IPAddressClaim', make(ADDRESS));
        }
        return t.router.execute(ops);
      },
    };
    const before = await (async () => {
      expect((await createProgram({ ...t.common, router: racing })(objectInvocation('update', A))).kind).toBe('done');
      return t.kube.admin.get('IPAddressClaim', ADDRESS);
    })();
    expect(raced).toBe(true);
    expect(t.comments().filter((c) => c.includes('svc=svc-a:') || c.includes(`svc=ip-${ADDRESS}:`))).toEqual([]);
    expect(before).toMatchObject({ metadata: { name: ADDRESS }, spec: make(ADDRESS).spec });
  });
});

import { describe, expect, it } from 'vitest';
import { createProgram } from '../program/handler.js';
import { allocationName } from '../../lib/core/service.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import type { ObjectRef } from '../../lib/events/invocation.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import type { RouterState } from '../../lib/router/state.js';
import { createRelease } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * Release acts on router entries only for owners that are really gone or really the
 * allocation's: an IPAllocation forged with another live Service's `mikrolb.de/service-uid`
 * label (and then deleted) must not take that Service's entries with it.
 */

const WEB = '7c1e2a9a-0000-4000-8000-000000000001';
const OLD = '7c1e2a9a-0000-4000-8000-0000000000d1';
const API = '7c1e2a9a-0000-4000-8000-0000000000e1';
const RES = '7c1e2a9a-0000-4000-8000-0000000000f1';
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const NOW = () => new Date('2026-01-01T00:00:00Z');
const SEED: RouterState = {
  version: '7.19.1',
  menus: {
    '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }],
    '/ip/address': [{ '.id': '*10', address: '192.0.2.1/24', interface: 'ether1' }],
  },
};

const labels = (l: { ns?: string; name?: string; uid?: string }): Record<string, string> => ({
  ...(l.ns ? { 'mikrolb.de/service-namespace': l.ns } : {}),
  ...(l.name ? { 'mikrolb.de/service-name': l.name } : {}),
  ...(l.uid ? { 'mikrolb.de/service-uid': l.uid } : {}),
});

function allocation(name: string, uid: string, address: string, l: Record<string, string>) {
  return {
    apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
    metadata: { name, uid, finalizers: ['mikrolb.de/finalizer'], labels: l },
    spec: { address }, status: { phase: 'Allocated', address, advertised: false },
  };
}

function service(name: string, uid: string, address: string) {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name, namespace: 'shop', uid, finalizers: ['mikrolb.de/finalizer'], annotations: { 'mikrolb.de/load-balancer-ips': address } },
    spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
  };
}

const slice = (svc: string, ip: string) => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${svc}-x`, namespace: 'shop', labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4', endpoints: [{ addresses: [ip], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
});

const LEDGER = [
  ['192.0.2.15', allocationName(WEB, { address: '192.0.2.15' }), 'a-web'],
  ['192.0.2.16', allocationName(OLD, { address: '192.0.2.16' }), 'a-old'],
  ['192.0.2.17', allocationName(API, { address: '192.0.2.17' }), 'a-api'],
  ['192.0.2.20', 'reserved-gw', RES],
] as const;

/** web, api and old programmed on the router; old is then gone (its finalizer dropped by hand). */
async function setup() {
  const kube = memoryPortAs('release', {
    now: NOW,
    objects: [
      { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', finalizers: ['mikrolb.de/finalizer'] },
        spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true, interfaceName: 'ether1' },
        status: { allocations: LEDGER.map(([address, allocationName, allocationUID]) => ({ address, allocationName, allocationUID })) } },
      service('web', WEB, '192.0.2.15'), slice('web', '10.0.0.11'),
      service('old', OLD, '192.0.2.16'), slice('old', '10.0.0.12'),
      service('api', API, '192.0.2.17'), slice('api', '10.0.0.13'),
      allocation(allocationName(WEB, { address: '192.0.2.15' }), 'a-web', '192.0.2.15', labels({ ns: 'shop', name: 'web', uid: WEB })),
      allocation(allocationName(OLD, { address: '192.0.2.16' }), 'a-old', '192.0.2.16', labels({ ns: 'shop', name: 'old', uid: OLD })),
      allocation(allocationName(API, { address: '192.0.2.17' }), 'a-api', '192.0.2.17', labels({ ns: 'shop', name: 'api', uid: API })),
      allocation('reserved-gw', RES, '192.0.2.20', {}),
    ],
  });
  const router = memoryRouter(SEED);
  const common = { kube: kube.port, classes: CLASSES, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, router };
  const program = createProgram({ ...common, kube: kube.as('program') });
  const release = createRelease({ ...common, claimGraceMs: 60_000 });
  const run = async (fn: typeof program, ref: ObjectRef) => expect((await fn(objectInvocation('update', ref))).kind).toBe('done');
  for (const name of ['web', 'old', 'api']) await run(program, { kind: 'Service', namespace: 'shop', name });
  await run(program, { kind: 'IPAllocation', name: 'reserved-gw' });
  const old = ServiceSchema.parse(await kube.admin.get('Service', 'old', 'shop'));
  await kube.admin.replace('Service', { ...old, metadata: { ...old.metadata, finalizers: [] } });
  await kube.admin.remove('Service', 'old', 'shop');
  expect(await kube.admin.get('Service', 'old', 'shop')).toBeUndefined();
  const entries = (uid: string): string[] => Object.entries(router.state().menus)
    .flatMap(([menu, list]) => list.filter((e) => (e.comment ?? '').includes(`svc=${uid}:`)).map((e) => `${menu} ${e.comment ?? ''}`)).sort();
  /** Creates the allocation, deletes it (the finalizer holds it) and runs release for it. */
  const releaseForged = async (name: string, l: Record<string, string>, address = '192.0.2.77'): Promise<void> => {
    await kube.admin.create('IPAllocation', allocation(name, `uid-${name}`, address, l));
    // what allocate would have written (create drops the status, as the API server does)
    const created = IPAllocationSchema.parse(await kube.admin.get('IPAllocation', name));
    await kube.admin.replaceStatus('IPAllocation', { ...created, status: { phase: 'Allocated', address, advertised: false } });
    await kube.admin.remove('IPAllocation', name);
    await run(release, { kind: 'IPAllocation', name });
    expect(await kube.admin.get('IPAllocation', name)).toBeUndefined();
  };
  return { kube, router, release, run, entries, releaseForged };
}

describe('release with a forged mikrolb.de/service-uid label', () => {
  it('the programmed state the cases start from: web, api, old and the reservation have entries', async () => {
    const s = await setup();
    for (const uid of [WEB, API, OLD, RES]) expect(s.entries(uid).length, uid).toBeGreaterThan(0);
    expect(s.entries(WEB)).toContain('/ip/address mikrolb:default:svc=7c1e2a9a-0000-4000-8000-000000000001:adv:192.0.2.15');
  });

  it.each([
    ['only the uid label of a live Service', { uid: WEB }],
    ['the uid of a live Service with the name of a Service that does not exist', { ns: 'shop', name: 'nobody', uid: WEB }],
    ['the uid of a live Service with the name of another live Service', { ns: 'shop', name: 'api', uid: WEB }],
    ['all three labels of a live Service', { ns: 'shop', name: 'web', uid: WEB }],
  ])('%s: that Service keeps its router entries', async (_story, l) => {
    const s = await setup();
    const web = s.entries(WEB);
    const api = s.entries(API);
    await s.releaseForged('evil', labels(l));
    expect(s.entries(WEB)).toEqual(web);
    expect(s.entries(API)).toEqual(api);
  });

  it('the uid of an operator reservation: the reservation keeps its router entries', async () => {
    const s = await setup();
    const reserved = s.entries(RES);
    await s.releaseForged('evil', labels({ uid: RES }));
    expect(s.entries(RES)).toEqual(reserved);
  });

  it('an allocation of a Service that is really gone: that Service\'s entries go, no one else\'s', async () => {
    const s = await setup();
    const web = s.entries(WEB);
    await s.run(s.release, { kind: 'IPAllocation', name: allocationName(OLD, { address: '192.0.2.16' }) });
    expect(s.entries(OLD).length).toBeGreaterThan(0); // not deleting yet: release leaves it alone
    await s.kube.admin.remove('IPAllocation', allocationName(OLD, { address: '192.0.2.16' }));
    await s.run(s.release, { kind: 'IPAllocation', name: allocationName(OLD, { address: '192.0.2.16' }) });
    expect(s.entries(OLD)).toEqual([]);
    expect(s.entries(WEB)).toEqual(web);
  });

  it('a genuine allocation of a live Service: only its own address leaves the router', async () => {
    const s = await setup();
    const api = s.entries(API);
    await s.kube.admin.remove('IPAllocation', allocationName(WEB, { address: '192.0.2.15' }));
    await s.run(s.release, { kind: 'IPAllocation', name: allocationName(WEB, { address: '192.0.2.15' }) });
    expect(s.entries(WEB).filter((e) => e.includes('192.0.2.15'))).toEqual([]);
    expect(s.entries(API)).toEqual(api);
  });
});

import { describe, expect, it } from 'vitest';
import { objectInvocation, parseCloudEvent } from '../../lib/events/cloudevent.js';
import { apiServerEvent, encode } from '../../lib/events/test-support.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { IPAddressClaimSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import type { RouterState } from '../../lib/router/state.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createProgram } from '../program/handler.js';
import { createRelease } from './handler.js';
import { memoryPortAs, type AccountPort } from '../test-support.js';

/**
 * A claim that exists but is none we can read (made by hand or by another tool: a field
 * missing, or a spec naming another address than its name) is someone else's holding: its
 * address is not ours to free, and not free either. Release read such a claim wherever it reads
 * one (the claim's own event, the claim of a deleted allocation's address, the claim of an
 * address a released allocation or its Service's other allocations held, the claim of a shared
 * address whose last holder left) and failed with 500 on it, retried without end — under
 * Knative a claim's own events go straight to release. Now it finds nothing of ours in it and
 * leaves it as it is.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const OLD = '2025-12-01T00:00:00Z';
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const F = ['mikrolb.de/finalizer'];
const pool = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', uid: 'pool-uid', creationTimestamp: OLD, finalizers: F },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/28'], autoAssign: true, avoidBuggyIPs: false, advertise: true, interfaceName: 'ether1' }, status: { claimsAdopted: true },
};
/** Made by hand: no allocationUID. */
const handMade = (name: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name }, spec: { address: name, poolName: 'lan', allocationName: 'by-hand' },
});
/** Valid to the schema, but its spec names another address than its name. */
const misnamed = (name: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name }, spec: { address: '198.51.100.1', poolName: 'lan', allocationName: 'elsewhere', allocationUID: 'elsewhere-uid' },
});
const UNREADABLE = [['missing a field', handMade], ['naming another address', misnamed]] as const;
const SEED: RouterState = {
  version: '7.19.1',
  menus: {
    '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }, { '.id': '*2', name: 'bridge', type: 'bridge' }],
    '/ip/address': [{ '.id': '*10', address: '192.0.2.1/24', interface: 'ether1' }, { '.id': '*11', address: '10.0.0.1/24', interface: 'bridge' }],
  },
};
const service = (annotations: Record<string, string> = {}) => ({
  apiVersion: 'v1', kind: 'Service',
  metadata: { name: 'web', namespace: 'shop', uid: 'svc-web', finalizers: F, annotations },
  spec: { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass, ipFamilies: ['IPv4'], ports: [{ name: 'p', port: 80, protocol: 'TCP', targetPort: 8080 }] },
});
const slice = {
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.11'], conditions: { ready: true } }], ports: [{ name: 'p', port: 8080, protocol: 'TCP' }],
};
const allocation = (name: string, address: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
  metadata: { name, uid: `uid-${name}`, finalizers: F, labels: { 'mikrolb.de/service-uid': 'svc-web', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-namespace': 'shop' } },
  spec: { ipFamily: 'IPv4' }, status: { phase: 'Programmed', address, advertised: true },
});
const claimOf = (name: string, address: string, sharingKey?: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim',
  metadata: { name: address, creationTimestamp: OLD, labels: { 'mikrolb.de/pool': 'lan', 'mikrolb.de/allocation-uid': `uid-${name}`, 'mikrolb.de/service-uid': 'svc-web' } },
  spec: {
    address, poolName: 'lan', allocationName: name, allocationUID: `uid-${name}`,
    ...(sharingKey ? { sharingKey, holders: [{ allocationName: name, allocationUID: `uid-${name}`, ports: [{ protocol: 'TCP', port: 80 }], joinedAt: OLD }] } : {}),
  },
});

function setUp(objects: object[], opts: { racing?: (kube: AccountPort) => KubePort; router?: RouterState } = {}) {
  const { racing } = opts;
  const kube = memoryPortAs('release', { now: NOW, objects });
  const router = memoryRouter(structuredClone(opts.router ?? SEED));
  const common = { now: NOW, log: silentLogger(), retry: { attempts: 3, pause: async () => undefined }, classes: CLASSES, router };
  const release = createRelease({ ...common, kube: racing?.(kube) ?? kube.port, claimGraceMs: 60_000 });
  const program = createProgram({ ...common, kube: kube.as('program') });
  const claim = (name: string) => kube.admin.get('IPAddressClaim', name);
  const comments = () => Object.values(router.state().menus).flat().flatMap((e) => (e.comment ? [e.comment] : []));
  return { kube, router, release, program, claim, comments };
}

describe('release: an IPAddressClaim event for a claim it cannot read', () => {
  it.each(UNREADABLE.flatMap(([what, make]) => (['add', 'update', 'delete'] as const).map((change) => [what, change, make] as const)))(
    'is answered (a claim %s, %s), the claim left as it is', async (_, change, make) => {
      const unreadable = make('192.0.2.5');
      const t = setUp([pool, unreadable]);
      const before = await t.claim('192.0.2.5');
      expect((await t.release(objectInvocation(change, { kind: 'IPAddressClaim', name: '192.0.2.5' }))).kind).toBe('done');
      expect(await t.claim('192.0.2.5')).toEqual(before);
    });

  it.each(UNREADABLE)('is the claim of a deleted allocation\'s address (a claim %s): left as it is, the event answered', async (_, make) => {
    const t = setUp([pool, make('192.0.2.5')]);
    const before = await t.claim('192.0.2.5');
    const data = { ...allocation('gone-1', '192.0.2.5'), metadata: { ...allocation('gone-1', '192.0.2.5').metadata, finalizers: [] } };
    const parsed = parseCloudEvent(encode(apiServerEvent({ type: 'dev.knative.apiserver.resource.delete', kind: 'IPAllocation', apiversion: 'mikrolb.de/v1alpha1', name: 'gone-1', namespace: '', data }), 'binary'));
    if (!parsed.ok) throw new Error(parsed.message);
    expect((await t.release(parsed.invocation)).kind).toBe('done');
    expect(await t.claim('192.0.2.5')).toEqual(before);
  });
});

describe('release: an allocation being deleted whose address a claim it cannot read holds now', () => {
  it.each(UNREADABLE)('an operator reservation (a claim %s): its entries and finalizer go, the claim stays as it is', async (_, make) => {
    const reservation = {
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
      metadata: { name: 'res-1', uid: 'uid-res', finalizers: F, deletionTimestamp: '2025-12-31T00:00:00Z' },
      spec: { address: '192.0.2.5' }, status: { phase: 'Programmed', address: '192.0.2.5', advertised: true },
    };
    const advertised = { '.id': '*20', address: '192.0.2.5/32', interface: 'ether1', comment: 'mikrolb:default:svc=uid-res:adv:192.0.2.5' };
    const t = setUp([pool, reservation, make('192.0.2.5')], { router: { ...SEED, menus: { ...SEED.menus, '/ip/address': [...(SEED.menus['/ip/address'] ?? []), advertised] } } });
    expect(t.comments()).toContain(advertised.comment);
    const before = await t.claim('192.0.2.5');
    expect((await t.release(objectInvocation('update', { kind: 'IPAllocation', name: 'res-1' }))).kind).toBe('done');
    expect(await t.kube.admin.get('IPAllocation', 'res-1')).toBeUndefined();
    expect(t.comments().filter((c) => c.includes('uid-res'))).toEqual([]);
    expect(await t.claim('192.0.2.5')).toEqual(before);
  });

  it.each(UNREADABLE)('another allocation of its sharing Service (a claim %s): the Service is re-planned, the released one\'s claim freed, that claim left', async (_, make) => {
    const t = setUp([pool, service({ 'mikrolb.de/allow-shared-ip': 'k' }), slice, allocation('web-1', '192.0.2.5'), claimOf('web-1', '192.0.2.5'), allocation('web-2', '192.0.2.6'), make('192.0.2.6')]);
    const before = await t.claim('192.0.2.6');
    await t.kube.admin.remove('IPAllocation', 'web-1');
    expect((await t.release(objectInvocation('update', { kind: 'IPAllocation', name: 'web-1' }))).kind).toBe('done');
    expect(await t.kube.admin.get('IPAllocation', 'web-1')).toBeUndefined();
    expect(await t.claim('192.0.2.5')).toBeUndefined();
    expect(await t.claim('192.0.2.6')).toEqual(before);
  });
});

describe('release: the last holder of a shared address leaves, and a claim it cannot read is made there at once', () => {
  it.each(UNREADABLE)('takes the address\'s own entries off and leaves that claim (a claim %s)', async (_, make) => {
    const t = setUp([pool, service({ 'mikrolb.de/allow-shared-ip': 'k' }), slice, allocation('web-1', '192.0.2.5'), claimOf('web-1', '192.0.2.5', 'k')], { racing: (kube) => ({
      ...kube.port,
      remove: async (kind, name, namespace, pre) => {
        await kube.port.remove(kind, name, namespace, pre);
        // someone else claims the freed address, with a claim we cannot read
        if (kind === 'IPAddressClaim') await kube.admin.create('IPAddressClaim', make(name));
      },
    }) });
    expect((await t.program(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    expect(t.comments().filter((c) => c.includes('svc=ip-192.0.2.5:'))).not.toEqual([]);
    await t.kube.admin.remove('IPAllocation', 'web-1');
    const answer = await t.release(objectInvocation('update', { kind: 'IPAllocation', name: 'web-1' }));
    expect(answer.kind).toBe('done');
    expect(await t.kube.admin.get('IPAllocation', 'web-1')).toBeUndefined();
    expect(t.comments().filter((c) => c.includes('192.0.2.5'))).toEqual([]);
    expect(await t.claim('192.0.2.5')).toMatchObject({ metadata: { name: '192.0.2.5' }, spec: make('192.0.2.5').spec });
  });
});

describe('release: the claim of a released allocation turns into one it cannot read while it frees it', () => {
  it.each(UNREADABLE)('is someone else\'s now: left as it is, the allocation released (a claim %s)', async (_, make) => {
    let changed = false;
    const t = setUp([pool, service(), slice, allocation('web-1', '192.0.2.5'), claimOf('web-1', '192.0.2.5')], { racing: (kube) => ({
      ...kube.port,
      remove: async (kind, name, namespace, pre) => {
        if (kind === 'IPAddressClaim' && !changed) {
          // rewritten by hand (or by another tool) after release read it
          changed = true;
          const current = IPAddressClaimSchema.parse(await kube.admin.get(kind, name));
          await kube.admin.replace(kind, { ...current, spec: make(name).spec });
        }
        return kube.port.remove(kind, name, namespace, pre);
      },
    }) });
    await t.kube.admin.remove('IPAllocation', 'web-1');
    expect((await t.release(objectInvocation('update', { kind: 'IPAllocation', name: 'web-1' }))).kind).toBe('done');
    expect(changed).toBe(true);
    expect(await t.kube.admin.get('IPAllocation', 'web-1')).toBeUndefined();
    expect(await t.claim('192.0.2.5')).toMatchObject({ metadata: { name: '192.0.2.5' }, spec: make('192.0.2.5').spec });
  });
});

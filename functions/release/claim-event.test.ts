import { describe, expect, it } from 'vitest';
import { objectInvocation, parseCloudEvent } from '../../lib/events/cloudevent.js';
import { apiServerEvent, encode } from '../../lib/events/test-support.js';
import { silentLogger } from '../../lib/log/logger.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createRelease } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A freed address (its claim deleted) lets a pool being deleted finish: release looks at the
 * pool the claim came from, found from the address in the claim's name, and at no other.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const deletingPool = (name: string, cidr: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool',
  metadata: { name, creationTimestamp: '2025-12-01T00:00:00Z', deletionTimestamp: '2025-12-31T00:00:00Z', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses: [cidr], autoAssign: true, avoidBuggyIPs: false, advertise: false },
});
const claim = (address: string, poolName: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: address, labels: { 'mikrolb.de/pool': poolName } },
  spec: { address, poolName, allocationName: 'gone-1', allocationUID: 'uid-gone' },
});

async function onClaim(change: 'add' | 'update' | 'delete', name: string, objects: unknown[], router = memoryRouter({ version: '7.19.1', menus: {} })) {
  const kube = memoryPortAs('release', { now: NOW, objects });
  const release = createRelease({
    kube: kube.port, router, now: NOW, log: silentLogger(),
    retry: { attempts: 3, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, claimGraceMs: 60_000,
  });
  const answer = await release(objectInvocation(change, { kind: 'IPAddressClaim', name }));
  const left = (await kube.admin.list('IPPool')).length;
  return { answer, kube, left };
}

describe('release: an IPAddressClaim event', () => {
  it('lets the pool the freed address belonged to finish its deletion, and no other', async () => {
    const { answer, kube } = await onClaim('delete', '192.0.2.5', [deletingPool('lan', '192.0.2.0/28'), deletingPool('dmz', '198.51.100.0/28')]);
    expect(answer.kind).toBe('done');
    expect(await kube.admin.get('IPPool', 'lan')).toBeUndefined();
    expect(await kube.admin.get('IPPool', 'dmz')).toBeDefined();
  });

  it('looks at the pool a claim still there names', async () => {
    const { answer, kube } = await onClaim('add', '192.0.2.5', [deletingPool('lan', '192.0.2.0/28'), deletingPool('dmz', '198.51.100.0/28'), claim('192.0.2.5', 'dmz')]);
    expect(answer.kind).toBe('done');
    expect(await kube.admin.get('IPPool', 'lan')).toBeDefined();
    expect((await kube.admin.list('IPPool')).length).toBe(1);
  });

  it('does nothing for a name that is no address', async () => {
    const { answer, left } = await onClaim('delete', 'forged', [deletingPool('lan', '192.0.2.0/28')]);
    expect(answer.kind).toBe('done');
    expect(left).toBe(1);
  });
});

/**
 * An IPAllocation deleted without its release (its finalizer taken off by hand) leaves its
 * claim, and its router entries: the bridge sends its deletion to release as that claim, which
 * frees the address for the allocations waiting on the pool — entries first (the router refuses
 * a second advertisement of the address, which the next holder's program would write).
 */
describe('release: the claim of an allocation deleted without its release', () => {
  const pool = { ...deletingPool('lan', '192.0.2.0/28'), metadata: { name: 'lan', creationTimestamp: '2025-12-01T00:00:00Z', finalizers: ['mikrolb.de/finalizer'] } };
  const reservation = (uid: string) => ({
    apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'gone-1', uid, finalizers: ['mikrolb.de/finalizer'] },
    spec: { address: '192.0.2.5' }, status: { phase: 'Programmed', address: '192.0.2.5' },
  });
  const advertised = () => memoryRouter({
    version: '7.19.1',
    menus: {
      '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }],
      '/ip/address': [
        { '.id': '*5', address: '192.0.2.5/32', interface: 'ether1', comment: 'mikrolb:default:svc=uid-gone:adv:192.0.2.5' },
        { '.id': '*6', address: '192.0.2.6/32', interface: 'ether1', comment: 'mikrolb:default:svc=uid-other:adv:192.0.2.6' },
      ],
    },
  });
  const addresses = (router: ReturnType<typeof memoryRouter>) => (router.state().menus['/ip/address'] ?? []).map((e) => e.address);

  it('frees the claim and takes its holder\'s router entries off, and no one else\'s', async () => {
    const router = advertised();
    const { answer, kube } = await onClaim('update', '192.0.2.5', [pool, claim('192.0.2.5', 'lan')], router);
    expect(answer.kind).toBe('done');
    expect(await kube.admin.get('IPAddressClaim', '192.0.2.5')).toBeUndefined();
    expect(addresses(router)).toEqual(['192.0.2.6/32']);
  });

  it('lets a pool being deleted that waited for it finish', async () => {
    const { kube } = await onClaim('update', '192.0.2.5', [deletingPool('lan', '192.0.2.0/28'), claim('192.0.2.5', 'lan')]);
    expect(await kube.admin.get('IPAddressClaim', '192.0.2.5')).toBeUndefined();
    expect(await kube.admin.get('IPPool', 'lan')).toBeUndefined();
  });

  it('keeps a claim whose holder lives, and its entries', async () => {
    const router = advertised();
    const { kube } = await onClaim('update', '192.0.2.5', [pool, reservation('uid-gone'), claim('192.0.2.5', 'lan')], router);
    expect(await kube.admin.get('IPAddressClaim', '192.0.2.5')).toBeDefined();
    expect(addresses(router)).toEqual(['192.0.2.5/32', '192.0.2.6/32']);
  });

  it('frees a claim whose holder was made again under its name (another uid)', async () => {
    const { kube } = await onClaim('update', '192.0.2.5', [pool, reservation('uid-new'), claim('192.0.2.5', 'lan')]);
    expect(await kube.admin.get('IPAddressClaim', '192.0.2.5')).toBeUndefined();
  });

  it('reads no holder for a new claim (its allocation made it)', async () => {
    const { kube } = await onClaim('add', '192.0.2.5', [pool, claim('192.0.2.5', 'lan')]);
    expect(await kube.admin.get('IPAddressClaim', '192.0.2.5')).toBeDefined();
  });
});

/**
 * Under Knative Eventing the ApiServerSource sends a deleted allocation of a Service whole, and
 * release heard of it as that Service (it names the Service for allocate and program): with
 * the Service gone too, release found nothing to read, and the claim the allocation left held
 * its address for nobody — from the allocations waiting on the pool, and from a pool being
 * deleted — until the resync. The event names the claim of the address the allocation held,
 * as the bridge's route does: release frees it of its gone holder.
 */
describe("release: a Service's allocation deleted without its release, as the ApiServerSource sends it", () => {
  const pool = { ...deletingPool('lan', '192.0.2.0/28'), metadata: { name: 'lan', creationTimestamp: '2025-12-01T00:00:00Z', finalizers: ['mikrolb.de/finalizer'] } };
  const allocation = {
    apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
    metadata: { name: 'gone-1', uid: 'uid-gone', labels: { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': 'uid-web' } },
    spec: { ipFamily: 'IPv4' }, status: { phase: 'Programmed', address: '192.0.2.5' },
  };
  const serviceClaim = { ...claim('192.0.2.5', 'lan'), metadata: { name: '192.0.2.5', labels: { 'mikrolb.de/pool': 'lan', 'mikrolb.de/service-uid': 'uid-web' } } };

  it.each(['binary', 'structured'] as const)('frees the claim it left (%s mode)', async (encoding) => {
    const kube = memoryPortAs('release', { now: NOW, objects: [pool, serviceClaim] });
    const release = createRelease({
      kube: kube.port, router: memoryRouter({ version: '7.19.1', menus: {} }), now: NOW, log: silentLogger(),
      retry: { attempts: 3, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, claimGraceMs: 60_000,
    });
    const event = apiServerEvent({ type: 'dev.knative.apiserver.resource.delete', kind: 'IPAllocation', apiversion: 'mikrolb.de/v1alpha1', name: 'gone-1', namespace: '', data: allocation });
    const parsed = parseCloudEvent(encode(event, encoding));
    if (!parsed.ok) throw new Error(parsed.message);
    expect((await release(parsed.invocation)).kind).toBe('done');
    expect(await kube.admin.get('IPAddressClaim', '192.0.2.5')).toBeUndefined();
  });
});

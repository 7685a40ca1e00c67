import { describe, expect, it } from 'vitest';
import { resyncInvocation } from '../../lib/events/cloudevent.js';
import { IPAddressClaimSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import type { RouterState } from '../../lib/router/state.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createRelease } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * The resync's garbage collection judges each holder of a shared claim alone: a holder whose
 * allocation is gone leaves, the others keep the address and the address's router entries;
 * once nobody holds it, the claim and those entries go.
 */
const NOW = () => new Date('2026-01-01T01:00:00Z');
const OLD = '2026-01-01T00:00:00Z';
const ADDRESS = '192.0.2.10';
const ADV = `mikrolb:default:svc=ip-${ADDRESS}:adv:${ADDRESS}`;

const holder = (name: string, port: number) => ({ allocationName: name, allocationUID: `uid-${name}`, ports: [{ protocol: 'TCP', port }], joinedAt: OLD });
const claim = (holders: ReturnType<typeof holder>[]) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim',
  metadata: { name: ADDRESS, creationTimestamp: OLD, labels: { 'mikrolb.de/pool': 'lan', 'mikrolb.de/allocation-uid': holders[0]?.allocationUID ?? '' } },
  spec: { address: ADDRESS, poolName: 'lan', allocationName: holders[0]?.allocationName, allocationUID: holders[0]?.allocationUID, sharingKey: 'web', holders },
});
const reservation = (name: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name, uid: `uid-${name}` },
  spec: { address: ADDRESS }, status: { phase: 'Allocated', address: ADDRESS, advertised: false },
});
const seed = (): RouterState => ({
  version: '7.19.1',
  menus: {
    '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }],
    '/ip/address': [{ '.id': '*9', address: `${ADDRESS}/32`, interface: 'ether1', comment: ADV }],
  },
});

async function resync(objects: object[]) {
  const kube = memoryPortAs('release', { now: NOW, objects });
  const router = memoryRouter(seed());
  const release = createRelease({
    kube: kube.port, router, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
    now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, claimGraceMs: 60_000,
  });
  expect((await release(resyncInvocation())).kind).toBe('done');
  const raw = await kube.admin.get('IPAddressClaim', ADDRESS);
  const adverts = (await router.readMany(['/ip/address']))['/ip/address'] ?? [];
  return { claim: raw ? IPAddressClaimSchema.parse(raw) : undefined, adverts: adverts.map((e) => e.comment) };
}

describe('garbage collection of shared claims', () => {
  it('a gone holder leaves; the live one keeps the address and its advertisement', async () => {
    const got = await resync([claim([holder('gone', 443), holder('live', 80)]), reservation('live')]);
    expect(got.claim?.spec).toMatchObject({ allocationName: 'live', allocationUID: 'uid-live', holders: [holder('live', 80)] });
    expect(got.claim?.metadata.labels?.['mikrolb.de/allocation-uid']).toBe('uid-live');
    expect(got.adverts).toEqual([ADV]);
  });

  it('the last holder gone: the claim and the address entries go', async () => {
    const got = await resync([claim([holder('gone', 443)])]);
    expect(got.claim).toBeUndefined();
    expect(got.adverts).toEqual([]);
  });
});

describe('garbage collection of a claim made a moment ago', () => {
  const fresh = (h: ReturnType<typeof holder>) => ({ ...h, joinedAt: NOW().toISOString() });
  const elsewhere = (name: string) => ({ ...reservation(name), spec: { address: '192.0.2.11' }, status: { phase: 'Allocated', address: '192.0.2.11', advertised: false } });

  // chaos, seed 6061006: a pool reconcile claimed for an allocation released meanwhile, and
  // died before freeing the claim; a Service that later shared the address and moved on left
  // its entries behind for the grace period
  it('whose allocation is gone goes at once, with the address entries: an allocation exists before its claim', async () => {
    const got = await resync([{ ...claim([fresh(holder('gone', 443))]), metadata: { ...claim([]).metadata, creationTimestamp: NOW().toISOString() } }]);
    expect(got.claim).toBeUndefined();
    expect(got.adverts).toEqual([]);
  });

  it('whose allocation has another address waits for the grace period (that allocation may still be recording this one)', async () => {
    const got = await resync([{ ...claim([fresh(holder('busy', 443))]), metadata: { ...claim([]).metadata, creationTimestamp: NOW().toISOString() } }, elsewhere('busy')]);
    expect(got.claim?.spec.holders?.map((h) => h.allocationName)).toEqual(['busy']);
    expect(got.adverts).toEqual([ADV]);
  });
});

describe('a resync whose release of one object fails', () => {
  it('still collects the garbage (found by the chaos suite: a refused release kept a stale address advertised for good)', async () => {
    // an allocation being deleted whose release the router refuses, and the entries of a freed shared address
    const stuck = {
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
      metadata: { name: 'stuck', uid: 'uid-stuck', deletionTimestamp: OLD, finalizers: ['mikrolb.de/finalizer'] },
      spec: { address: '192.0.2.20' }, status: { phase: 'Programmed', address: '192.0.2.20', advertised: true },
    };
    const kube = memoryPortAs('release', { now: NOW, objects: [stuck] });
    const base = memoryRouter({ ...seed(), menus: { ...seed().menus, '/ip/address': [...(seed().menus['/ip/address'] ?? []), { '.id': '*20', address: '192.0.2.20/32', interface: 'ether1', comment: 'mikrolb:default:svc=uid-stuck:adv:192.0.2.20' }] } });
    let refused = 0;
    const router = {
      ...base,
      execute: async (ops: Parameters<typeof base.execute>[0]) => {
        if (ops.some((op) => op.op === 'remove' && op.ids.includes('*20'))) {
          refused++;
          throw new Error('failure: refused');
        }
        return base.execute(ops);
      },
    };
    const release = createRelease({
      kube: kube.port, router, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
      now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, claimGraceMs: 60_000,
    });
    expect((await release(resyncInvocation())).kind).toBe('retry');
    expect(refused).toBeGreaterThan(0);
    const comments = ((await base.readMany(['/ip/address']))['/ip/address'] ?? []).map((e) => e.comment);
    expect(comments).not.toContain(ADV); // collected although the release before it failed
    expect(comments).toContain('mikrolb:default:svc=uid-stuck:adv:192.0.2.20');
  });
});

import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { silentLogger } from '../../lib/log/logger.js';
import type { RouterState } from '../../lib/router/state.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createRelease } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A Service released while its allocation holds no address may still have entries on the
 * router: allocate made the allocation give its address up (a shared address that no longer
 * fits its Service), and program had not yet run to take the address's rules off when the
 * Service went. Release takes them off by the Service's uid; it skips the router only for a
 * Service none of whose allocations ever got an address (chaos, seed 4242: the Service's rules
 * stood until the resync).
 */
const UID = '5e1f0000-0000-4000-8000-0000000000b2';
const NOW = () => new Date('2026-01-01T00:00:00Z');
const JUMP = `mikrolb:default:svc=${UID}:lb-jump:192.0.2.15`;

function objects(phase: 'Failed' | 'Pending') {
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', uid: UID, finalizers: ['mikrolb.de/finalizer'], deletionTimestamp: '2026-01-01T00:00:00Z' },
      spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ports: [{ port: 80, protocol: 'TCP' }] } },
    { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
      metadata: { name: 'ip-web', uid: 'alloc-web', finalizers: ['mikrolb.de/finalizer'], labels: { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': UID } },
      spec: { ipFamily: 'IPv4' }, status: { phase, ...(phase === 'Failed' ? { conditions: [{ type: 'Ready', status: 'False', reason: 'AddressAlreadyUsed', message: 'taken', lastTransitionTime: '2026-01-01T00:00:00Z' }] } : {}) } },
  ];
}

async function release(phase: 'Failed' | 'Pending') {
  const kube = memoryPortAs('release', { now: NOW, objects: objects(phase) });
  const seed: RouterState = { version: '7.19.1', menus: { '/ip/firewall/nat': [{ '.id': '*20', chain: 'mikrolb-lb', action: 'jump', 'jump-target': 'mikrolb-svc-5e1f00000000', 'dst-address': '192.0.2.15', comment: JUMP }] } };
  const router = memoryRouter(seed);
  const fn = createRelease({
    kube: kube.port, router, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
    now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, claimGraceMs: 60_000,
  });
  expect((await fn(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
  return { nat: (router.state().menus['/ip/firewall/nat'] ?? []).map((e) => e.comment), roundTrips: router.roundTrips, service: await kube.admin.get('Service', 'web', 'shop') };
}

describe('release of a Service whose allocation gave its address up', () => {
  it('takes the Service\'s entries off the router although no allocation holds an address now', async () => {
    const got = await release('Failed');
    expect(got.nat).toEqual([]);
    expect(got.service).toBeUndefined();
  });

  it('does not touch the router for a Service whose allocation never got an address', async () => {
    const got = await release('Pending');
    expect(got.roundTrips).toBe(0);
    expect(got.service).toBeUndefined();
  });
});

describe('release of one allocation that left its address, its Service live', () => {
  it('takes the entries of the address it left off the router, although it holds no address and no claim now', async () => {
    const [svc, allocation] = objects('Failed');
    const live = { ...svc, metadata: { name: 'web', namespace: 'shop', uid: UID, finalizers: ['mikrolb.de/finalizer'] } };
    // allocate took its address away (formerAddresses: program had not run since) and then let it go
    const leaving = {
      ...allocation,
      metadata: { ...allocation?.metadata, name: 'ip-web', deletionTimestamp: '2026-01-01T00:00:00Z' },
      status: { phase: 'Failed', formerAddresses: ['192.0.2.15'] },
    };
    const kube = memoryPortAs('release', { now: NOW, objects: [live, leaving] });
    const seed: RouterState = { version: '7.19.1', menus: { '/ip/firewall/nat': [{ '.id': '*20', chain: 'mikrolb-lb', action: 'jump', 'jump-target': 'mikrolb-svc-5e1f00000000', 'dst-address': '192.0.2.15', comment: JUMP }] } };
    const router = memoryRouter(seed);
    const fn = createRelease({
      kube: kube.port, router, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
      now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, claimGraceMs: 60_000,
    });
    expect((await fn(objectInvocation('update', { kind: 'IPAllocation', name: 'ip-web' }))).kind).toBe('done');
    expect((router.state().menus['/ip/firewall/nat'] ?? []).map((e) => e.comment)).toEqual([]);
    expect(await kube.admin.get('IPAllocation', 'ip-web')).toBeUndefined();
  });
});

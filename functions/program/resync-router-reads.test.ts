import { describe, expect, it } from 'vitest';
import { objectInvocation, resyncInvocation } from '../../lib/events/cloudevent.js';
import { silentLogger } from '../../lib/log/logger.js';
import type { RouterState } from '../../lib/router/state.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createAllocate } from '../allocate/handler.js';
import { createProgram } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A resync plans every Service against one whole read of the router. A run that writes only
 * its own Service's entries leaves every other Service's share of that read as it is, so the
 * read is kept: after a router reset (every Service's entries to write again), reading the
 * router whole again after each Service cost O(N²) entries — 2.5 million for 1,000 Services.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const RETRY = { attempts: 5, pause: async () => undefined };
const SEED: RouterState = { version: '7.19.1', menus: { '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }], '/ip/address': [{ '.id': '*10', address: '192.0.2.1/24', interface: 'ether1' }] } };
const SERVICES = 12;

const OBJECTS = [
  { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', finalizers: ['mikrolb.de/finalizer'] },
    spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true, interfaceName: 'ether1' }, status: { claimsAdopted: true } },
  ...Array.from({ length: SERVICES }, (_, i) => [
    { apiVersion: 'v1', kind: 'Service', metadata: { name: `web-${i}`, namespace: 'shop', uid: `uid-web-${i}` },
      spec: { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass, ipFamilies: ['IPv4'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] } },
    { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `web-${i}-1`, namespace: 'shop', labels: { 'kubernetes.io/service-name': `web-${i}` } },
      addressType: 'IPv4', endpoints: [{ addresses: [`10.0.0.${i + 10}`], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
  ]).flat(),
];

describe('a resync after a router reset', () => {
  it('reads the router whole once, and once more after the global rules, not once per Service', async () => {
    const kube = memoryPortAs('program', { now: NOW, objects: OBJECTS });
    const common = { classes: CLASSES, now: NOW, log: silentLogger(), retry: RETRY };
    const allocate = createAllocate({ ...common, kube: kube.as('allocate') });
    for (let i = 0; i < SERVICES; i++) expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: `web-${i}` }))).kind).toBe('done');

    // every Service's entries gone, the global rules too: the router was reset
    const router = memoryRouter(SEED);
    let wholeReads = 0;
    const counted = { ...router, readMany: (menus: readonly string[]) => (wholeReads++, router.readMany(menus)) };
    const program = createProgram({ ...common, kube: kube.port, router: counted });
    expect((await program(resyncInvocation())).kind).toBe('done');
    // the first Service writes the global rules, which every Service's share holds: read again once
    expect(wholeReads).toBe(2);
    const jumps = (router.state().menus['/ip/firewall/nat'] ?? []).filter((e) => e.chain === 'mikrolb-lb');
    expect(jumps).toHaveLength(SERVICES);

    // what it wrote is what fresh reads plan: a second resync has nothing to write
    const before = router.ops.length;
    expect((await program(resyncInvocation())).kind).toBe('done');
    expect(router.ops.slice(before)).toEqual([]);
  });
});

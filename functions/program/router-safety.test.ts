import { describe, expect, it } from 'vitest';
import { allocationName } from '../../lib/core/service.js';
import { objectInvocation, resyncInvocation } from '../../lib/events/cloudevent.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { client as openClient, sim as startSim } from '../../lib/routeros/client/test-support.js';
import type { RouterSim } from '../../lib/routeros/sim/index.js';
import type { RouterState } from '../../lib/router/state.js';
import { createTracer } from '../../test/tracer/index.js';
import { createProgram } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * program against the simulator behind the real client: an address the router itself holds is
 * refused before anything is written, and a plan the router refuses half-way leaves no traffic
 * diverted (the reproductions of the security review).
 */

const UID = '7e5a0000-0000-4000-8000-000000000001';
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const NOW = () => new Date('2026-01-01T00:00:00Z');

/** `interfaceName` '': the pool names no interface. */
function cluster(address: string, sharingKey?: string, interfaceName = 'ether1') {
  const alloc = allocationName(UID, { address });
  const sharing = sharingKey ? { 'mikrolb.de/allow-shared-ip': sharingKey } : {};
  return {
    alloc,
    objects: [
      { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', uid: 'pool-uid', resourceVersion: '1', generation: 1 },
        // with interfaceName, program reads /ip/address narrowed: the holder query must find the router's own entry
        spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true, ...(interfaceName ? { interfaceName } : {}) },
        status: { allocations: [{ address, allocationName: alloc, allocationUID: 'alloc-uid' }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'dns', namespace: 'tenant-a', uid: UID, resourceVersion: '2', generation: 1, finalizers: ['mikrolb.de/finalizer'],
        annotations: { 'mikrolb.de/load-balancer-ips': address, ...sharing } },
        spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }] } },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'dns-1', namespace: 'tenant-a', uid: 'es-uid', resourceVersion: '3', labels: { 'kubernetes.io/service-name': 'dns' } },
        addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.66'], conditions: { ready: true } }], ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }] },
      { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: alloc, uid: 'alloc-uid', resourceVersion: '4', generation: 1, finalizers: ['mikrolb.de/finalizer'],
        labels: { 'mikrolb.de/service-namespace': 'tenant-a', 'mikrolb.de/service-name': 'dns', 'mikrolb.de/service-uid': UID } },
        spec: { address }, status: { phase: 'Allocated', address, advertised: false } },
    ],
  };
}

const SEED: RouterState = {
  version: '7.19.1',
  menus: {
    '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }, { '.id': '*2', name: 'bridge', type: 'bridge' }],
    '/ip/address': [{ '.id': '*10', address: '192.0.2.1/24', interface: 'ether1' }, { '.id': '*11', address: '10.0.0.1/24', interface: 'bridge' }],
    '/ip/route': [{ '.id': '*12', 'dst-address': '0.0.0.0/0', gateway: '192.0.2.254' }],
    '/ip/firewall/filter': [{ '.id': '*30', chain: 'input', action: 'accept', 'in-interface': 'bridge', comment: 'defconf: accept LAN' }],
    '/ip/firewall/nat': [{ '.id': '*20', chain: 'srcnat', action: 'masquerade', 'out-interface': 'ether1', comment: 'defconf: masquerade' }],
  },
};


async function setup(address: string, extra: { objects?: object[]; router?: RouterState['menus']; sharingKey?: string; interfaceName?: string } = {}) {
  // the simulator and the client are closed after each test (test-support)
  const menus = Object.fromEntries([...new Set([...Object.keys(SEED.menus), ...Object.keys(extra.router ?? {})])]
    .map((m) => [m, [...(SEED.menus[m] ?? []), ...(extra.router?.[m] ?? [])]]));
  const sim = await startSim({ initialState: { ...SEED, menus } });
  const client = openClient(sim, { timeoutMs: 5000 });
  const { alloc, objects } = cluster(address, extra.sharingKey, extra.interfaceName);
  const kube = memoryPortAs('program', { objects: [...objects, ...(extra.objects ?? [])], now: NOW });
  const program = createProgram({ kube: kube.port, router: client, classes: CLASSES, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined } });
  const run = () => program(objectInvocation('update', { kind: 'Service', namespace: 'tenant-a', name: 'dns' }));
  const resync = () => program(resyncInvocation());
  const allocation = async () => IPAllocationSchema.parse(await kube.admin.get('IPAllocation', alloc));
  const writes = (s: RouterSim) => s.commandLog().filter((words) => /\/(add|set|remove|move)$/.test(words[0] ?? ''));
  return { sim, kube, run, resync, allocation, writes };
}

/** Where a LAN client's DNS query to `address` ends up. */
const dnsQuery = (state: RouterState, address: string) =>
  createTracer(state).trace({ srcAddress: '10.0.0.9', srcPort: 40000, dstAddress: address, dstPort: 53, protocol: 'udp', inInterface: 'bridge' });

describe('program keeps the router safe', () => {
  it("refuses the router's own address before writing anything: AddressInUseByRouter on the allocation and the Service", async () => {
    const c = await setup('192.0.2.1');
    const before = c.sim.state();
    const res = await c.run();
    expect(res.kind).toBe('done');
    expect(c.writes(c.sim)).toEqual([]);
    const addressPrint = c.sim.commandLog().find((words) => words[0] === '/ip/address/print');
    expect(addressPrint).toContain('?address=192.0.2.1/24'); // narrowed, not a whole-menu read
    expect(c.sim.state()).toEqual(before);
    expect(dnsQuery(c.sim.state(), '192.0.2.1')).toMatchObject({ ok: true, verdict: 'accept', dstAddress: '192.0.2.1', dstPort: 53 });
    const a = await c.allocation();
    expect(a.status?.phase).toBe('Allocated');
    const ready = a.status?.conditions?.find((x) => x.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'AddressInUseByRouter' });
    expect(ready?.message).toBe("Address 192.0.2.1 of pool lan is the router's own (192.0.2.1/24 on ether1, not added by MikroLB), so nothing is programmed for it; exclude it from the pool.");
    expect(c.kube.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'AddressInUseByRouter', regarding: expect.objectContaining({ kind: 'IPAllocation' }) }));
    const svc = ServiceSchema.parse(await c.kube.admin.get('Service', 'dns', 'tenant-a'));
    expect(svc.status?.loadBalancer?.ingress ?? []).toEqual([]);
    expect(svc.status?.conditions?.find((x) => x.type === 'mikrolb.de/LoadBalancerReady')).toMatchObject({ status: 'False', reason: 'AddressInUseByRouter' });
  });

  it.each([
    // another cluster's SNAT-only Service: its address advertised, in no LB list
    ["another cluster's advertisement", { '.id': '*40', address: '192.0.2.15/32', interface: 'bridge', comment: 'mikrolb:west:svc=their-uid:adv:192.0.2.15' }],
    ['our advertisement widened by hand into an interface address', { '.id': '*40', address: '192.0.2.15/24', interface: 'bridge', comment: `mikrolb:default:svc=${UID}:adv:192.0.2.15` }],
  ])('refuses an address the router holds as %s, in a resync as in the Service\'s own run: nothing written', async (_story, holder) => {
    for (const how of ['run', 'resync'] as const) {
      const c = await setup('192.0.2.15', { router: { '/ip/address': [holder] } });
      const before = c.sim.state();
      expect((await c[how]()).kind).toBe('done');
      expect(c.writes(c.sim)).toEqual([]);
      expect(c.sim.state()).toEqual(before);
      expect((await c.allocation()).status?.conditions?.find((x) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'AddressInUseByRouter' });
    }
  });

  it("refuses the router's own address for a Service that may share it: not even the address's LB list entry is written", async () => {
    // the LB list's entry of a shared address would have let the input rules reset TCP to the
    // router's own services (ssh, winbox, the API) on its own address
    const address = '192.0.2.1';
    const claim = {
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: address, uid: 'claim-uid', resourceVersion: '5', generation: 1 },
      spec: { address, poolName: 'lan', allocationName: cluster(address).alloc, allocationUID: 'alloc-uid', sharingKey: 'dns',
        holders: [{ allocationName: cluster(address).alloc, allocationUID: 'alloc-uid', ports: [{ protocol: 'UDP', port: 53 }] }] },
    };
    const c = await setup(address, { objects: [claim], sharingKey: 'dns' });
    const before = c.sim.state();
    expect((await c.run()).kind).toBe('done');
    expect(c.writes(c.sim)).toEqual([]);
    expect(c.sim.state()).toEqual(before);
    expect((await c.allocation()).status?.conditions?.find((x) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'AddressInUseByRouter' });
  });

  it('an advertisement whose pool names no interface follows the route to its address, not the connected route it made itself', async () => {
    const address = '192.0.2.15';
    const c = await setup(address, { interfaceName: '' });
    expect((await c.run()).kind).toBe('done');
    const advertised = (state: RouterState) => (state.menus['/ip/address'] ?? []).filter((e) => e.address === `${address}/32`).map((e) => e.interface);
    expect(advertised(c.sim.state())).toEqual(['ether1']); // the connected network 192.0.2.0/24
    // the address's network now lies behind another interface
    const moved = c.sim.state();
    moved.menus['/interface'] = [...(moved.menus['/interface'] ?? []), { '.id': '*3', name: 'ether2', type: 'ether' }];
    moved.menus['/ip/route'] = [...(moved.menus['/ip/route'] ?? []), { '.id': '*13', 'dst-address': '192.0.2.0/28', gateway: 'ether2' }];
    c.sim.seed(moved);
    expect((await c.run()).kind).toBe('done');
    expect(advertised(c.sim.state())).toEqual(['ether2']);
    expect((await c.allocation()).status?.interfaceName).toBe('ether2');
  });

  it('a plan the router refuses half-way (the advertisement) leaves no dst-nat behind; the retry completes it', async () => {
    const c = await setup('192.0.2.15');
    c.sim.faults.trapCommand('/ip/address/add', { message: 'failure: already have such address', times: 'always' });
    const failed = await c.run();
    expect(failed).toMatchObject({ kind: 'retry', reason: 'Unavailable' });
    const half = c.sim.state();
    expect(c.writes(c.sim).length).toBeGreaterThan(0); // the build round trip was sent
    expect((half.menus['/ip/firewall/nat'] ?? []).filter((e) => e.comment?.startsWith('mikrolb:'))).toEqual([]);
    expect(dnsQuery(half, '192.0.2.15')).not.toMatchObject({ dstAddress: '10.0.0.66' });
    expect(dnsQuery(half, '192.0.2.1')).toMatchObject({ ok: true, verdict: 'accept', dstAddress: '192.0.2.1', dstPort: 53 });
    expect((await c.allocation()).status?.conditions?.find((x) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'BackendError' });

    c.sim.faults.clear();
    expect((await c.run()).kind).toBe('done');
    expect(dnsQuery(c.sim.state(), '192.0.2.15')).toMatchObject({ ok: true, dstAddress: '10.0.0.66', dstPort: 5353 });
  });

  it("an address held alone whose shared entries still stand (its claim's change reached no program) is programmed once they are taken off", async () => {
    // chaos, seed 4242: the router refused the Service's own entries on every run until the resync
    const address = '192.0.2.15';
    const stale = (key: string) => `mikrolb:default:svc=ip-${address}:${key}:${address}`;
    const claim = {
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: address, uid: 'claim-uid', resourceVersion: '5', generation: 1 },
      spec: { address, poolName: 'lan', allocationName: cluster(address).alloc, allocationUID: 'alloc-uid' },
    };
    const c = await setup(address, {
      objects: [claim],
      router: {
        '/ip/address': [{ '.id': '*40', address: `${address}/32`, interface: 'ether1', comment: stale('adv') }],
        '/ip/firewall/address-list': [{ '.id': '*41', list: 'mikrolb-lb', address, comment: stale('lb-list') }],
      },
    });
    let res = await c.run();
    for (let i = 0; i < 3 && res.kind !== 'done'; i++) res = await c.run();
    expect(res.kind).toBe('done');
    const comments = Object.values(c.sim.state().menus).flat().flatMap((e) => (e.comment ? [e.comment] : []));
    expect(comments.filter((x) => x.includes(`svc=ip-${address}`))).toEqual([]);
    expect(comments).toContain(`mikrolb:default:svc=${UID}:adv:${address}`);
    expect(dnsQuery(c.sim.state(), address)).toMatchObject({ ok: true, dstAddress: '10.0.0.66', dstPort: 5353 });
    expect((await c.allocation()).status?.phase).toBe('Programmed');
  });
});

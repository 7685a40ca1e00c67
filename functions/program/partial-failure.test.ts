import { describe, expect, it } from 'vitest';
import { createAllocate } from '../allocate/handler.js';
import { createRelease } from '../release/handler.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { IPAllocationSchema, IPPoolSchema, type IPAllocation } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { client as openClient, sim as startSim } from '../../lib/routeros/client/test-support.js';
import type { RouterState } from '../../lib/router/state.js';
import { createTracer } from '../../test/tracer/index.js';
import { createProgram } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * The router refusing the advertisement of one address of a Service (its pool names an
 * interface the router does not have) concerns that address only: the Service's other
 * addresses are programmed and keep their BackendError-free statuses, and a release of another
 * of its addresses still takes that one off the router.
 */

const UID = '7e5a0000-0000-4000-8000-00000000b0de';
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const NOW = () => new Date('2026-01-01T00:00:00Z');
const RETRY = { attempts: 5, pause: async () => undefined };
const SVC = { kind: 'Service' as const, namespace: 'shop', name: 'bad' };

const ROUTER: RouterState = {
  version: '7.19.1',
  menus: {
    '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }, { '.id': '*2', name: 'bridge', type: 'bridge' }],
    '/ip/address': [{ '.id': '*10', address: '192.0.2.1/24', interface: 'ether1' }, { '.id': '*11', address: '10.0.0.1/24', interface: 'bridge' }],
    '/ip/route': [{ '.id': '*12', 'dst-address': '0.0.0.0/0', gateway: '192.0.2.254' }],
  },
};

const pool = (name: string, address: string, interfaceName: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name, finalizers: ['mikrolb.de/finalizer'] }, status: { claimsAdopted: true },
  spec: { ipFamily: 'IPv4', addresses: [address], autoAssign: false, avoidBuggyIPs: true, advertise: true, interfaceName },
});

async function setup(pools: string) {
  const sim = await startSim({ initialState: ROUTER });
  const router = openClient(sim, { timeoutMs: 5000 });
  const kube = memoryPortAs('program', {
    now: NOW,
    objects: [
      pool('lan', '192.0.2.10', 'ether1'),
      pool('wrong', '192.0.2.20', 'ether99'),
      pool('lan2', '192.0.2.30', 'ether1'),
      pool('far', '203.0.113.5', 'ether1'),
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'bad', namespace: 'shop', uid: UID, annotations: { 'mikrolb.de/load-balancer-pools': pools } },
        spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] } },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'bad-1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'bad' } },
        addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.66'], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
    ],
  });
  const common = { kube: kube.port, classes: CLASSES, now: NOW, log: silentLogger(), retry: RETRY };
  const allocate = createAllocate({ ...common, kube: kube.as('allocate') });
  const program = createProgram({ ...common, router });
  const release = createRelease({ ...common, kube: kube.as('release'), router, claimGraceMs: 60_000 });
  const allocations = async (): Promise<IPAllocation[]> => (await kube.admin.list('IPAllocation')).map((a) => IPAllocationSchema.parse(a));
  const of = async (address: string): Promise<IPAllocation | undefined> => (await allocations()).find((a) => a.status?.address === address);
  /** The router's entries naming the address (its advertisement, LB list entry, NAT jump). */
  const entries = (address: string): string[] => Object.values(sim.state().menus).flat().flatMap((e) => (e.comment?.includes(`:${address}`) ? [e.comment] : []));
  const web = (address: string) => createTracer(sim.state()).trace({ srcAddress: '10.0.0.9', srcPort: 40000, dstAddress: address, dstPort: 80, protocol: 'tcp', inInterface: 'bridge' });
  /** The interface the router advertises the address on (undefined: not advertised). */
  const advertisedOn = (address: string): string | undefined => sim.state().menus['/ip/address']?.find((e) => e.address === `${address}/32`)?.interface;
  /** Changes a pool's interfaceName in place (its addresses are advertised already). */
  const moveInterface = async (name: string, interfaceName: string): Promise<void> => {
    const p = IPPoolSchema.parse(await kube.admin.get('IPPool', name));
    await kube.admin.replace('IPPool', { ...p, spec: { ...p.spec, interfaceName } });
  };
  /** Takes a pool's interfaceName away: its addresses then go where the router's routes say. */
  const dropInterface = async (name: string): Promise<void> => {
    const p = IPPoolSchema.parse(await kube.admin.get('IPPool', name));
    const { interfaceName: _dropped, ...spec } = p.spec;
    await kube.admin.replace('IPPool', { ...p, spec });
  };
  /**
   * The Service switches to `pools`, giving up its allocation of `address`; after `between`
   * (say, a program run), release takes that address off the router and deletes the
   * allocation, with no ReleaseFailed.
   */
  const switchPoolsReleasing = async (pools: string, address: string, between = async (): Promise<void> => undefined): Promise<void> => {
    const old = await of(address);
    const svc = ServiceSchema.parse(await kube.admin.get('Service', 'bad', 'shop'));
    await kube.admin.replace('Service', { ...svc, metadata: { ...svc.metadata, annotations: { 'mikrolb.de/load-balancer-pools': pools } } });
    expect((await allocate(objectInvocation('update', SVC))).kind).toBe('done');
    await between();
    const name = old?.metadata.name ?? '';
    expect(IPAllocationSchema.parse(await kube.admin.get('IPAllocation', name)).metadata.deletionTimestamp).toBeDefined();
    expect((await release(objectInvocation('update', { kind: 'IPAllocation', name }))).kind).toBe('done');
    expect(entries(address)).toEqual([]);
    expect(await kube.admin.get('IPAllocation', name)).toBeUndefined();
    expect(kube.events.filter((e) => e.reason === 'ReleaseFailed')).toEqual([]);
  };
  return { sim, kube, allocate, program, release, allocations, of, entries, web, advertisedOn, moveInterface, dropInterface, switchPoolsReleasing };
}

const ready = (a: IPAllocation | undefined) => a?.status?.conditions?.find((c) => c.type === 'Ready');

describe('the router refusing one address of a Service', () => {
  it('programs its other address, and gives BackendError to the refused one only', async () => {
    const c = await setup('lan,wrong');
    expect((await c.allocate(objectInvocation('add', SVC))).kind).toBe('done');
    expect((await c.program(objectInvocation('update', SVC))).kind).toBe('retry'); // the refusal is retried
    const good = await c.of('192.0.2.10');
    expect(good?.status).toMatchObject({ phase: 'Programmed', advertised: true, interfaceName: 'ether1' });
    expect(ready(good)).toMatchObject({ status: 'True' });
    expect(c.web('192.0.2.10')).toMatchObject({ ok: true, dstAddress: '10.0.0.66', dstPort: 8080 });
    const bad = await c.of('192.0.2.20');
    expect(ready(bad)).toMatchObject({
      status: 'False', reason: 'BackendError',
      message: 'The router refused or did not answer: add /ip/address 192.0.2.20/32 failed: /ip/address/add: input does not match any value of interface',
    });
    // nothing of the refused address stays on the router (no dst-nat for an address not advertised)
    expect(c.entries('192.0.2.20')).toEqual([]);
    // the events name the refused allocation only
    const failed = c.kube.events.filter((e) => e.reason === 'ProgrammingFailed').map((e) => e.regarding.name);
    expect(failed).toEqual([bad?.metadata.name]);
    const svc = ServiceSchema.parse(await c.kube.admin.get('Service', 'bad', 'shop'));
    expect(svc.status?.loadBalancer?.ingress).toEqual([{ ip: '192.0.2.10', ipMode: 'Proxy' }]);
    expect(svc.status?.conditions?.find((x) => x.type === 'mikrolb.de/LoadBalancerReady')).toMatchObject({ status: 'False', reason: 'BackendError', message: expect.stringContaining('192.0.2.20/32') });
  });

  it('does not keep a release of its other address from taking that address off the router', async () => {
    const c = await setup('lan');
    expect((await c.allocate(objectInvocation('add', SVC))).kind).toBe('done');
    expect((await c.program(objectInvocation('update', SVC))).kind).toBe('done');
    expect(c.entries('192.0.2.10').length).toBeGreaterThan(0);
    // the Service is switched to the pool whose interface the router does not have
    await c.switchPoolsReleasing('wrong', '192.0.2.10', async () => {
      expect((await c.program(objectInvocation('update', SVC))).kind).toBe('retry');
    });
  });

  describe('when its pool moves an advertised address to an interface the router does not have', () => {
    const refusedSet = expect.stringMatching(/^The router refused or did not answer: set \/ip\/address \S+ failed: \/ip\/address\/set: input does not match any value of interface \(moving 192\.0\.2\.30 to interface ether99; it stays advertised on ether1\)$/);

    it('keeps the address where it is, gives it BackendError, and programs the other address', async () => {
      const c = await setup('lan,lan2');
      expect((await c.allocate(objectInvocation('add', SVC))).kind).toBe('done');
      expect((await c.program(objectInvocation('update', SVC))).kind).toBe('done');
      await c.moveInterface('lan2', 'ether99');
      expect((await c.program(objectInvocation('update', SVC))).kind).toBe('retry'); // the refusal is retried
      // the moved address stays advertised where it was, and still forwards
      expect(c.advertisedOn('192.0.2.30')).toBe('ether1');
      expect(c.web('192.0.2.30')).toMatchObject({ ok: true, dstAddress: '10.0.0.66', dstPort: 8080 });
      const moved = await c.of('192.0.2.30');
      expect(ready(moved)).toMatchObject({ status: 'False', reason: 'BackendError', message: refusedSet });
      // its status says where the router advertises it, not where the pool asked for
      expect(moved?.status).toMatchObject({ advertised: true, interfaceName: 'ether1' });
      // and goes on saying so when allocate checks the Service again (a resync)
      expect((await c.allocate(objectInvocation('update', SVC))).kind).toBe('done');
      expect((await c.of('192.0.2.30'))?.status).toMatchObject({ address: '192.0.2.30', advertised: true, interfaceName: 'ether1' });
      const good = await c.of('192.0.2.10');
      expect(good?.status).toMatchObject({ phase: 'Programmed', advertised: true, interfaceName: 'ether1' });
      expect(ready(good)).toMatchObject({ status: 'True' });
      const failed = c.kube.events.filter((e) => e.reason === 'ProgrammingFailed').map((e) => e.regarding.name);
      expect(failed).toEqual([(await c.of('192.0.2.30'))?.metadata.name]);
      // still published: it is served
      const svc = ServiceSchema.parse(await c.kube.admin.get('Service', 'bad', 'shop'));
      expect(svc.status?.loadBalancer?.ingress).toEqual([{ ip: '192.0.2.10', ipMode: 'Proxy' }, { ip: '192.0.2.30', ipMode: 'Proxy' }]);
    });

    it('does not keep a release of the other address from taking that address off the router', async () => {
      const c = await setup('lan,lan2');
      expect((await c.allocate(objectInvocation('add', SVC))).kind).toBe('done');
      expect((await c.program(objectInvocation('update', SVC))).kind).toBe('done');
      await c.moveInterface('lan2', 'ether99');
      // the Service gives up its address of pool lan
      await c.switchPoolsReleasing('lan2', '192.0.2.10');
      // the other address is untouched by the release, and program then reports it
      expect(c.advertisedOn('192.0.2.30')).toBe('ether1');
      expect(c.web('192.0.2.30')).toMatchObject({ ok: true });
      expect((await c.program(objectInvocation('update', SVC))).kind).toBe('retry');
      expect(c.advertisedOn('192.0.2.30')).toBe('ether1');
      expect(ready(await c.of('192.0.2.30'))).toMatchObject({ status: 'False', reason: 'BackendError', message: refusedSet });
    });
  });

  describe('when its pool stops naming the interface of an advertised address the router has no route to', () => {
    it('keeps the address where it is, and says so in its BackendError', async () => {
      const c = await setup('lan,far');
      expect((await c.allocate(objectInvocation('add', SVC))).kind).toBe('done');
      expect((await c.program(objectInvocation('update', SVC))).kind).toBe('done');
      expect(c.advertisedOn('203.0.113.5')).toBe('ether1');
      // no route of the router's covers the address (its default route is gone)
      const before = c.sim.state();
      c.sim.seed({ ...before, menus: { ...before.menus, '/ip/route': (before.menus['/ip/route'] ?? []).filter((r) => r['dst-address'] !== '0.0.0.0/0') } });
      await c.dropInterface('far');
      await c.program(objectInvocation('update', SVC));
      // still advertised where it was (its published ingress still reaches the endpoints)
      expect(c.advertisedOn('203.0.113.5')).toBe('ether1');
      expect(c.web('203.0.113.5')).toMatchObject({ ok: true, dstAddress: '10.0.0.66', dstPort: 8080 });
      const kept = await c.of('203.0.113.5');
      expect(kept?.status).toMatchObject({ advertised: true, interfaceName: 'ether1' });
      expect(ready(kept)).toMatchObject({
        status: 'False', reason: 'BackendError',
        message: 'The router has no route to 203.0.113.5, so no interface to advertise it on; set interfaceName on its IPPool (it stays advertised on ether1 meanwhile).',
      });
      const good = await c.of('192.0.2.10');
      expect(ready(good)).toMatchObject({ status: 'True' });
    });
  });
});

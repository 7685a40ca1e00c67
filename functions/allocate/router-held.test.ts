import { describe, expect, it } from 'vitest';
import { allocationName } from '../../lib/core/service.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { claimNameOf } from '../../lib/k8s/claims.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { KubeError } from '../../lib/k8s/errors.js';
import type { WriteRecord } from '../../lib/k8s/memory.js';
import { IPAddressClaimSchema, IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { client as openClient, sim as startSim } from '../../lib/routeros/client/test-support.js';
import type { RouterState } from '../../lib/router/state.js';
import { createTracer } from '../../test/tracer/index.js';
import { createProgram } from '../program/handler.js';
import { LAN_ROUTER, lanServiceObjects, memoryPortAs } from '../test-support.js';
import { createAllocate } from './handler.js';

/**
 * An auto-assigned address that turns out to be the router's own (a pool that includes the
 * router's LAN address): program refuses it (AddressInUseByRouter, nothing written on the
 * router), and allocate, woken by that refusal, moves the allocation to another free address of
 * its pools, which program then programs. An address asked for by name stays, refused: the
 * user asked for it. With no other free address the allocation keeps the refused one.
 */

const UID = '7e5a0000-0000-4000-8000-0000000000aa';
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const NOW = () => new Date('2026-01-01T00:00:00Z');
const ROUTER = '192.0.2.1';

async function setup(opts: { addresses: string[]; explicit?: boolean; objects?: unknown[]; beforeWrite?: (w: WriteRecord) => void }) {
  const alloc = allocationName(UID, opts.explicit ? { address: ROUTER } : { ipFamily: 'IPv4' });
  const sim = await startSim({ initialState: LAN_ROUTER });
  const client = openClient(sim, { timeoutMs: 5000 });
  const kube = memoryPortAs('allocate', {
    now: NOW,
    ...(opts.beforeWrite ? { beforeWrite: opts.beforeWrite } : {}),
    objects: [
      ...(opts.objects ?? []),
      ...lanServiceObjects({
        uid: UID, namespace: 'tenant-a', name: 'dns', port: { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }, pool: { addresses: opts.addresses, interfaceName: 'ether1' },
        ...(opts.explicit ? { annotations: { 'mikrolb.de/load-balancer-ips': ROUTER } } : {}),
      }),
      // allocated the router's address before anyone knew (the pool's hashed start for this Service)
      { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: alloc, uid: 'alloc-uid', generation: 1, finalizers: ['mikrolb.de/finalizer'],
        labels: { 'mikrolb.de/service-namespace': 'tenant-a', 'mikrolb.de/service-name': 'dns', 'mikrolb.de/service-uid': UID } },
        spec: opts.explicit ? { address: ROUTER } : { ipFamily: 'IPv4' },
        status: { phase: 'Allocated', address: ROUTER, advertised: false, interfaceName: 'ether1', observedGeneration: 1, conditions: [
          { type: 'Allocated', status: 'True', reason: 'Allocated', message: `Address ${ROUTER} is allocated from pool lan.`, lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 1 },
        ] } },
      { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: claimNameOf(ROUTER), uid: 'claim-uid' },
        spec: { address: ROUTER, poolName: 'lan', allocationName: alloc, allocationUID: 'alloc-uid' } },
    ],
  });
  const log = memoryLogger();
  const deps = { kube: kube.port, now: NOW, log, retry: { attempts: 5, pause: async () => undefined }, classes: CLASSES };
  const program = createProgram({ ...deps, kube: kube.as('program'), router: client });
  const allocate = createAllocate(deps);
  const allocation = async () => IPAllocationSchema.parse(await kube.admin.get('IPAllocation', alloc));
  const claims = async () => (await kube.admin.list('IPAddressClaim')).map((c) => IPAddressClaimSchema.parse(c).spec.address).sort();
  const ingress = async () => ServiceSchema.parse(await kube.admin.get('Service', 'dns', 'tenant-a')).status?.loadBalancer?.ingress?.map((i) => i.ip);
  return {
    sim, client, kube, log, allocation, claims, ingress,
    program: async () => (await program(objectInvocation('update', { kind: 'Service', namespace: 'tenant-a', name: 'dns' }))).kind,
    allocate: async () => (await allocate(objectInvocation('update', { kind: 'IPAllocation', name: alloc }))).kind,
    allocatePool: async () => (await allocate(objectInvocation('update', { kind: 'IPPool', name: 'lan' }))).kind,
    allocateService: async () => (await allocate(objectInvocation('update', { kind: 'Service', namespace: 'tenant-a', name: 'dns' }))).kind,
  };
}

const readyOf = (a: { status?: { conditions?: { type: string; status: string; reason: string; message: string }[] | undefined } | undefined }) =>
  a.status?.conditions?.find((c) => c.type === 'Ready');

/** Where a LAN client's DNS query to `address` ends up. */
const dnsQuery = (state: RouterState, address: string) =>
  createTracer(state).trace({ srcAddress: '10.0.0.9', srcPort: 40000, dstAddress: address, dstPort: 53, protocol: 'udp', inInterface: 'bridge' });

describe("an auto-assigned address that is the router's own", () => {
  it('is refused by program, then allocate moves the allocation to another free address, which program programs', async () => {
    const c = await setup({ addresses: ['192.0.2.1-192.0.2.2'] });
    expect(await c.program()).toBe('done');
    const refused = await c.allocation();
    expect(readyOf(refused)).toMatchObject({
      status: 'False', reason: 'AddressInUseByRouter',
      message: "Address 192.0.2.1 of pool lan is the router's own (192.0.2.1/24 on ether1, not added by MikroLB), so nothing is programmed for it; the allocation moves to another free address if one is left (exclude it from the pool to skip it).",
    });

    expect(await c.allocate()).toBe('done');
    const moved = await c.allocation();
    expect([moved.status?.phase, moved.status?.address]).toEqual(['Allocated', '192.0.2.2']);
    expect(moved.status?.formerAddresses).toEqual([ROUTER]); // for program to clear on the router
    expect(readyOf(moved)).toMatchObject({ status: 'False', reason: 'ProgrammingPending' });
    expect(await c.claims()).toEqual(['192.0.2.2']); // the router's address is free again
    expect(c.kube.events).toContainEqual(expect.objectContaining({ type: 'Normal', reason: 'IPAllocated', note: 'Allocated address 192.0.2.2 from pool lan instead of 192.0.2.1, which the router holds itself.' }));
    expect(c.log.entries).toContainEqual(expect.objectContaining({ msg: 'Moving an allocation off an address the router holds', fields: expect.objectContaining({ address: ROUTER, to: '192.0.2.2' }) }));

    expect(await c.program()).toBe('done');
    const programmed = await c.allocation();
    expect([programmed.status?.phase, readyOf(programmed)?.reason]).toEqual(['Programmed', 'AllocatedAndProgrammed']);
    expect(programmed.status?.formerAddresses).toBeUndefined();
    expect(await c.ingress()).toEqual(['192.0.2.2']);
    const state = c.sim.state();
    expect(dnsQuery(state, '192.0.2.2')).toMatchObject({ ok: true, dstAddress: '10.0.0.66', dstPort: 5353 });
    // the router's own address still answers for the router itself
    expect(dnsQuery(state, ROUTER)).toMatchObject({ ok: true, verdict: 'accept', dstAddress: ROUTER, dstPort: 53 });
    const ours = Object.values(state.menus).flat().filter((e) => e.comment?.startsWith('mikrolb:'));
    expect(ours.some((e) => Object.values(e).includes(ROUTER))).toBe(false);

    // settled: allocate and program again change nothing
    const writes = c.kube.writes.length;
    expect(await c.allocate()).toBe('done');
    expect(await c.program()).toBe('done');
    expect(c.kube.writes.length).toBe(writes);
  });

  it('an allocation made again moves to the same address as before, though the instance still thinks it taken', async () => {
    const c = await setup({ addresses: ['192.0.2.1-192.0.2.3'] });
    expect(await c.program()).toBe('done');
    expect(await c.allocate()).toBe('done');
    expect((await c.allocation()).status?.address).toBe('192.0.2.2');
    // the allocation is deleted (by hand, say; its claim goes through another instance: this one
    // still sees 192.0.2.2 taken) and made again: decided 192.0.2.1 (its start) and refused
    const old = await c.allocation();
    await c.kube.admin.replace('IPAllocation', { ...old, metadata: { ...old.metadata, finalizers: [] } });
    await c.kube.admin.remove('IPAllocation', old.metadata.name);
    await c.kube.admin.remove('IPAddressClaim', claimNameOf('192.0.2.2') ?? '');
    const refused = { status: 'False', reason: 'AddressInUseByRouter', message: 'the router holds it', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 1 };
    const made = IPAllocationSchema.parse(await c.kube.admin.create('IPAllocation', {
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
      metadata: { name: old.metadata.name, finalizers: ['mikrolb.de/finalizer'], labels: old.metadata.labels },
      spec: { ipFamily: 'IPv4' },
    }));
    await c.kube.admin.replaceStatus('IPAllocation', { ...made, status: { phase: 'Allocated', address: ROUTER, advertised: false, interfaceName: 'ether1', observedGeneration: made.metadata.generation, conditions: [{ ...refused, type: 'Programmed' }, { ...refused, type: 'Ready' }] } });
    await c.kube.admin.create('IPAddressClaim', { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: claimNameOf(ROUTER) ?? '' }, spec: { address: ROUTER, poolName: 'lan', allocationName: made.metadata.name, allocationUID: made.metadata.uid ?? '' } });
    expect(await c.allocate()).toBe('done');
    expect((await c.allocation()).status?.address).toBe('192.0.2.2');
    expect(await c.claims()).toEqual(['192.0.2.2']);
  });

  /** The pool's other address held by another Service, the router's address refused by program. */
  async function fullPool(more: { objects?: unknown[]; beforeWrite?: (w: WriteRecord) => void } = {}) {
    const c = await setup({ addresses: ['192.0.2.1', '192.0.2.2'], ...more });
    await c.kube.admin.create('IPAddressClaim', { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: claimNameOf('192.0.2.2') ?? '' }, spec: { address: '192.0.2.2', poolName: 'lan', allocationName: 'ip-other', allocationUID: 'other-uid' } });
    expect(await c.program()).toBe('done');
    const mark = async () => IPAddressClaimSchema.parse(await c.kube.admin.get('IPAddressClaim', claimNameOf(ROUTER) ?? '')).metadata.labels?.['mikrolb.de/router-held'];
    /** The other Service gives its address back; the bridge sends a claim's change as an update of its pool. */
    const otherLeaves = async () => {
      await c.kube.admin.remove('IPAddressClaim', claimNameOf('192.0.2.2') ?? '');
      expect(await c.allocatePool()).toBe('done');
    };
    return { ...c, mark, otherLeaves };
  }

  it('with no other free address keeps the refused one (no churn of its claim), its claim marked; once an address is free it moves at once', async () => {
    const c = await fullPool();
    const writes = c.kube.writes.length;
    expect(await c.allocate()).toBe('done');
    // one write: the mark on its claim (no status, no claim given up or made)
    expect(c.kube.writes.slice(writes).map((w) => `${w.verb} ${w.kind}`)).toEqual(['update IPAddressClaim']);
    const a = await c.allocation();
    expect([a.status?.address, readyOf(a)?.reason]).toEqual([ROUTER, 'AddressInUseByRouter']);
    expect(await c.claims()).toEqual([ROUTER, '192.0.2.2']);
    expect(await c.mark()).toBe('true');
    // again: nothing more to write
    const again = c.kube.writes.length;
    expect(await c.allocate()).toBe('done');
    expect(c.kube.writes.length).toBe(again);

    // the pool's reconcile moves the allocation off the router's address
    await c.otherLeaves();
    expect((await c.allocation()).status?.address).toBe('192.0.2.2');
    expect(await c.claims()).toEqual(['192.0.2.2']);
  });

  it('once an address is free it moves at once, past another marked allocation whose own move keeps failing', async () => {
    // another allocation kept an address the router holds (its claim marked, listed first);
    // its pool is gone, and the API server refuses every write of its status
    const broken = {
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'ip-broken', uid: 'broken-uid', generation: 1, finalizers: ['mikrolb.de/finalizer'] },
      spec: { poolName: 'gone' },
      status: { phase: 'Allocated', address: '10.0.0.5', poolName: 'gone', observedGeneration: 1, conditions: [
        { type: 'Programmed', status: 'False', reason: 'AddressInUseByRouter', message: 'Address 10.0.0.5 is the router\'s own.', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 1 },
      ] },
    };
    const brokenClaim = { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: claimNameOf('10.0.0.5'), labels: { 'mikrolb.de/router-held': 'true' } },
      spec: { address: '10.0.0.5', poolName: 'gone', allocationName: 'ip-broken', allocationUID: 'broken-uid' } };
    const c = await fullPool({
      objects: [broken, brokenClaim],
      beforeWrite: (w) => {
        if (w.kind === 'IPAllocation' && w.name === 'ip-broken') throw new KubeError('etcdserver: request timed out', 503, 'ServiceUnavailable');
      },
    });
    expect(await c.allocate()).toBe('done');
    expect(await c.mark()).toBe('true');
    await c.kube.admin.remove('IPAddressClaim', claimNameOf('192.0.2.2') ?? '');
    // the broken one's failure is the run's (retried), after the others had their turn
    expect(await c.allocatePool()).not.toBe('done');
    expect((await c.allocation()).status?.address).toBe('192.0.2.2');
    expect(await c.claims()).toEqual(['10.0.0.5', '192.0.2.2']);
  });

  it('pinned by its Service while refused, keeps it refused, and program words the refusal for an address asked for by name', async () => {
    const c = await fullPool();
    expect(await c.allocate()).toBe('done');
    const svc = ServiceSchema.parse(await c.kube.admin.get('Service', 'dns', 'tenant-a'));
    await c.kube.admin.replace('Service', { ...svc, metadata: { ...svc.metadata, annotations: { 'mikrolb.de/load-balancer-ips': ROUTER } } });
    expect(await c.allocateService()).toBe('done');
    const pinned = await c.allocation();
    expect([pinned.spec, pinned.metadata.generation, pinned.status?.address]).toEqual([{ address: ROUTER }, 2, ROUTER]);
    // the refusal's words say the allocation moves: not restated for the new spec, but left of
    // the generation program judged (the spec change wakes program, which words it again)
    expect(pinned.status?.conditions?.map((c) => [c.type, c.reason, c.observedGeneration])).toEqual([['Allocated', 'Allocated', 2], ['Programmed', 'AddressInUseByRouter', 1], ['Ready', 'AddressInUseByRouter', 1]]);

    const events = c.kube.events.length;
    expect(await c.program()).toBe('done');
    const worded = await c.allocation();
    expect(worded.status?.conditions?.map((c) => [c.type, c.reason, c.observedGeneration])).toEqual([['Allocated', 'Allocated', 2], ['Programmed', 'AddressInUseByRouter', 2], ['Ready', 'AddressInUseByRouter', 2]]);
    expect(readyOf(worded)?.message).toMatch(/so nothing is programmed for it; exclude it from the pool\.$/);
    expect(c.kube.events.slice(events)).toEqual([expect.objectContaining({ type: 'Warning', reason: 'AddressInUseByRouter', note: readyOf(worded)?.message })]);
    // settled
    const writes = c.kube.writes.length;
    expect(await c.allocateService()).toBe('done');
    expect(await c.program()).toBe('done');
    expect(c.kube.writes.length).toBe(writes);
  });

  it("a mark whose allocation the router no longer refuses goes at the pool's next reconcile", async () => {
    const c = await fullPool();
    expect(await c.allocate()).toBe('done');
    expect(await c.mark()).toBe('true');
    // the operator takes the address off the router: program programs it now
    const own = c.sim.state().menus['/ip/address']?.find((e) => e.address === `${ROUTER}/24`)?.['.id'];
    if (own === undefined) throw new Error("no router's own address");
    await c.client.execute([{ op: 'remove', menu: '/ip/address', ids: [own] }]);
    expect(await c.program()).toBe('done');
    expect(readyOf(await c.allocation())?.reason).toBe('AllocatedAndProgrammed');
    await c.otherLeaves();
    expect((await c.allocation()).status?.address).toBe(ROUTER);
    expect(await c.mark()).toBeUndefined();
  });

  it('an address asked for by name stays, refused: the user asked for it', async () => {
    const c = await setup({ addresses: ['192.0.2.1-192.0.2.2'], explicit: true });
    expect(await c.program()).toBe('done');
    expect(readyOf(await c.allocation())?.message).toMatch(/so nothing is programmed for it; exclude it from the pool\.$/);
    const writes = c.kube.writes.length;
    expect(await c.allocate()).toBe('done');
    expect(c.kube.writes.length).toBe(writes);
    expect((await c.allocation()).status?.address).toBe(ROUTER);
  });
});

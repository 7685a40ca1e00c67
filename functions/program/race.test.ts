import { describe, expect, it } from 'vitest';
import { createRelease } from '../release/handler.js';
import { allocationName } from '../../lib/core/service.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import type { ObjectRef } from '../../lib/events/invocation.js';
import { EndpointSliceSchema, ServiceSchema } from '../../lib/k8s/core-objects.js';
import { IPAllocationSchema, IPPoolSchema } from '../../lib/k8s/schemas.js';
import type { WriteRecord } from '../../lib/k8s/memory.js';
import { KubeError } from '../../lib/k8s/errors.js';
import { silentLogger } from '../../lib/log/logger.js';
import { client as openClient, sim as startSim } from '../../lib/routeros/client/test-support.js';
import type { RouterState } from '../../lib/router/state.js';
import { gatedRouter } from '../../test/helpers/gated-router.js';
import { createProgram } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * The program/release race, forced step by step: program and release each talk to the same
 * simulated router through their own gate, which can hold a call until the test lets it go.
 * Every ordering must end with no router entry of what release released. (The same against
 * the real API server: test/program/race.test.ts.) Two releases of one Service's allocations
 * race the same way: the re-plan of the one that writes last must not restore the other's.
 */

const UID = '5e1f0000-0000-4000-8000-000000000001';
const IP_A = '192.0.2.15';
const IP_B = '192.0.2.16';
const ALLOC_A = allocationName(UID, { address: IP_A });
const ALLOC_B = allocationName(UID, { address: IP_B });
const RES_UID = '5e1f0000-0000-4000-8000-0000000000r1';
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const NOW = () => new Date('2026-01-01T00:00:00Z');
const SERVICE: ObjectRef = { kind: 'Service', namespace: 'shop', name: 'web' };

function allocation(name: string, uid: string, address: string, service: boolean) {
  return {
    apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
    metadata: { name, uid, resourceVersion: '4', generation: 1, finalizers: ['mikrolb.de/finalizer'],
      ...(service ? { labels: { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': UID } } : {}) },
    spec: { address }, status: { phase: 'Allocated', address, advertised: false },
  };
}

function claim(address: string, allocationName: string, allocationUID: string, sharingKey?: string) {
  const sharing = sharingKey ? { sharingKey, holders: [{ allocationName, allocationUID, ports: [{ protocol: 'TCP', port: 80 }] }] } : {};
  return {
    apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim',
    metadata: { name: address, labels: { 'mikrolb.de/pool': 'lan', 'mikrolb.de/allocation-uid': allocationUID } },
    spec: { address, poolName: 'lan', allocationName, allocationUID, ...sharing },
  };
}

/** `sharingKey`: the Service shares its addresses under that key (its claims say so). */
function cluster(sharingKey?: string) {
  return [
    { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', uid: 'pool-uid', resourceVersion: '1', generation: 1 },
      spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true, interfaceName: 'ether1' },
      status: { claimsAdopted: true } },
    claim(IP_A, ALLOC_A, 'alloc-a', sharingKey),
    claim(IP_B, ALLOC_B, 'alloc-b', sharingKey),
    claim('192.0.2.20', 'reserved-gw', RES_UID),
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', uid: UID, resourceVersion: '2', finalizers: ['mikrolb.de/finalizer'],
      annotations: { 'mikrolb.de/load-balancer-ips': `${IP_A},${IP_B}`, ...(sharingKey ? { 'mikrolb.de/allow-shared-ip': sharingKey } : {}) } },
      spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] } },
    { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-abc', namespace: 'shop', uid: 'es-uid', resourceVersion: '3', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.11'], conditions: { ready: true } }, { addresses: ['10.0.0.12'], conditions: { ready: true } }],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
    allocation(ALLOC_A, 'alloc-a', IP_A, true),
    allocation(ALLOC_B, 'alloc-b', IP_B, true),
    allocation('reserved-gw', RES_UID, '192.0.2.20', false),
  ];
}

const SEED: RouterState = {
  version: '7.19.1',
  menus: {
    '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }, { '.id': '*2', name: 'bridge', type: 'bridge' }],
    '/ip/address': [{ '.id': '*10', address: '192.0.2.1/24', interface: 'ether1' }, { '.id': '*11', address: '10.0.0.1/24', interface: 'bridge' }],
    '/ip/firewall/nat': [{ '.id': '*20', chain: 'srcnat', action: 'masquerade', 'out-interface': 'ether1', comment: 'defconf: masquerade' }],
  },
};


async function setup(opts: { programmed: boolean; sharingKey?: string; beforeWrite?: (w: WriteRecord) => void }) {
  // the simulator and the client are closed after each test (test-support)
  const sim = await startSim({ initialState: SEED });
  const client = openClient(sim, { timeoutMs: 5000 });
  const kube = memoryPortAs('program', { objects: cluster(opts.sharingKey), now: NOW, ...(opts.beforeWrite ? { beforeWrite: opts.beforeWrite } : {}) });
  const p = gatedRouter(client);
  const r = gatedRouter(client);
  const common = { kube: kube.port, classes: CLASSES, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined } };
  const program = createProgram({ ...common, router: p.port });
  // another instance of program (another bridge's, a duplicated event's), on a gate of its own
  const p2 = gatedRouter(client);
  const program2 = createProgram({ ...common, router: p2.port });
  const release = createRelease({ ...common, kube: kube.as('release'), router: r.port, claimGraceMs: 0 });
  const run = (fn: typeof program, ref: ObjectRef) => fn(objectInvocation('update', ref));
  if (opts.programmed) {
    expect((await run(program, SERVICE)).kind).toBe('done');
    expect((await run(program, { kind: 'IPAllocation', name: 'reserved-gw' })).kind).toBe('done');
    // endpoints change while the Service goes away: the program that follows has work to do
    const slice = EndpointSliceSchema.parse(await kube.admin.get('EndpointSlice', 'web-abc', 'shop'));
    await kube.admin.replace('EndpointSlice', { ...slice, endpoints: [{ addresses: ['10.0.0.13'], conditions: { ready: true } }] });
  }
  const entries = (match: string): string[] => {
    const state = sim.state();
    return Object.entries(state.menus).flatMap(([menu, list]) => list.filter((e) => (e.comment ?? '').includes(match)).map((e) => `${menu} ${e.comment ?? ''}`));
  };
  /** Where the Service's dst-nat rules send traffic, as `port→address:port`. */
  const natTargets = (): string[] => (sim.state().menus['/ip/firewall/nat'] ?? [])
    .filter((e) => e.action === 'dst-nat' && (e.comment ?? '').includes(`svc=${UID}:`))
    .map((e) => `${/:dnat:\w+\/(\d+):/.exec(e.comment ?? '')?.[1] ?? '?'}→${e['to-addresses'] ?? ''}:${e['to-ports'] ?? ''}`).sort();
  /** The Service's advertised addresses, with their interfaces. */
  const adverts = (): string[] => (sim.state().menus['/ip/address'] ?? [])
    .filter((e) => (e.comment ?? '').includes(`svc=${UID}:adv:`)).map((e) => `${e.address ?? ''} on ${e.interface ?? ''}`).sort();
  return { kube, program, program2, release, run, holdProgram: p.hold, holdProgram2: p2.hold, holdRelease: r.hold, entries, natTargets, adverts };
}

type Cluster = Awaited<ReturnType<typeof setup>>;

/** The changes of a Service the race tests stage while a run writes: its endpoint moved to 10.0.0.14, */
const endpointMoved = async (c: Cluster): Promise<void> => {
  const slice = EndpointSliceSchema.parse(await c.kube.admin.get('EndpointSlice', 'web-abc', 'shop'));
  await c.kube.admin.replace('EndpointSlice', { ...slice, endpoints: [{ addresses: ['10.0.0.14'], conditions: { ready: true } }] });
};
/** its port changed to 81, */
const portChanged = async (c: Cluster): Promise<void> => {
  const svc = ServiceSchema.parse(await c.kube.admin.get('Service', 'web', 'shop'));
  await c.kube.admin.replace('Service', { ...svc, spec: { ...svc.spec, ports: [{ name: 'http', port: 81, protocol: 'TCP', targetPort: 8080 }] } });
};
/** its pool moved to interface bridge. */
const poolMoved = async (c: Cluster): Promise<void> => {
  const pool = IPPoolSchema.parse(await c.kube.admin.get('IPPool', 'lan'));
  await c.kube.admin.replace('IPPool', { ...pool, spec: { ...pool.spec, interfaceName: 'bridge' } });
};

type Ctx = Awaited<ReturnType<typeof setup>>;

/** The Service is deleted and release runs to completion (router entries, addresses, finalizers). */
async function deleteAndRelease(c: Ctx): Promise<void> {
  await c.kube.admin.remove('Service', 'web', 'shop');
  expect((await c.run(c.release, SERVICE)).kind).toBe('done');
  expect(await c.kube.admin.get('Service', 'web', 'shop')).toBeUndefined();
}

/** One of the Service's allocations is deleted and release runs to completion for it. */
async function deleteAndReleaseAllocation(c: Ctx, name: string): Promise<void> {
  await c.kube.admin.remove('IPAllocation', name);
  expect((await c.run(c.release, { kind: 'IPAllocation', name })).kind).toBe('done');
  expect(await c.kube.admin.get('IPAllocation', name)).toBeUndefined();
}

const orderings: { story: string; steps: (c: Ctx) => Promise<void> }[] = [
  {
    story: 'release runs between program reading the cluster and reading the router',
    steps: async (c) => {
      const held = c.holdProgram('read');
      const programming = c.run(c.program, SERVICE);
      await held.reached;
      await deleteAndRelease(c);
      held.resume();
      expect((await programming).kind).toBe('done');
    },
  },
  {
    story: 'release runs between program reading the router and writing it',
    steps: async (c) => {
      const held = c.holdProgram('execute');
      const programming = c.run(c.program, SERVICE);
      await held.reached;
      await deleteAndRelease(c);
      held.resume();
      expect((await programming).kind).toBe('done');
    },
  },
  {
    story: 'program writes after release read the router, before release writes it',
    steps: async (c) => {
      const programHeld = c.holdProgram('execute');
      const programming = c.run(c.program, SERVICE);
      await programHeld.reached;
      await c.kube.admin.remove('Service', 'web', 'shop');
      const releaseHeld = c.holdRelease('read-done');
      const releasing = c.run(c.release, SERVICE);
      await releaseHeld.reached;
      programHeld.resume();
      expect((await programming).kind).toBe('done');
      releaseHeld.resume();
      expect((await releasing).kind).toBe('done');
    },
  },
  {
    story: 'program completes before release starts',
    steps: async (c) => {
      expect((await c.run(c.program, SERVICE)).kind).toBe('done');
      await deleteAndRelease(c);
    },
  },
  {
    story: 'program starts after release completed',
    steps: async (c) => {
      await deleteAndRelease(c);
      expect((await c.run(c.program, SERVICE)).kind).toBe('done');
    },
  },
];

describe('program and release interleaved on one router', () => {
  describe.each([{ programmed: false }, { programmed: true }])('router already programmed: $programmed', ({ programmed }) => {
    it.each(orderings)('$story: no entry of the released Service is left', async ({ steps }) => {
      const c = await setup({ programmed });
      await steps(c);
      expect(c.entries(`svc=${UID}:`)).toEqual([]);
      // the operator reservation next to it is untouched
      if (programmed) expect(c.entries(`svc=${RES_UID}:adv:`)).toHaveLength(1);
    });
  });

  it('one allocation released while program writes: its address goes, the other stays', async () => {
    const c = await setup({ programmed: true });
    const held = c.holdProgram('execute');
    const programming = c.run(c.program, SERVICE);
    await held.reached;
    await deleteAndReleaseAllocation(c, ALLOC_B);
    held.resume();
    expect((await programming).kind).toBe('done');
    expect(c.entries(IP_B)).toEqual([]);
    expect(c.entries(`svc=${UID}:adv:${IP_A}`)).toHaveLength(1);
    expect(c.entries(`svc=${UID}:lb-jump:${IP_A}`)).toHaveLength(1);
  });

  it('one allocation released while program writes, and the router fails on the re-plan: the error says what was being done', async () => {
    // the message said "Removing the entries of <uid> after its release failed" of a live
    // Service programmed again without the allocation released meanwhile
    const c = await setup({ programmed: true });
    const held = c.holdProgram('execute');
    const programming = c.run(c.program, SERVICE);
    await held.reached;
    await deleteAndReleaseAllocation(c, ALLOC_B);
    const replan = c.holdProgram('read-menus');
    held.resume();
    await replan.reached;
    replan.fail(new Error('connection reset'));
    const outcome = await programming;
    expect(outcome.kind).toBe('retry');
    expect(outcome.kind === 'retry' ? outcome.message : '').toBe(`Programming ${UID} again (an allocation was released) failed: connection reset`);
  });

  it('a second allocation released while program settles after the first: neither address is left', async () => {
    const c = await setup({ programmed: true });
    const write = c.holdProgram('execute');
    const programming = c.run(c.program, SERVICE);
    await write.reached;
    await deleteAndReleaseAllocation(c, ALLOC_B);
    // program's settle finds B released and plans the Service again with A: held before that
    // write reads the router, while A is released in turn
    const again = c.holdProgram('read-menus');
    write.resume();
    await again.reached;
    await deleteAndReleaseAllocation(c, ALLOC_A);
    again.resume();
    expect((await programming).kind).toBe('done');
    expect(c.entries(IP_A)).toEqual([]);
    expect(c.entries(IP_B)).toEqual([]);
  });

  /** A's release reads the cluster (B still live), is held before its router write while `meanwhile` runs, then finishes. */
  async function releaseAHeldWhile(c: Ctx, meanwhile: () => Promise<void>): Promise<void> {
    await c.kube.admin.remove('IPAllocation', ALLOC_A);
    const held = c.holdRelease('execute');
    const releasingA = c.run(c.release, { kind: 'IPAllocation', name: ALLOC_A });
    await held.reached;
    await meanwhile();
    held.resume();
    expect((await releasingA).kind).toBe('done');
  }

  it('two allocations of a live Service released at once, one writing the router after the other finished: neither address is left', async () => {
    const c = await setup({ programmed: true });
    await releaseAHeldWhile(c, () => deleteAndReleaseAllocation(c, ALLOC_B));
    expect(await c.kube.admin.get('IPAllocation', ALLOC_A)).toBeUndefined();
    expect(c.entries(IP_B)).toEqual([]);
    expect(c.entries(IP_A)).toEqual([]);
  });

  it('an allocation released while its Service is deleted and released: nothing of the Service is left', async () => {
    const c = await setup({ programmed: true });
    await releaseAHeldWhile(c, () => deleteAndRelease(c));
    expect(c.entries(`svc=${UID}:`)).toEqual([]);
  });

  // The same with the addresses shared: A's re-plan of the Service, planned while B was live,
  // puts B's address's own entries (its advertisement, its LB list entry) back after B's release
  // took them off as the last holder and freed the claim; re-planned without B, the Service's
  // entries go, but the address's own are another owner's, and stood (advertised, freed) until
  // the resync.
  it('two allocations of a live sharing Service released at once, one writing the router after the other finished: neither address is left', async () => {
    const c = await setup({ programmed: true, sharingKey: 'web' });
    expect(c.entries(`svc=ip-${IP_B}:`)).toHaveLength(2);
    await releaseAHeldWhile(c, () => deleteAndReleaseAllocation(c, ALLOC_B));
    expect(await c.kube.admin.get('IPAllocation', ALLOC_A)).toBeUndefined();
    expect(c.entries(IP_B)).toEqual([]);
    expect(c.entries(IP_A)).toEqual([]);
  });

  it('an allocation of a sharing Service released while its Service is deleted and released: nothing of the Service, nor its addresses\' own, is left', async () => {
    const c = await setup({ programmed: true, sharingKey: 'web' });
    await releaseAHeldWhile(c, () => deleteAndRelease(c));
    expect(c.entries(`svc=${UID}:`)).toEqual([]);
    expect(c.entries('svc=ip-')).toEqual([]);
  });

  it('a sharing Service released while program writes: neither its entries nor its addresses\' own are left', async () => {
    const c = await setup({ programmed: false, sharingKey: 'web' });
    const held = c.holdProgram('execute');
    const programming = c.run(c.program, SERVICE);
    await held.reached;
    await deleteAndRelease(c);
    expect(await c.kube.admin.list('IPAddressClaim')).toHaveLength(1); // the reservation's
    held.resume();
    expect((await programming).kind).toBe('done');
    expect(c.entries(`svc=${UID}:`)).toEqual([]);
    expect(c.entries('svc=ip-')).toEqual([]);
  });

  // Program's write added rules and its statuses had nothing to carry (Programmed already), so
  // it settles the long way and then checks the router for rules another run doubled: that
  // check's write is planned from program's first read of the cluster. `meanwhile` runs between
  // the settle and the check (chaos, seed 8675309: the Service deleted and released then had
  // its rules put back by the check, and they stood until the resync).
  async function whileCheckingForDoubles(c: Ctx, meanwhile: () => Promise<void>): Promise<void> {
    const slice = EndpointSliceSchema.parse(await c.kube.admin.get('EndpointSlice', 'web-abc', 'shop'));
    await c.kube.admin.replace('EndpointSlice', { ...slice, endpoints: ['10.0.0.13', '10.0.0.14', '10.0.0.15'].map((ip) => ({ addresses: [ip], conditions: { ready: true } })) });
    const write = c.holdProgram('execute');
    const programming = c.run(c.program, SERVICE);
    await write.reached;
    const check = c.holdProgram('read');
    write.resume();
    await check.reached;
    await meanwhile();
    check.resume();
    expect((await programming).kind).toBe('done');
  }

  it.each([{ sharingKey: undefined }, { sharingKey: 'web' }])('release runs while program checks its write for doubles (sharing key $sharingKey): nothing of the Service is left', async ({ sharingKey }) => {
    const c = await setup({ programmed: true, ...(sharingKey ? { sharingKey } : {}) });
    await whileCheckingForDoubles(c, async () => {
      await deleteAndRelease(c);
      expect(c.entries(`svc=${UID}:`)).toEqual([]);
    });
    expect(c.entries(`svc=${UID}:`)).toEqual([]);
    expect(c.entries('svc=ip-')).toEqual([]);
  });

  it('a shared address released while program checks its write for doubles: neither its entries nor its own are left', async () => {
    const c = await setup({ programmed: true, sharingKey: 'web' });
    await whileCheckingForDoubles(c, async () => {
      await deleteAndReleaseAllocation(c, ALLOC_B);
      expect(c.entries(IP_B)).toEqual([]);
    });
    expect(c.entries(IP_B)).toEqual([]);
    expect(c.entries(`svc=ip-${IP_A}:adv:${IP_A}`)).toHaveLength(1);
    expect(c.entries(`svc=${UID}:lb-jump:${IP_A}`)).toHaveLength(1);
  });

  // Program's router write landed after the Service's release, and its status writes then
  // failed outright (the API server unavailable): the write settles all the same (chaos, seed
  // 31337: the retried invocation found the Service gone and its rules stood until the resync).
  it('release runs while program writes, and program\'s status writes then fail: nothing of the Service is left', async () => {
    let failing = false;
    const c = await setup({ programmed: false, beforeWrite: (w) => {
      if (failing && w.subresource === 'status') throw new KubeError('the server is currently unable to handle the request', 503, 'ServiceUnavailable');
    } });
    const held = c.holdProgram('execute');
    const programming = c.run(c.program, SERVICE);
    await held.reached;
    await deleteAndRelease(c);
    failing = true;
    held.resume();
    expect((await programming).kind).not.toBe('done');
    expect(c.entries(`svc=${UID}:`)).toEqual([]);
  });

  it('an operator reservation released while program writes its advertisement', async () => {
    const c = await setup({ programmed: false });
    const held = c.holdProgram('execute');
    const programming = c.run(c.program, { kind: 'IPAllocation', name: 'reserved-gw' });
    await held.reached;
    await c.kube.admin.remove('IPAllocation', 'reserved-gw');
    expect((await c.run(c.release, { kind: 'IPAllocation', name: 'reserved-gw' })).kind).toBe('done');
    held.resume();
    expect((await programming).kind).toBe('done');
    expect(c.entries(RES_UID)).toEqual([]);
  });
});

describe('program racing program for one Service', () => {
  // Two runs for one Service: the first read the cluster before a change and is held before
  // its router write; the second reads the change and completes. When the first one's write
  // lands, it must not stand (found by the chaos suite, seed 1864800707: a Service's slices
  // scaled, its rules kept the old endpoints until the resync).
  async function firstWritesLast(c: Ctx, change: () => Promise<void>): Promise<void> {
    const held = c.holdProgram('execute');
    const first = c.run(c.program, SERVICE);
    await held.reached;
    await change();
    expect((await c.run(c.program2, SERVICE)).kind).toBe('done');
    held.resume();
    expect((await first).kind).toBe('done');
  }

  it('its slices changed in between: the rules end with the new endpoints', async () => {
    const c = await setup({ programmed: true }); // the slice now holds 10.0.0.13
    await firstWritesLast(c, () => endpointMoved(c));
    expect(c.natTargets()).toEqual(['80→10.0.0.14:8080']);
  });

  it('its ports changed in between: the rules end with the new port', async () => {
    const c = await setup({ programmed: true });
    await firstWritesLast(c, () => portChanged(c));
    expect(c.natTargets()).toEqual(['81→10.0.0.13:8080']);
  });

  it('its spec changed in between: the stale run sees it by the spec itself (a Service has no generation) and runs again', async () => {
    const c = await setup({ programmed: true });
    const held = c.holdProgram('execute');
    const first = c.run(c.program, SERVICE);
    await held.reached;
    const svc = ServiceSchema.parse(await c.kube.admin.get('Service', 'web', 'shop'));
    expect(svc.metadata.generation).toBeUndefined();
    await c.kube.admin.replace('Service', { ...svc, spec: { ...svc.spec, ports: [{ name: 'http', port: 81, protocol: 'TCP', targetPort: 8080 }] } });
    held.resume();
    const outcome = await first;
    expect(outcome.kind).toBe('done');
    expect(JSON.stringify(outcome)).toContain('the Service changed while programming: program runs again');
    expect(c.natTargets()).toEqual(['81→10.0.0.13:8080']);
  });

  it('the same change programmed by two runs at once (one read): no rule is left doubled', async () => {
    const c = await setup({ programmed: true });
    const slice = EndpointSliceSchema.parse(await c.kube.admin.get('EndpointSlice', 'web-abc', 'shop'));
    await c.kube.admin.replace('EndpointSlice', { ...slice, endpoints: ['10.0.0.13', '10.0.0.14', '10.0.0.15'].map((ip) => ({ addresses: [ip], conditions: { ready: true } })) });
    // both read the router before either writes: both add the rules of the new endpoints
    const held = [c.holdProgram('execute'), c.holdProgram2('execute')];
    const runs = [c.run(c.program, SERVICE), c.run(c.program2, SERVICE)];
    await Promise.all(held.map((h) => h.reached));
    for (const h of held) h.resume();
    for (const r of await Promise.all(runs)) expect(r.kind).toBe('done');
    expect(c.natTargets()).toEqual(['80→10.0.0.13:8080', '80→10.0.0.14:8080', '80→10.0.0.15:8080']);
  });

  it('an endpoint swapped, programmed by two runs at once (one read): both set the rule, which is left once', async () => {
    const c = await setup({ programmed: true }); // the slice now holds 10.0.0.13 in place of the endpoint programmed
    const held = [c.holdProgram('execute'), c.holdProgram2('execute')];
    const runs = [c.run(c.program, SERVICE), c.run(c.program2, SERVICE)];
    await Promise.all(held.map((h) => h.reached));
    for (const h of held) h.resume();
    for (const r of await Promise.all(runs)) expect(r.kind).toBe('done');
    expect(c.natTargets()).toEqual(['80→10.0.0.13:8080']);
  });

  it('its pool moved to another interface in between: the addresses end advertised there', async () => {
    const c = await setup({ programmed: true });
    await firstWritesLast(c, () => poolMoved(c));
    expect(c.adverts()).toEqual([`${IP_A}/32 on bridge`, `${IP_B}/32 on bridge`]);
  });
});

// An allocation of a live Service released while allocate records the Service's new allocation
// (its load-balancer-ips changed from A to C: allocate deletes A's allocation and makes C's in
// one run) and program writes C's entries: release re-plans the Service from the allocations it
// listed before C existed, against a read of the router that holds C's entries, so its write
// takes them off. C is new to the settle's read after that write, and a new allocation did not
// count as a change: C stayed Programmed with nothing on the router until the resync.
describe('a Service\'s allocation released while its new one is recorded and programmed', () => {
  const IP_C = '192.0.2.17';
  const ALLOC_C = allocationName(UID, { address: IP_C });

  /** What allocate does for the Service whose A it replaced by C: A deleted, C made, claimed and recorded. */
  async function replaceAByC(c: Ctx): Promise<void> {
    const svc = ServiceSchema.parse(await c.kube.admin.get('Service', 'web', 'shop'));
    await c.kube.admin.replace('Service', { ...svc, metadata: { ...svc.metadata, annotations: { 'mikrolb.de/load-balancer-ips': `${IP_C},${IP_B}` } } });
    await c.kube.admin.remove('IPAllocation', ALLOC_A);
  }

  async function recordC(c: Ctx): Promise<void> {
    const { status, metadata, ...made } = allocation(ALLOC_C, 'alloc-c', IP_C, true);
    const { uid: _uid, resourceVersion: _rv, ...meta } = metadata;
    const created = IPAllocationSchema.parse(await c.kube.admin.create('IPAllocation', { ...made, metadata: meta }));
    await c.kube.admin.create('IPAddressClaim', claim(IP_C, ALLOC_C, created.metadata.uid ?? ''));
    await c.kube.admin.replaceStatus('IPAllocation', { ...created, status });
  }

  it('release re-plans the Service after program wrote C: C keeps its entries, A\'s go', async () => {
    const c = await setup({ programmed: true });
    await replaceAByC(c);
    // release lists the Service's other allocations (B alone), then is held before it reads the router
    const held = c.holdRelease('read-menus');
    const releasing = c.run(c.release, { kind: 'IPAllocation', name: ALLOC_A });
    await held.reached;
    await recordC(c);
    expect((await c.run(c.program, SERVICE)).kind).toBe('done');
    expect(c.entries(`svc=${UID}:adv:${IP_C}`)).toHaveLength(1);
    held.resume();
    expect((await releasing).kind).toBe('done');
    expect(await c.kube.admin.get('IPAllocation', ALLOC_A)).toBeUndefined();
    expect(c.entries(IP_A)).toEqual([]);
    expect(c.adverts()).toEqual([`${IP_B}/32 on ether1`, `${IP_C}/32 on ether1`]);
    expect(c.entries(`svc=${UID}:lb-jump:${IP_C}`)).toHaveLength(1);
  });
});

describe('a sharing Service\'s allocation released while program writes, a new one of it recorded meanwhile', () => {
  const IP_C = '192.0.2.17';
  const ALLOC_C = allocationName(UID, { address: IP_C });

  it('the settle plans the new address as shared, as its claim says: its own entries stay the address\'s', async () => {
    const c = await setup({ programmed: true, sharingKey: 'web' });
    const held = c.holdProgram('execute');
    const programming = c.run(c.program, SERVICE);
    await held.reached;
    const svc = ServiceSchema.parse(await c.kube.admin.get('Service', 'web', 'shop'));
    await c.kube.admin.replace('Service', { ...svc, metadata: { ...svc.metadata, annotations: { ...svc.metadata.annotations, 'mikrolb.de/load-balancer-ips': `${IP_A},${IP_C}` } } });
    await deleteAndReleaseAllocation(c, ALLOC_B);
    const { status, metadata, ...made } = allocation(ALLOC_C, 'alloc-c', IP_C, true);
    const { uid: _uid, resourceVersion: _rv, ...meta } = metadata;
    const created = IPAllocationSchema.parse(await c.kube.admin.create('IPAllocation', { ...made, metadata: meta }));
    await c.kube.admin.create('IPAddressClaim', claim(IP_C, ALLOC_C, created.metadata.uid ?? '', 'web'));
    await c.kube.admin.replaceStatus('IPAllocation', { ...created, status });
    expect((await c.run(c.program2, SERVICE)).kind).toBe('done');
    expect(c.entries(`svc=ip-${IP_C}:`)).toHaveLength(2);
    held.resume();
    expect((await programming).kind).toBe('done');
    expect(c.entries(IP_B)).toEqual([]);
    expect(c.entries(`svc=ip-${IP_C}:`)).toHaveLength(2);
    expect(c.entries(`svc=${UID}:adv:${IP_C}`)).toEqual([]);
  });
});

// Releasing one allocation re-plans its live Service from the slices (and the Service) release
// read first, against whole menus: a change programmed meanwhile by program was set back by
// that write, and the settle after it looked at the allocations alone.
describe('a Service\'s allocation released while program writes a change of the Service', () => {
  async function releaseAWhile(c: Ctx, change: () => Promise<void>): Promise<void> {
    expect((await c.run(c.program, SERVICE)).kind).toBe('done'); // the router has the slice's 10.0.0.13
    await c.kube.admin.remove('IPAllocation', ALLOC_A);
    const held = c.holdRelease('read-menus');
    const releasing = c.run(c.release, { kind: 'IPAllocation', name: ALLOC_A });
    await held.reached;
    await change();
    expect((await c.run(c.program2, SERVICE)).kind).toBe('done');
    held.resume();
    expect((await releasing).kind).toBe('done');
    expect(c.entries(IP_A)).toEqual([]);
  }

  it('its endpoints changed: the rules end with the new endpoints', async () => {
    const c = await setup({ programmed: true });
    await releaseAWhile(c, () => endpointMoved(c));
    expect(c.natTargets()).toEqual(['80→10.0.0.14:8080']);
  });

  it('its ports changed: the rules end with the new port', async () => {
    const c = await setup({ programmed: true });
    await releaseAWhile(c, () => portChanged(c));
    expect(c.natTargets()).toEqual(['81→10.0.0.13:8080']);
  });

  it('its pool moved to another interface: the address ends advertised there', async () => {
    const c = await setup({ programmed: true });
    await releaseAWhile(c, () => poolMoved(c));
    expect(c.adverts()).toEqual([`${IP_B}/32 on bridge`]);
  });
});

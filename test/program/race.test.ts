import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAllocate } from '../../functions/allocate/handler.js';
import { createProgram } from '../../functions/program/handler.js';
import { createRelease } from '../../functions/release/handler.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import type { ObjectRef } from '../../lib/events/invocation.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import { defaultPause } from '../../lib/k8s/conflict.js';
import { getService } from '../../lib/k8s/typed.js';
import { silentLogger } from '../../lib/log/logger.js';
import { connectRouter, type RouterClient } from '../../lib/routeros/client/index.js';
import { startRouterSim, type RouterSim } from '../../lib/routeros/sim/index.js';
import { allocateDeps, CLASSES } from '../allocate/setup.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { gatedRouter, type GatePoint } from '../helpers/gated-router.js';
import { objects } from '../helpers/objects.js';
import { SEED } from './setup.js';

/**
 * The program/release race against the real API server and the simulator: program is held
 * at a router step while the Service is deleted and released; the finished interleaving must
 * leave no entry of the deleted Service on the router (functions/program/race.test.ts covers
 * every ordering on the in-memory API). And two releases of one Service's allocations: the one
 * that writes the router last must not put back what the other took off.
 */

const kube = apiServerPort(testCluster().transport);
const make = objects(kube);
const ns = uniq('race');
const pool = uniq('race-v4');
let sim: RouterSim | undefined;
let client: RouterClient | undefined;

beforeAll(async () => {
  await make.namespace(ns);
  await make.pool(pool, { ipFamily: 'IPv4', addresses: ['198.18.40.200-198.18.40.239'], autoAssign: false, interfaceName: 'ether1' });
});

afterEach(async () => {
  await client?.close();
  await sim?.close();
});

afterAll(async () => {
  await make.cleanup();
});

const deps = { kube, classes: CLASSES, now: () => new Date(), log: silentLogger(), retry: { attempts: 20, pause: defaultPause() } };

describe('program and release interleaved (real API server, simulator)', () => {
  it.each<{ story: string; programAt: GatePoint; releaseAt?: GatePoint }>([
    { story: 'release completes between program reading the router and writing it', programAt: 'execute' },
    { story: 'program writes after release read the router and before release writes', programAt: 'execute', releaseAt: 'read-done' },
  ])('$story: no entry of the deleted Service is left', async ({ programAt, releaseAt }) => {
    sim = await startRouterSim({ initialState: SEED, users: [{ name: 'mikrolb', password: 's3cret' }] });
    client = connectRouter({ url: sim.url, username: 'mikrolb', password: 's3cret', timeoutMs: 5000 });
    const p = gatedRouter(client);
    const r = gatedRouter(client);
    const program = createProgram({ ...deps, router: p.port });
    const release = createRelease({ ...deps, router: r.port, claimGraceMs: 60_000 });
    const allocate = createAllocate(allocateDeps(kube));
    const name = uniq('web');
    const ref: ObjectRef = { kind: 'Service', namespace: ns, name };
    const run = (fn: typeof program, target: ObjectRef) => fn(objectInvocation('update', target));

    const svc = await make.service(ns, name, { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'] }, { 'mikrolb.de/load-balancer-pools': pool });
    const uid = svc?.metadata.uid ?? '';
    await kube.create('EndpointSlice', {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-1`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4', endpoints: [{ addresses: ['10.244.1.11'], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
    expect((await run(allocate, ref)).kind).toBe('done');
    const ours = (): string[] => Object.values(sim?.state().menus ?? {}).flat().map((e) => e.comment ?? '').filter((c) => c.includes(`svc=${uid}:`));

    const programHeld = p.hold(programAt);
    const programming = run(program, ref);
    await programHeld.reached;
    await kube.remove('Service', name, ns);
    if (releaseAt) {
      const releaseHeld = r.hold(releaseAt);
      const releasing = run(release, ref);
      await releaseHeld.reached;
      programHeld.resume();
      expect((await programming).kind).toBe('done');
      releaseHeld.resume();
      expect((await releasing).kind).toBe('done');
    } else {
      expect((await run(release, ref)).kind).toBe('done');
      expect(await getService(kube, ns, name)).toBeUndefined();
      programHeld.resume();
      expect((await programming).kind).toBe('done');
    }
    expect(await getService(kube, ns, name)).toBeUndefined();
    expect(ours()).toEqual([]);
  });
});

describe('two allocations of one Service released at once (real API server, simulator)', () => {
  it('the release that writes last puts back nothing of the other\'s address', async () => {
    sim = await startRouterSim({ initialState: SEED, users: [{ name: 'mikrolb', password: 's3cret' }] });
    client = connectRouter({ url: sim.url, username: 'mikrolb', password: 's3cret', timeoutMs: 5000 });
    const r = gatedRouter(client);
    const program = createProgram({ ...deps, router: client });
    const release = createRelease({ ...deps, router: r.port, claimGraceMs: 60_000 });
    const allocate = createAllocate(allocateDeps(kube));
    const name = uniq('pair');
    const ref: ObjectRef = { kind: 'Service', namespace: ns, name };
    const run = (fn: typeof program, target: ObjectRef) => fn(objectInvocation('update', target));
    const [ipA, ipB] = ['198.18.40.230', '198.18.40.231'];
    const svc = await make.service(ns, name, { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'] }, { 'mikrolb.de/load-balancer-pools': pool, 'mikrolb.de/load-balancer-ips': `${ipA},${ipB}` });
    const uid = svc?.metadata.uid ?? '';
    await kube.create('EndpointSlice', {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-1`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4', endpoints: [{ addresses: ['10.244.1.12'], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
    expect((await run(allocate, ref)).kind).toBe('done');
    expect((await run(program, ref)).kind).toBe('done');
    const entriesOf = (ip: string): string[] => Object.values(sim?.state().menus ?? {}).flat().map((e) => e.comment ?? '').filter((c) => c.includes(`svc=${uid}:`) && c.endsWith(`:${ip}`));
    expect(entriesOf(ipA).length).toBeGreaterThan(0);
    expect(entriesOf(ipB).length).toBeGreaterThan(0);
    const byAddress = new Map((await make.allocationsOf(ns, name)).map((a) => [a.status?.address, a.metadata.name]));
    const [allocA, allocB] = [byAddress.get(ipA) ?? '', byAddress.get(ipB) ?? ''];

    // A's release reads the cluster while B is live, then waits before writing the router
    await kube.remove('IPAllocation', allocA);
    const held = r.hold('execute');
    const releasingA = run(release, { kind: 'IPAllocation', name: allocA });
    await held.reached;
    await kube.remove('IPAllocation', allocB);
    expect((await run(release, { kind: 'IPAllocation', name: allocB })).kind).toBe('done');
    expect(await kube.get('IPAllocation', allocB)).toBeUndefined();
    held.resume();
    expect((await releasingA).kind).toBe('done');
    expect(await kube.get('IPAllocation', allocA)).toBeUndefined();
    expect(entriesOf(ipB)).toEqual([]);
    expect(entriesOf(ipA)).toEqual([]);
  });
});

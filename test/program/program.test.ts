import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiServerPort } from '../../lib/k8s/client.js';
import { getAllocation, getService } from '../../lib/k8s/typed.js';
import type { IPAllocation } from '../../lib/k8s/schemas.js';
import { createTracer } from '../tracer/index.js';
import type { RouterState } from '../../lib/router/state.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { startStack, type Stack } from './setup.js';

const kube = apiServerPort(testCluster().transport);
const make = objects(kube);
const ns = uniq('prog');
const pool4 = uniq('prog-v4');
const pool6 = uniq('prog-v6');
let stack: Stack;
let baseline = '';

const slice = (name: string, addressType: 'IPv4' | 'IPv6', ready: string[], notReady: string[], ports = [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'dns', port: 5353, protocol: 'UDP' }]) => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
  metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': 'web' } },
  addressType,
  endpoints: [...ready.map((a) => ({ addresses: [a], conditions: { ready: true } })), ...notReady.map((a) => ({ addresses: [a], conditions: { ready: false } }))],
  ports,
});
const READY4 = ['10.244.1.11', '10.244.1.12', '10.244.1.13'];
const READY6 = ['fd00:244::11', 'fd00:244::12', 'fd00:244::13'];

async function putSlice(body: ReturnType<typeof slice>): Promise<void> {
  const existing = await kube.get('EndpointSlice', body.metadata.name, ns);
  if (existing === undefined) await kube.create('EndpointSlice', body);
  else await kube.replace('EndpointSlice', { ...body, metadata: { ...body.metadata, resourceVersion: z_rv(existing) } });
}
function z_rv(raw: unknown): string {
  const m = typeof raw === 'object' && raw !== null && 'metadata' in raw ? raw.metadata : undefined;
  return typeof m === 'object' && m !== null && 'resourceVersion' in m && typeof m.resourceVersion === 'string' ? m.resourceVersion : '';
}

async function setAnnotations(annotations: Record<string, string>, ports?: unknown[]): Promise<void> {
  const svc = await getService(kube, ns, 'web');
  if (!svc) throw new Error('Service web is gone');
  await kube.replace('Service', { ...svc, metadata: { ...svc.metadata, annotations: { ...svc.metadata.annotations, ...annotations } }, spec: { ...svc.spec, ...(ports ? { ports } : {}) } });
}

async function program(): Promise<{ status: number; routerOps: number; roundTrips: number }> {
  const before = stack.router.stats.roundTrips;
  const res = await stack.program.object({ kind: 'Service', namespace: ns, name: 'web' });
  const routerOps = typeof res.body.routerOps === 'number' ? res.body.routerOps : -1;
  return { status: res.status, routerOps, roundTrips: stack.router.stats.roundTrips - before };
}

function split(state: RouterState, dst: string, port: number, protocol: 'tcp' | 'udp', n = 3000): Map<string, number> {
  const tracer = createTracer(state);
  const hits = new Map<string, number>();
  const v6 = dst.includes(':');
  for (let i = 0; i < n; i++) {
    const src = v6 ? `2001:db8:99::${(i % 250 + 1).toString(16)}` : `203.0.113.${(i % 250) + 1}`;
    const t = tracer.trace({ srcAddress: src, srcPort: 10000 + i, dstAddress: dst, dstPort: port, protocol, inInterface: 'ether1' });
    if (!t.ok) throw new Error(t.message);
    const key = `${t.verdict}:${t.dstAddress}:${t.dstPort}`;
    hits.set(key, (hits.get(key) ?? 0) + 1);
  }
  return hits;
}

function foreign(state: RouterState): string {
  return JSON.stringify(Object.entries(state.menus).flatMap(([m, es]) => es.filter((e) => !(e.comment ?? '').startsWith('mikrolb:')).map((e) => [m, e])));
}

/** The Service's `mikrolb.de/LoadBalancerReady` condition, as the API server has it. */
const serviceReady = async () => (await getService(kube, ns, 'web'))?.status?.conditions?.find((c) => c.type === 'mikrolb.de/LoadBalancerReady');

const addressOf = async (family: 'IPv4' | 'IPv6'): Promise<string> => {
  const allocs: IPAllocation[] = await make.allocationsOf(ns, 'web');
  const a = allocs.find((x) => (family === 'IPv6') === (x.status?.address ?? '').includes(':'));
  return a?.status?.address ?? '';
};

beforeAll(async () => {
  stack = await startStack();
  baseline = foreign(stack.sim.state());
  await make.namespace(ns);
  await make.pool(pool4, { ipFamily: 'IPv4', addresses: ['198.18.40.100-198.18.40.199'], autoAssign: false, interfaceName: 'ether1' });
  await make.pool(pool6, { ipFamily: 'IPv6', addresses: ['2001:db8:4040::100-2001:db8:4040::1ff'], autoAssign: false, interfaceName: 'ether1' });
  await make.service(ns, 'web', {
    type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'],
    ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }, { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }],
  }, { 'mikrolb.de/load-balancer-pools': `${pool4},${pool6}`, 'mikrolb.de/snat-ips': 'use-lb-ips' });
  await putSlice(slice('web-v4', 'IPv4', READY4, ['10.244.1.91']));
  await putSlice(slice('web-v6', 'IPv6', READY6, ['fd00:244::91']));
  expect(await stack.allocate({ kind: 'Service', namespace: ns, name: 'web' })).toBe(200);
});

afterAll(async () => {
  await make.cleanup();
  await stack.close();
});

describe('program against the real API server and the RouterOS simulator', () => {
  it('programs a dual-stack Service: even split to ready endpoints on both ports, SNAT, rejects, ingress', async () => {
    const first = await program();
    expect(first.status).toBe(200);
    console.log(`[program] first programming of a dual-stack Service (2 ports, 3+1 endpoints, SNAT): ${first.roundTrips} router round trips, ${first.routerOps} changes`);
    const state = stack.sim.state();
    for (const family of ['IPv4', 'IPv6'] as const) {
      const lb = await addressOf(family);
      const ready = family === 'IPv4' ? READY4 : READY6;
      for (const [port, proto, target] of [[80, 'tcp', 8080], [53, 'udp', 5353]] as const) {
        const hits = split(state, lb, port, proto);
        expect([...hits.keys()].sort()).toEqual(ready.map((r) => `accept:${r}:${target}`).sort());
        for (const n of hits.values()) expect(Math.abs(n - 1000)).toBeLessThanOrEqual(50);
      }
      const tracer = createTracer(state);
      const egress = tracer.trace({ srcAddress: ready[1] ?? '', srcPort: 40000, dstAddress: family === 'IPv4' ? '203.0.113.50' : '2001:db8:99::50', dstPort: 443, protocol: 'tcp', inInterface: 'bridge' });
      expect(egress).toMatchObject({ ok: true, srcAddress: lb });
      const stranger = tracer.trace({ srcAddress: family === 'IPv4' ? '10.244.7.7' : 'fd00:244::777', srcPort: 40000, dstAddress: family === 'IPv4' ? '203.0.113.50' : '2001:db8:99::50', dstPort: 443, protocol: 'tcp', inInterface: 'bridge' });
      expect(stranger).toMatchObject({ ok: true });
      expect(stranger.ok && stranger.srcAddress).not.toBe(lb);
      // hairpin: a pod in the endpoints' network reaches the LB address through the router both ways
      const hairpin = tracer.trace({ srcAddress: family === 'IPv4' ? '10.244.7.7' : 'fd00:244::777', srcPort: 40001, dstAddress: lb, dstPort: 80, protocol: 'tcp', inInterface: 'bridge' });
      expect(hairpin).toMatchObject({ ok: true, verdict: 'accept', dstPort: 8080, srcAddress: family === 'IPv4' ? '10.244.0.1' : 'fd00:244::1' });
      expect(tracer.trace({ srcAddress: family === 'IPv4' ? '203.0.113.9' : '2001:db8:99::9', srcPort: 1234, dstAddress: lb, dstPort: 22, protocol: 'tcp', inInterface: 'ether1' })).toMatchObject({ ok: true, verdict: 'reject' });
    }
    const svc = await getService(kube, ns, 'web');
    expect(svc?.status?.loadBalancer?.ingress?.map((i) => i.ip).sort()).toEqual([await addressOf('IPv4'), await addressOf('IPv6')].sort());
    for (const a of await make.allocationsOf(ns, 'web')) {
      expect(a.status).toMatchObject({ phase: 'Programmed', advertised: true, interfaceName: 'ether1' });
      expect(a.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'AllocatedAndProgrammed' });
    }
    expect(foreign(stack.sim.state())).toBe(baseline);
  });

  it('an unchanged re-run is one round trip with no router writes', async () => {
    const rerun = await program();
    console.log(`[program] unchanged re-run: ${rerun.roundTrips} router round trip(s), ${rerun.routerOps} changes`);
    expect(rerun).toEqual({ status: 200, routerOps: 0, roundTrips: 1 });
  });

  it('converges with minimal plans: endpoints 3 → 1 → 3, load balancer off and on, a port changed; foreign entries stay byte-identical', async () => {
    await putSlice(slice('web-v4', 'IPv4', ['10.244.1.11'], ['10.244.1.91']));
    const down = await program();
    expect(down.routerOps).toBeLessThanOrEqual(4 * 2); // per port: a few removes/sets
    expect([...split(stack.sim.state(), await addressOf('IPv4'), 80, 'tcp', 300).keys()]).toEqual(['accept:10.244.1.11:8080']);
    await putSlice(slice('web-v4', 'IPv4', READY4, ['10.244.1.91']));
    const up = await program();
    expect(up.routerOps).toBeLessThanOrEqual(6);
    expect(split(stack.sim.state(), await addressOf('IPv4'), 80, 'tcp').size).toBe(3);

    await setAnnotations({ 'mikrolb.de/load-balancer-enabled': 'false' });
    const off = await program();
    expect(off.status).toBe(200);
    // no connection is balanced any more: the destination is never rewritten to an endpoint
    expect([...split(stack.sim.state(), await addressOf('IPv4'), 80, 'tcp', 100).keys()].map((k) => k.split(':').slice(1).join(':'))).toEqual([`${await addressOf('IPv4')}:80`]);
    expect((await getService(kube, ns, 'web'))?.status?.loadBalancer?.ingress ?? []).toEqual([]);
    // the Service says why it has no ingress although its addresses are ready
    expect(await serviceReady()).toMatchObject({ status: 'True', reason: 'LoadBalancingDisabled', message: expect.stringContaining('mikrolb.de/load-balancer-enabled: "false"') });
    await setAnnotations({ 'mikrolb.de/load-balancer-enabled': 'true' });
    expect((await program()).status).toBe(200);
    expect(split(stack.sim.state(), await addressOf('IPv4'), 80, 'tcp').size).toBe(3);
    expect(await serviceReady()).toMatchObject({ status: 'True', reason: 'Ready' });

    await setAnnotations({}, [{ name: 'http', port: 8081, protocol: 'TCP', targetPort: 8080 }, { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }]);
    const moved = await program();
    expect(moved.routerOps).toBeLessThanOrEqual(2 * 5);
    expect(split(stack.sim.state(), await addressOf('IPv4'), 8081, 'tcp').size).toBe(3);
    // the old port's chain is emptied right away, not only at the next resync
    expect((stack.sim.state().menus['/ip/firewall/nat'] ?? []).filter((e) => (e.comment ?? '').includes(':dnat:tcp/80:'))).toEqual([]);
    expect([...split(stack.sim.state(), await addressOf('IPv4'), 80, 'tcp', 50).keys()][0]).toMatch(/^reject:/);
    expect((await program()).routerOps).toBe(0);
    expect(foreign(stack.sim.state())).toBe(baseline);
  });

  it('a router outage gives BackendError and ProgrammingFailed; recovery clears it without manual action', async () => {
    const [victim] = await make.allocationsOf(ns, 'web');
    stack.sim.faults.goAway();
    try {
      const res = await stack.program.object({ kind: 'IPAllocation', name: victim?.metadata.name ?? '' });
      expect(res.status).toBe(503);
      const a = await getAllocation(kube, victim?.metadata.name ?? '');
      expect(a?.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'BackendError' });
      expect(a?.status?.conditions?.find((c) => c.type === 'Programmed')).toMatchObject({ status: 'False', reason: 'BackendError' });
      const events = await kube.list('Event', { namespace: 'default' });
      expect(events.some((e) => JSON.stringify(e).includes('ProgrammingFailed') && JSON.stringify(e).includes(victim?.metadata.name ?? '?'))).toBe(true);
    } finally {
      stack.sim.faults.comeBack();
    }
    expect((await stack.program.object({ kind: 'IPAllocation', name: victim?.metadata.name ?? '' })).status).toBe(200);
    expect((await getAllocation(kube, victim?.metadata.name ?? ''))?.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True' });
  });

  it('a wrong interface name gives BackendError carrying the router\'s words', async () => {
    const badPool = uniq('prog-bad');
    await make.pool(badPool, { ipFamily: 'IPv4', addresses: ['198.18.41.10'], autoAssign: false, interfaceName: 'ether99' });
    const name = uniq('svc-bad');
    await make.service(ns, name, { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' }, { 'mikrolb.de/load-balancer-pools': badPool });
    expect(await stack.allocate({ kind: 'Service', namespace: ns, name })).toBe(200);
    const res = await stack.program.object({ kind: 'Service', namespace: ns, name });
    expect(res.status).toBe(503);
    const [a] = await make.allocationsOf(ns, name);
    expect(a?.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'BackendError', message: expect.stringContaining('input does not match any value of interface') });
  });
});

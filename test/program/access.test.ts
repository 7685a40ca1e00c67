import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiServerPort } from '../../lib/k8s/client.js';
import { getService } from '../../lib/k8s/typed.js';
import type { IPAllocation } from '../../lib/k8s/schemas.js';
import type { RouterState } from '../../lib/router/state.js';
import { createTracer } from '../tracer/index.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { startStack, type Stack } from './setup.js';

/**
 * loadBalancerSourceRanges and sessionAffinity: ClientIP, from a Service on the real API server
 * to the simulator's rules, judged by the packet tracer; every change converges with the
 * narrowed reads program uses (no resync needed to drop a lifted restriction).
 */
const kube = apiServerPort(testCluster().transport);
const make = objects(kube);
const ns = uniq('access');
const pool4 = uniq('access-v4');
const READY = ['10.244.2.11', '10.244.2.12', '10.244.2.13'];
let stack: Stack;
let lb = '';

async function updateSpec(spec: Record<string, unknown>): Promise<void> {
  const svc = await getService(kube, ns, 'admin');
  if (!svc) throw new Error('Service admin is gone');
  await kube.replace('Service', { ...svc, spec: { ...svc.spec, ...spec } });
  const res = await stack.program.object({ kind: 'Service', namespace: ns, name: 'admin' });
  expect(res.status).toBe(200);
}

/** Where a connection from `src` (source port `port`) to LB:22 ends: an endpoint, or the router's refusal. */
function reach(state: RouterState, src: string, port = 40000): string {
  const t = createTracer(state).trace({ srcAddress: src, srcPort: port, dstAddress: lb, dstPort: 22, protocol: 'tcp', inInterface: 'ether1' });
  if (!t.ok) throw new Error(t.message);
  return t.verdict === 'accept' && t.natState.dstnat ? t.dstAddress : `${t.verdict} at ${t.chain}`;
}

const ours = (state: RouterState, key: string): number => Object.values(state.menus).flat().filter((e) => (e.comment ?? '').includes(key)).length;

beforeAll(async () => {
  stack = await startStack();
  await make.namespace(ns);
  await make.pool(pool4, { ipFamily: 'IPv4', addresses: ['198.18.40.200-198.18.40.220'], autoAssign: false, interfaceName: 'ether1' });
  await make.service(ns, 'admin', {
    type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', loadBalancerSourceRanges: ['203.0.113.0/24'],
    ports: [{ name: 'ssh', port: 22, protocol: 'TCP', targetPort: 2222 }],
  }, { 'mikrolb.de/load-balancer-pools': pool4 });
  await kube.create('EndpointSlice', {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: 'admin-v4', namespace: ns, labels: { 'kubernetes.io/service-name': 'admin' } },
    addressType: 'IPv4', endpoints: READY.map((a) => ({ addresses: [a], conditions: { ready: true } })), ports: [{ name: 'ssh', port: 2222, protocol: 'TCP' }],
  });
  expect(await stack.allocate({ kind: 'Service', namespace: ns, name: 'admin' })).toBe(200);
  expect((await stack.program.object({ kind: 'Service', namespace: ns, name: 'admin' })).status).toBe(200);
  const allocs: IPAllocation[] = await make.allocationsOf(ns, 'admin');
  lb = allocs[0]?.status?.address ?? '';
});

afterAll(async () => {
  await make.cleanup();
  await stack.close();
});

describe('source ranges and client affinity on the router', () => {
  it('only the office range reaches the endpoints; everyone else is dropped by the router', () => {
    const state = stack.sim.state();
    expect(lb).not.toBe('');
    for (let i = 1; i <= 50; i++) expect(READY).toContain(reach(state, `203.0.113.${i}`));
    for (let i = 1; i <= 50; i++) expect(reach(state, `198.51.100.${i}`)).toBe('drop at filter/mikrolb-input');
  });

  it('a changed range replaces the list entry; a lifted restriction leaves nothing behind', async () => {
    await updateSpec({ loadBalancerSourceRanges: ['198.51.100.0/24'] });
    let state = stack.sim.state();
    expect(READY).toContain(reach(state, '198.51.100.9'));
    expect(reach(state, '203.0.113.9')).toBe('drop at filter/mikrolb-input');

    await updateSpec({ loadBalancerSourceRanges: [] });
    state = stack.sim.state();
    expect(READY).toContain(reach(state, '203.0.113.9'));
    expect(ours(state, ':source-')).toBe(0);
  });

  it('ClientIP: every connection of a client reaches one endpoint, clients spread over all three', async () => {
    await updateSpec({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } });
    const state = stack.sim.state();
    const seen = new Map<string, number>();
    for (let c = 1; c <= 240; c++) {
      const src = `198.51.${100 + (c % 3)}.${c}`;
      const endpoints = new Set(Array.from({ length: 8 }, (_, k) => reach(state, src, 30000 + 101 * k)));
      expect(endpoints.size).toBe(1);
      const [endpoint = ''] = [...endpoints];
      seen.set(endpoint, (seen.get(endpoint) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(READY);
    for (const n of seen.values()) expect(n).toBeGreaterThan(50);
    expect((await stack.program.object({ kind: 'Service', namespace: ns, name: 'admin' })).body.routerOps).toBe(0);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiServerPort } from '../../lib/k8s/client.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { startStack, type Stack } from './setup.js';

const kube = apiServerPort(testCluster().transport);
const make = objects(kube);
const ns = uniq('trips');
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
  await make.namespace(ns);
  const pool = uniq('trips-pool');
  await make.pool(pool, { ipFamily: 'IPv4', addresses: ['198.18.42.10-198.18.42.20'], autoAssign: false, interfaceName: 'ether1' });
  await make.service(ns, 'one', { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' }, { 'mikrolb.de/load-balancer-pools': pool, 'mikrolb.de/snat-ips': 'use-lb-ips' });
  await kube.create('EndpointSlice', {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'one-a', namespace: ns, labels: { 'kubernetes.io/service-name': 'one' } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.244.2.1'], conditions: { ready: true } }, { addresses: ['10.244.2.2'], conditions: { ready: true } }],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });
  expect(await stack.allocate({ kind: 'Service', namespace: ns, name: 'one' })).toBe(200);
});

afterAll(async () => {
  await make.cleanup();
  await stack.close();
});

describe('router round trips for one Service (1 IPv4 address, 1 port, 2 endpoints, SNAT on)', () => {
  it('first programming ≤ 4 round trips; an unchanged re-run 1 round trip and no writes', async () => {
    const trips = async (): Promise<{ trips: number; commands: number; body: Record<string, unknown> }> => {
      const t = stack.router.stats.roundTrips;
      const c = stack.sim.stats.commands;
      const res = await stack.program.object({ kind: 'Service', namespace: ns, name: 'one' });
      expect(res.status).toBe(200);
      return { trips: stack.router.stats.roundTrips - t, commands: stack.sim.stats.commands - c, body: res.body };
    };
    const first = await trips();
    const again = await trips();
    console.log(`[program] one Service, first programming: ${first.trips} round trips (${first.commands} API commands, ${String(first.body.routerOps)} changes); unchanged re-run: ${again.trips} round trip (${again.commands} commands, ${String(again.body.routerOps)} changes)`);
    expect(first.trips).toBeLessThanOrEqual(4);
    expect(again.trips).toBe(1);
    expect(again.body.routerOps).toBe(0);
  });
});

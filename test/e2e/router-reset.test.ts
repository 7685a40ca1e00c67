import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getService } from '../../lib/k8s/typed.js';
import { serviceComment } from '../../lib/router/names.js';
import type { RouterState } from '../../lib/router/state.js';
import { uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { SEED } from '../program/setup.js';
import { createTracer } from '../tracer/index.js';
import { eventually, startE2E, type E2E } from './stack.js';

/**
 * The router reset, replaced or restored from an old backup (docs/debugging.md, "Other states"):
 * MikroLB does not watch the router, and the resync is minutes away. A restarted controller
 * programs every Service again and collects the backup's leftovers at once.
 */

const ns = uniq('reset');
const pool = uniq('reset-pool');
const LB = { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' };

let first: E2E;
const running: E2E[] = [];
let make: ReturnType<typeof objects>;

beforeAll(async () => {
  first = await startE2E(SEED, { resyncIntervalMs: 300_000 });
  make = objects(first.kube);
  await make.namespace(ns);
  await make.pool(pool, { ipFamily: 'IPv4', addresses: ['198.18.64.1-198.18.64.20'], autoAssign: false, interfaceName: 'ether1' });
  await make.service(ns, 'web', LB, { 'mikrolb.de/load-balancer-pools': pool });
  await first.kube.create('EndpointSlice', {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-x', namespace: ns, labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.244.6.1'], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });
}, 300_000);

afterAll(async () => {
  await make?.cleanup();
  for (const e2e of running) await e2e.controller.stop();
  await first?.stop();
});

const reach = (state: RouterState, address: string) =>
  createTracer(state).trace({ srcAddress: '203.0.113.9', srcPort: 41000, dstAddress: address, dstPort: 80, protocol: 'tcp', inInterface: 'ether1' });

describe('a router restored from an old backup (no entry of the Service, one of a Service long gone)', () => {
  it('is programmed again, and the leftover collected, as soon as the controller restarts', async () => {
    const address = await eventually(async () => {
      const ip = (await getService(first.kube, ns, 'web'))?.status?.loadBalancer?.ingress?.[0]?.ip;
      if (!ip) throw new Error('no ingress yet');
      expect(reach(first.sim.state(), ip)).toMatchObject({ ok: true, dstAddress: '10.244.6.1' });
      return ip;
    });
    const gone = randomUUID();
    const leftover = { '.id': '*9002', address: '198.18.64.19/32', interface: 'ether1', comment: serviceComment(gone, 'adv:198.18.64.19') };
    first.sim.seed({ ...SEED, menus: { ...SEED.menus, '/ip/address': [...(SEED.menus['/ip/address'] ?? []), leftover] } });
    await first.controller.stop();
    running.push(await startE2E(SEED, { sim: first.sim, resyncIntervalMs: 300_000 }));
    await eventually(async () => {
      const state = first.sim.state();
      expect(reach(state, address)).toMatchObject({ ok: true, dstAddress: '10.244.6.1', dstPort: 8080 });
      expect((state.menus['/ip/address'] ?? []).filter((e) => e.comment?.includes(gone))).toEqual([]);
    }, 60_000, 500);
  }, 120_000);
});

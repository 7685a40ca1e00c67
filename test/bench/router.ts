import { menusToRead, partitionState, planOwner, programOwner, type OwnerProgram } from '../../lib/core/router-program.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import type { RouterPort } from '../../lib/router/port.js';
import type { RouterEntry, RouterState } from '../../lib/router/state.js';
import { connectRouter } from '../../lib/routeros/client/index.js';
import { startRouterSim } from '../../lib/routeros/sim/index.js';
import { percentile, ROUTER_SEED } from './support.js';

function owner(i: number): OwnerProgram {
  const hex = i.toString(16).padStart(8, '0');
  const uid = `${hex}-1111-4000-8000-${hex}0000`;
  const ip = `10.128.${Math.floor(i / 250)}.${(i % 250) + 1}`;
  return {
    uid,
    service: {
      uid, namespace: 'bench', name: `svc-${i}`, lbEnabled: true, snatEnabled: true,
      lbAddresses: [{ family: 'IPv4', address: ip }], snatAddresses: [{ family: 'IPv4', address: ip }],
      ports: [{ protocol: 'tcp', port: 80, targetPort: 8080 }],
      endpoints: [1, 2].map((k) => ({ family: 'IPv4' as const, address: `10.200.${Math.floor(i / 120)}.${(i % 120) * 2 + k}`, ready: true })),
    },
    adverts: [],
  };
}

/**
 * Programs N Services into the simulator one by one (as program does), then a resync with nothing
 * to change. A Service's median wall clock among the first and the last tenth shows whether its
 * cost (ours and the in-process simulator's) grows with the router's size.
 */
export async function routerProgramming(n: number): Promise<{ services: number; programSeconds: number; programRoundTrips: number; entries: number; firstTenthMs: number; lastTenthMs: number; resyncMs: number; resyncRoundTrips: number; resyncOps: number }> {
  const sim = await startRouterSim({ initialState: ROUTER_SEED, users: [{ name: 'bench', password: 'bench' }] });
  const client = connectRouter({ url: sim.url, username: 'bench', password: 'bench', timeoutMs: 30_000 });
  try {
    const owners = Array.from({ length: n }, (_, i) => owner(i));
    const t0 = performance.now();
    const each: number[] = [];
    for (const p of owners) {
      const t = performance.now();
      await programOwner(client, p);
      each.push(performance.now() - t);
    }
    const programSeconds = (performance.now() - t0) / 1000;
    const tenth = Math.max(1, Math.floor(n / 10));
    const programRoundTrips = client.stats.roundTrips;
    const entries = Object.values(sim.state().menus).flat().length;
    const t1 = performance.now();
    const trips = client.stats.roundTrips;
    const view = partitionState(await client.readMany(menusToRead()));
    const resyncOps = owners.reduce((sum, p) => sum + planOwner(p, view(p.uid)).ops.length, 0);
    return { services: n, programSeconds, programRoundTrips, entries, firstTenthMs: percentile(each.slice(0, tenth), 50), lastTenthMs: percentile(each.slice(-tenth), 50), resyncMs: performance.now() - t1, resyncRoundTrips: client.stats.roundTrips - trips, resyncOps };
  } finally {
    await client.close();
    await sim.close();
  }
}

export interface RouteTableCost {
  routes: number;
  /** Seeding the simulator (not part of the cost). */
  seedSeconds: number;
  /** Programming one Service whose pool names no interface (its address is advertised on its route's). */
  programMs: number;
  roundTrips: number;
  routeEntriesRead: number;
  /** Bytes the simulator sent for the programming (login excluded). */
  bytesReceived: number;
  heapDeltaMb: number;
  interfaceName: string | undefined;
}

/** A state with `count` routes: a default route, the LB network's route, and `count - 2` BGP-like /24s. */
function routeTable(count: number): RouterState {
  const routes: RouterEntry[] = [{ 'dst-address': '0.0.0.0/0', gateway: '192.0.2.254' }, { 'dst-address': '198.51.100.0/24', gateway: '10.7.0.254' }];
  for (let i = 0; routes.length < count; i++) routes.push({ 'dst-address': `${1 + ((i >> 16) & 127)}.${(i >> 8) & 255}.${i & 255}.0/24`, gateway: '192.0.2.254' });
  return {
    version: '7.19.1',
    menus: {
      '/interface': [{ name: 'ether1', type: 'ether' }, { name: 'vlan7', type: 'vlan' }],
      '/ip/address': [{ address: '192.0.2.1/24', interface: 'ether1' }, { address: '10.7.0.1/24', interface: 'vlan7' }],
      '/ip/route': routes,
    },
  };
}

/** Programs one Service (advertised, no interfaceName) against a router holding `routes` routes. */
export async function routeTableCost(routes: number): Promise<RouteTableCost> {
  const s0 = performance.now();
  const sim = await startRouterSim({ initialState: routeTable(routes), users: [{ name: 'bench', password: 'bench' }] });
  const seedSeconds = (performance.now() - s0) / 1000;
  const client = connectRouter({ url: sim.url, username: 'bench', password: 'bench', timeoutMs: 30_000 });
  try {
    await client.version();
    const p = owner(0);
    const allocation = IPAllocationSchema.parse({ metadata: { name: 'ip-bench', uid: 'a-bench' }, spec: { ipFamily: 'IPv4' } });
    const svc: OwnerProgram = { ...p, adverts: [{ allocation, family: 'IPv4', address: '198.51.100.7', advertise: true }] };
    let routeEntriesRead = 0;
    const port: RouterPort = {
      readMany: (menus) => client.readMany(menus),
      read: async (requests) => {
        const state = await client.read(requests);
        for (const r of requests) if (r.menu.endsWith('/route')) routeEntriesRead += state[r.menu]?.length ?? 0;
        return state;
      },
      execute: (ops) => client.execute(ops),
    };
    global.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const bytes0 = sim.stats.bytesSent;
    const trips0 = client.stats.roundTrips;
    const t0 = performance.now();
    const { outcomes } = await programOwner(port, svc);
    const programMs = performance.now() - t0;
    const outcome = outcomes.get('ip-bench');
    return {
      routes, seedSeconds, programMs, roundTrips: client.stats.roundTrips - trips0, routeEntriesRead,
      bytesReceived: sim.stats.bytesSent - bytes0, heapDeltaMb: (process.memoryUsage().heapUsed - heap0) / 2 ** 20,
      interfaceName: outcome?.kind === 'advertised' ? outcome.interfaceName : undefined,
    };
  } finally {
    await client.close();
    await sim.close();
  }
}

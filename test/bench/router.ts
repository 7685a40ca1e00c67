import { menusToRead, partitionState, planOwner, programOwner, type OwnerProgram } from '../../lib/core/router-program.js';
import { connectRouter } from '../../lib/routeros/client/index.js';
import { startRouterSim } from '../../lib/routeros/sim/index.js';
import { ROUTER_SEED } from './support.js';

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

/** Programs N Services into the simulator one by one (as program does), then a resync with nothing to change. */
export async function routerProgramming(n: number): Promise<{ services: number; programSeconds: number; programRoundTrips: number; entries: number; resyncMs: number; resyncRoundTrips: number; resyncOps: number }> {
  const sim = await startRouterSim({ initialState: ROUTER_SEED, users: [{ name: 'bench', password: 'bench' }] });
  const client = connectRouter({ url: sim.url, username: 'bench', password: 'bench', timeoutMs: 30_000 });
  try {
    const owners = Array.from({ length: n }, (_, i) => owner(i));
    const t0 = performance.now();
    for (const p of owners) await programOwner(client, p);
    const programSeconds = (performance.now() - t0) / 1000;
    const programRoundTrips = client.stats.roundTrips;
    const entries = Object.values(sim.state().menus).flat().length;
    const t1 = performance.now();
    const trips = client.stats.roundTrips;
    const view = partitionState(await client.readMany(menusToRead()));
    const resyncOps = owners.reduce((sum, p) => sum + planOwner(p, view(p.uid)).ops.length, 0);
    return { services: n, programSeconds, programRoundTrips, entries, resyncMs: performance.now() - t1, resyncRoundTrips: client.stats.roundTrips - trips, resyncOps };
  } finally {
    await client.close();
    await sim.close();
  }
}

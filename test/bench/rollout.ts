import * as z from 'zod';
import type { RouterSim } from '../../lib/routeros/sim/index.js';
import { requestDelta, withControllerStack } from './controllers.js';
import { createAndConverge, serverCpu } from './convergence.js';
import { idlePercent, machineCpu, machineQuiet, pool, retrying, serviceObjects } from './support.js';

export interface RolloutResult {
  services: number;
  /** Slice updates the bench made (two per Service: the new pods ready, then the old ones gone). */
  sliceUpdates: number;
  /** From the first slice update until every dst-nat rule sends to a new pod and none to an old one. */
  seconds: number;
  servicesPerSecond: number;
  apiRequestsPerService: number;
  requestsByCall: [string, number][];
  routerRoundTripsPerService: number;
  cpuMsPerService: number;
  apiServerCpuMsPerService: number;
  etcdCpuMsPerService: number;
  idlePercent: number;
}

const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

/** The pods of Service i before (`10.200.`) and after (`10.201.`) its rollout, as serviceObjects numbers them. */
const pods = (i: number, net: '10.200' | '10.201'): string[] => [1, 2].map((k) => `${net}.${Math.floor(i / 120)}.${(i % 120) * 2 + k}`);

/** dst-nat rules by the pods they send to: the old ones, the new ones. */
function targets(sim: RouterSim): { old: number; rolled: number } {
  const rules = (sim.state().menus['/ip/firewall/nat'] ?? []).filter((e) => e.action === 'dst-nat');
  const to = (prefix: string): number => rules.filter((e) => (e['to-addresses'] ?? '').startsWith(prefix)).length;
  return { old: to('10.200.'), rolled: to('10.201.') };
}

const SliceSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string(), resourceVersion: z.string() }),
  endpoints: z.array(z.unknown()).default([]),
});

const ready = (address: string) => ({ addresses: [address], conditions: { ready: true } });

/**
 * N Services converged by our controller, then each Service's pods replaced at once, as a
 * rolling update of every Deployment does: its slice updated twice (the new pods ready beside
 * the old ones, then the old ones gone). How long until the router sends every Service's
 * traffic to its new pods and none to the old ones, and what that cost. No target: the issue
 * measures Services appearing; a cluster meets endpoints changing every day.
 */
export async function rollout(n: number, log: (line: string) => void): Promise<RolloutResult> {
  return withControllerStack('ours', async ({ cluster, kc, kube, sim, child }) => {
    if (!sim) throw new Error('our controller runs with a router simulator');
    const router = sim;
    await sleep(2000);
    await machineQuiet();
    const converged = await createAndConverge(kube, kc, n, () => targets(router).old >= 2 * n, log);
    const rules = targets(router).old;
    log(`    ${n} Services converged in ${converged.seconds.toFixed(1)} s (${rules} dst-nat rules); rolling every Service's pods`);
    await sleep(2000);
    await machineQuiet();
    const before = await child.counts();
    const cpu0 = await child.cpuSeconds();
    const server0 = await serverCpu(cluster);
    const machine0 = await machineCpu();
    const t0 = performance.now();
    const setEndpoints = async (i: number, addresses: readonly string[]): Promise<void> => {
      const { slice } = serviceObjects(i);
      await retrying(async () => {
        const now = SliceSchema.parse(await kube.get('EndpointSlice', slice.metadata.name, 'bench'));
        await kube.replace('EndpointSlice', { ...now, endpoints: addresses.map(ready) });
      });
    };
    await pool(Array.from({ length: n }, (_, i) => i), 50, async (i) => {
      await setEndpoints(i, [...pods(i, '10.200'), ...pods(i, '10.201')]);
      await setEndpoints(i, pods(i, '10.201'));
    });
    log(`    updated ${2 * n} EndpointSlices in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const deadline = t0 + 600_000;
    const done = (): boolean => {
      const t = targets(router);
      return t.old === 0 && t.rolled >= rules;
    };
    while (!done() && performance.now() < deadline) await sleep(50);
    const seconds = (performance.now() - t0) / 1000;
    if (!done()) {
      const t = targets(router);
      throw new Error(`after ${seconds.toFixed(0)} s ${t.old} dst-nat rules still send to old pods, ${t.rolled}/${rules} to new ones`);
    }
    // what was still on its way (the last invocations' status writes) counts too
    await sleep(1000);
    const cpu1 = await child.cpuSeconds();
    const server1 = await serverCpu(cluster);
    const machine1 = await machineCpu();
    const after = await child.counts();
    const requests = requestDelta(before, after);
    log(`    rolled ${n} Services in ${seconds.toFixed(1)} s`);
    return {
      services: n, sliceUpdates: 2 * n, seconds, servicesPerSecond: n / seconds,
      apiRequestsPerService: requests.total / n, requestsByCall: requests.byCall,
      routerRoundTripsPerService: (after.routerRoundTrips - before.routerRoundTrips) / n,
      cpuMsPerService: ((cpu1 - cpu0) * 1000) / n,
      apiServerCpuMsPerService: ((server1.apiServer - server0.apiServer) * 1000) / n, etcdCpuMsPerService: ((server1.etcd - server0.etcd) * 1000) / n,
      idlePercent: idlePercent(machine0, machine1),
    };
  });
}

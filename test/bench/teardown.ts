import { ownerOf } from '../../lib/router/index.js';
import type { RouterSim } from '../../lib/routeros/sim/index.js';
import { requestDelta, withControllerStack } from './controllers.js';
import { createAndConverge, serverCpu } from './convergence.js';
import { idlePercent, machineCpu, machineQuiet, pool, retrying, serviceObjects } from './support.js';

export interface TeardownResult {
  services: number;
  /** From the first deletion until no Service, allocation, claim or router entry of them is left. */
  seconds: number;
  servicesPerSecond: number;
  apiRequestsPerService: number;
  requestsByCall: [string, number][];
  routerRoundTripsPerService: number;
  cpuMsPerService: number;
  apiServerCpuMsPerService: number;
  etcdCpuMsPerService: number;
  /** The machine idle during the teardown (%): low when it is CPU-bound, high when it waits. */
  idlePercent: number;
}

const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

/** Router entries that belong to a Service (by their comments). */
const serviceEntries = (sim: RouterSim): number =>
  Object.values(sim.state().menus).flat().filter((e) => ownerOf(e.comment)?.kind === 'service').length;

/**
 * N Services converged by our controller, then all deleted at once (with their slices, as a
 * namespace's deletion does): how long until release has let every one go (finalizer removed,
 * allocations and claims deleted, router entries gone), and what that cost.
 */
export async function teardown(n: number, log: (line: string) => void): Promise<TeardownResult> {
  return withControllerStack('ours', async ({ cluster, kc, kube, sim, child }) => {
    if (!sim) throw new Error('our controller runs with a router simulator');
    const router = sim;
    await sleep(2000);
    await machineQuiet();
    const converged = await createAndConverge(kube, kc, n, () => serviceEntries(router) > 0, log);
    log(`    ${n} Services converged in ${converged.seconds.toFixed(1)} s; deleting them all`);
    await sleep(2000);
    await machineQuiet();
    const before = await child.counts();
    const cpu0 = await child.cpuSeconds();
    const server0 = await serverCpu(cluster);
    const machine0 = await machineCpu();
    const t0 = performance.now();
    await pool(Array.from({ length: n }, (_, i) => i), 50, async (i) => {
      const { service, slice } = serviceObjects(i);
      await retrying(() => kube.remove('Service', service.metadata.name, 'bench'));
      await retrying(() => kube.remove('EndpointSlice', slice.metadata.name, 'bench'));
    });
    log(`    deleted ${n} Services + EndpointSlices in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const deadline = t0 + 600_000;
    // the router first (in this process, free); the lists only once it is clear, and at most
    // twice a second: they cost the API server what it would otherwise spend on the release
    const left = async (): Promise<string> => {
      const entries = serviceEntries(router);
      if (entries > 0) return `${entries} router entries`;
      const [services, allocations, claims] = await Promise.all([
        kube.list('Service', { namespace: 'bench' }), kube.list('IPAllocation'), kube.list('IPAddressClaim'),
      ]);
      return services.length + allocations.length + claims.length === 0 ? '' : `${services.length} Services, ${allocations.length} allocations, ${claims.length} claims`;
    };
    let remaining = await left();
    while (remaining && performance.now() < deadline) {
      await sleep(remaining.endsWith('router entries') ? 100 : 500);
      remaining = await left();
    }
    const seconds = (performance.now() - t0) / 1000;
    if (remaining) throw new Error(`after ${seconds.toFixed(0)} s still left: ${remaining}`);
    const cpu1 = await child.cpuSeconds();
    const server1 = await serverCpu(cluster);
    const machine1 = await machineCpu();
    const after = await child.counts();
    const requests = requestDelta(before, after);
    log(`    released ${n} Services in ${seconds.toFixed(1)} s`);
    return {
      services: n, seconds, servicesPerSecond: n / seconds,
      apiRequestsPerService: requests.total / n, requestsByCall: requests.byCall,
      routerRoundTripsPerService: (after.routerRoundTrips - before.routerRoundTrips) / n,
      cpuMsPerService: ((cpu1 - cpu0) * 1000) / n,
      apiServerCpuMsPerService: ((server1.apiServer - server0.apiServer) * 1000) / n, etcdCpuMsPerService: ((server1.etcd - server0.etcd) * 1000) / n,
      idlePercent: idlePercent(machine0, machine1),
    };
  });
}

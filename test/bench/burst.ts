import { requestDelta, type ControllerStack } from './controllers.js';
import { createAndConverge, serverCpu } from './convergence.js';
import { idlePercent, machineCpu, machineQuiet } from './support.js';

/** What a burst of changes to N converged Services cost our controller and the machine. */
export interface BurstFigures {
  services: number;
  /** From the burst's first write until it was done (see measureBurst). */
  seconds: number;
  servicesPerSecond: number;
  apiRequestsPerService: number;
  requestsByCall: [string, number][];
  routerRoundTripsPerService: number;
  cpuMsPerService: number;
  apiServerCpuMsPerService: number;
  etcdCpuMsPerService: number;
  /** The machine idle during the burst (%): low when it is CPU-bound, high when it waits. */
  idlePercent: number;
}

const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

/** N Services created and converged by our controller (`converged`: the router side of it), then a quiet machine. */
export async function convergeFirst(stack: ControllerStack, n: number, converged: () => boolean, log: (line: string) => void): Promise<number> {
  await sleep(2000);
  await machineQuiet();
  const { seconds } = await createAndConverge(stack.kube, stack.kc, n, converged, log);
  await sleep(2000);
  await machineQuiet();
  return seconds;
}

export interface Burst {
  /** Makes the changes. */
  run(): Promise<void>;
  /** Empty when the burst is done; otherwise what is left (the error names it after 10 minutes). */
  left(): Promise<string> | string;
  /** How long to wait before asking `left` again (default 50 ms). */
  pollMs?: (left: string) => number;
  /** After it is done, how long the counters keep counting (what was still on its way). */
  tailMs?: number;
}

/** Measures a burst on a converged stack, from its first change until it is done. */
export async function measureBurst(stack: ControllerStack, n: number, burst: Burst): Promise<BurstFigures> {
  const { cluster, child } = stack;
  const before = await child.counts();
  const cpu0 = await child.cpuSeconds();
  const server0 = await serverCpu(cluster);
  const machine0 = await machineCpu();
  const t0 = performance.now();
  await burst.run();
  const deadline = t0 + 600_000;
  let remaining = await burst.left();
  while (remaining && performance.now() < deadline) {
    await sleep(burst.pollMs?.(remaining) ?? 50);
    remaining = await burst.left();
  }
  const seconds = (performance.now() - t0) / 1000;
  if (remaining) throw new Error(`after ${seconds.toFixed(0)} s still left: ${remaining}`);
  if (burst.tailMs) await sleep(burst.tailMs);
  const cpu1 = await child.cpuSeconds();
  const server1 = await serverCpu(cluster);
  const machine1 = await machineCpu();
  const after = await child.counts();
  const requests = requestDelta(before, after);
  return {
    services: n, seconds, servicesPerSecond: n / seconds,
    apiRequestsPerService: requests.total / n, requestsByCall: requests.byCall,
    routerRoundTripsPerService: (after.routerRoundTrips - before.routerRoundTrips) / n,
    cpuMsPerService: ((cpu1 - cpu0) * 1000) / n,
    apiServerCpuMsPerService: ((server1.apiServer - server0.apiServer) * 1000) / n, etcdCpuMsPerService: ((server1.etcd - server0.etcd) * 1000) / n,
    idlePercent: idlePercent(machine0, machine1),
  };
}

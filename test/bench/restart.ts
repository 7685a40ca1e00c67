import type { RouterSim } from '../../lib/routeros/sim/index.js';
import { requestDelta, startChild, withControllerStack, type RunningController } from './controllers.js';
import { convergeFirst } from './burst.js';
import { dstNatRules, serverCpu } from './convergence.js';
import { idlePercent, machineCpu } from './support.js';

/** What a restart of our controller over N converged Services cost, until it was quiet again. */
export interface RestartResult {
  services: number;
  /** From the new process's start until it answered /readyz (every kind listed). */
  readySeconds: number;
  /** From the new process's start until nothing was queued or in flight and no request went out for a while. */
  quietSeconds: number;
  /** Invocations by function (all outcomes). */
  invocations: Record<string, number>;
  apiRequestsPerService: number;
  requestsByCall: [string, number][];
  routerRoundTripsPerService: number;
  /** add, set and remove commands the router received: a restart should change nothing. */
  routerWrites: number;
  /** Whether the router's configuration was the same before and after. */
  routerUnchanged: boolean;
  /** The new process's CPU from its start (its start-up included). */
  cpuMsPerService: number;
  apiServerCpuMsPerService: number;
  etcdCpuMsPerService: number;
  idlePercent: number;
}

const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

/** How long the controller must stay quiet after its restart; not counted in the restart's time. */
const STILL_MS = 2000;
const NO_COUNTS = { seq: 0, requests: {}, routerRoundTrips: 0 };

/** A gauge or counter of the bridge's Prometheus text, summed over its labels. */
export function metricSum(text: string, name: string, label?: { key: string; value: string }): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (label && !line.includes(`${label.key}="${label.value}"`)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}

const writes = (sim: RouterSim): number =>
  Object.entries(sim.stats.commandsByPath).filter(([path]) => /\/(add|set|remove)$/.test(path)).reduce((n, [, c]) => n + c, 0);

/**
 * Quiet: nothing queued or in flight and the probe's request count unchanged for `stillMs`
 * (a retry waiting on its backoff is neither queued nor in flight, so the count must hold too).
 */
async function untilQuiet(child: RunningController, stillMs: number, deadlineMs: number): Promise<void> {
  let last = -1;
  let since = performance.now();
  for (;;) {
    const text = await child.metrics();
    const busy = metricSum(text, 'mikrolb_bridge_queue_depth') + metricSum(text, 'mikrolb_bridge_in_flight');
    const { total } = requestDelta(NO_COUNTS, await child.counts());
    if (busy > 0 || total !== last) {
      last = total;
      since = performance.now();
    } else if (performance.now() - since >= stillMs) return;
    if (performance.now() > deadlineMs) throw new Error('our controller did not become quiet within 10 minutes');
    await sleep(100);
  }
}

/**
 * N Services converged by our controller, which is then stopped and started again, as an
 * upgrade or a rescheduled pod does. The new process lists every kind and hands each Service
 * with our finalizer to allocate, program and release; with nothing changed
 * meanwhile it should write nothing, on the cluster or on the router. How long until it is
 * quiet, and what that cost. No target: issue 14 measures Services appearing.
 */
export async function restart(n: number, log: (line: string) => void): Promise<RestartResult> {
  return withControllerStack('ours', async (stack) => {
    const { cluster, sim } = stack;
    if (!sim) throw new Error('our controller runs with a router simulator');
    const converged = await convergeFirst(stack, n, () => dstNatRules(sim) >= 2 * n, log);
    // what was still on its way (the last hand-offs' reads) ends before the restart
    await untilQuiet(stack.child, 1000, performance.now() + 600_000);
    log(`    ${n} Services converged in ${converged.toFixed(1)} s; restarting our controller`);
    await stack.child.stop();
    const before = JSON.stringify(sim.state());
    const writes0 = writes(sim);
    const server0 = await serverCpu(cluster);
    const machine0 = await machineCpu();
    const t0 = performance.now();
    const child = await startChild('ours', cluster, { url: sim.url, port: sim.port });
    try {
      const readySeconds = (performance.now() - t0) / 1000;
      await untilQuiet(child, STILL_MS, t0 + 600_000);
      const quietSeconds = (performance.now() - t0 - STILL_MS) / 1000;
      const counts = await child.counts();
      const cpu = await child.cpuSeconds();
      const server1 = await serverCpu(cluster);
      const machine1 = await machineCpu();
      const requests = requestDelta(NO_COUNTS, counts);
      const text = await child.metrics();
      const invocations = Object.fromEntries(['allocate', 'program', 'release'].map((fn) => [fn, metricSum(text, 'mikrolb_bridge_invocations_total', { key: 'function', value: fn })]));
      log(`    quiet ${quietSeconds.toFixed(1)} s after the restart (ready after ${readySeconds.toFixed(1)} s)`);
      return {
        services: n, readySeconds, quietSeconds, invocations,
        apiRequestsPerService: requests.total / n, requestsByCall: requests.byCall,
        routerRoundTripsPerService: counts.routerRoundTrips / n,
        routerWrites: writes(sim) - writes0, routerUnchanged: JSON.stringify(sim.state()) === before,
        cpuMsPerService: (cpu * 1000) / n,
        apiServerCpuMsPerService: ((server1.apiServer - server0.apiServer) * 1000) / n, etcdCpuMsPerService: ((server1.etcd - server0.etcd) * 1000) / n,
        idlePercent: idlePercent(machine0, machine1),
      };
    } finally {
      await child.stop();
    }
  });
}

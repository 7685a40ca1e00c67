import { readFile } from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { startController, type Controller } from '../../bridge/all-in-one.js';
import { freePort, startCluster, type TestCluster } from '../cluster/cluster.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import type { KubeObject, KubePort } from '../../lib/k8s/port.js';
import { kubeTransport } from '../../lib/k8s/rest.js';
import { isRetryable } from '../../lib/k8s/errors.js';
import { silentLogger } from '../../lib/log/logger.js';
import { connectRouter, type RouterClient } from '../../lib/routeros/client/index.js';
import { startRouterSim, type RouterSim } from '../../lib/routeros/sim/index.js';

export const ROUTER_SEED = {
  version: '7.19.1',
  menus: {
    '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }, { '.id': '*2', name: 'bridge', type: 'bridge' }],
    '/ip/address': [{ '.id': '*A', address: '10.128.0.1/16', interface: 'ether1' }, { '.id': '*B', address: '10.200.0.1/16', interface: 'bridge' }],
  },
};

export const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
};

export const ms = (n: number): string => `${n.toFixed(n < 10 ? 1 : 0)} ms`;

export interface BenchStack {
  cluster: TestCluster;
  kc: KubeConfig;
  kube: KubePort;
  sim: RouterSim;
  router: RouterClient;
  controller: Controller;
  stop(): Promise<void>;
}

/** Own cluster, simulator and controller for one scenario (nothing shared between scenarios). */
export async function benchStack(): Promise<BenchStack> {
  const cluster = await startCluster({ log: () => undefined });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const sim = await startRouterSim({ initialState: ROUTER_SEED, users: [{ name: 'bench', password: 'bench' }] });
  const router = connectRouter({ url: sim.url, username: 'bench', password: 'bench', timeoutMs: 30_000 });
  const controller = await startController({
    kc, router, log: silentLogger(), classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
    bridge: { port: await freePort(), hostname: '127.0.0.1', lease: { enabled: false }, perObjectIntervalMs: Number(process.env.BENCH_INTERVAL_MS ?? 250) },
  });
  await controller.bridge.ready;
  const kube = await benchObjects(kc);
  return {
    cluster, kc, kube, sim, router, controller,
    stop: async () => {
      await controller.stop();
      await router.close();
      await sim.close();
      await cluster.stop();
    },
  };
}

/** The bench namespace and the pool the Services' addresses come from (10.128.0.0/16 on ether1). */
export async function benchObjects(kc: KubeConfig): Promise<KubePort> {
  const kube = apiServerPort(kubeTransport(kc));
  await retrying(() => kube.create('Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } }));
  await retrying(() => kube.create('IPPool', { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'bench' }, spec: { ipFamily: 'IPv4', addresses: ['10.128.0.0/16'], interfaceName: 'ether1' } }));
  return kube;
}

export function serviceObjects(i: number, loadBalancerClass = 'mikrolb.de/controller'): { service: KubeObject; slice: KubeObject } {
  const name = `svc-${i}`;
  return {
    service: {
      apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'bench' },
      spec: { type: 'LoadBalancer', loadBalancerClass, allocateLoadBalancerNodePorts: false, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
    },
    slice: {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-a`, namespace: 'bench', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      endpoints: [1, 2].map((k) => ({ addresses: [`10.200.${Math.floor(i / 120)}.${(i % 120) * 2 + k}`], conditions: { ready: true } })),
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    },
  };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await fn(item);
    }
  }));
}

/** Resident memory of a process now (VmRSS) or at its peak (VmHWM), in MiB. */
export async function rssMb(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 'NaN') / 1024;
}

/** CPU seconds (user + system) a process has used so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return (Number(stat[11]) + Number(stat[12])) / 100;
}

/** Runs kubectl against `cluster`: its output, trimmed, or an error naming the command. */
export async function kubectlOut(cluster: TestCluster, args: readonly string[]): Promise<string> {
  const r = await cluster.kubectl(args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** CPU time in clock ticks: `steal` is what the hypervisor gave other guests while this one wanted to run. */
export interface CpuTicks {
  steal: number;
  idle: number;
  total: number;
}

/**
 * Pure: the CPU time in a reading of /proc/stat, all CPUs together (its `cpu` line), or the
 * `cpus` named (their `cpuN` lines, summed).
 */
export function cpuTicks(stat: string, cpus?: readonly number[]): CpuTicks {
  const names = new Set(cpus ? cpus.map((n) => `cpu${n}`) : ['cpu']);
  const sum = { steal: 0, idle: 0, total: 0 };
  for (const line of stat.split('\n')) {
    const [name, ...fields] = line.trim().split(/\s+/);
    if (name === undefined || !names.has(name)) continue;
    const ticks = fields.slice(0, 8).map(Number); // user nice system idle iowait irq softirq steal
    sum.steal += ticks[7] ?? 0;
    sum.idle += (ticks[3] ?? 0) + (ticks[4] ?? 0);
    sum.total += ticks.reduce((total, t) => total + t, 0);
    names.delete(name);
  }
  if (names.size > 0) throw new Error(`/proc/stat has no line for ${[...names].join(', ')}`);
  return sum;
}

/** This machine's /proc/stat now (read once, it gives every CPU's time at the same instant). */
export const procStat = (): Promise<string> => readFile('/proc/stat', 'utf8');

/** The machine's CPU time so far: all CPUs, or the `cpus` named (see cpuTicks). */
export async function machineCpu(cpus?: readonly number[]): Promise<CpuTicks> {
  return cpuTicks(await procStat(), cpus);
}

/**
 * Waits until the machine is quiet (at least `idleShare` of its time idle over half a second:
 * a cluster that has just started, or the last scenario's teardown, keeps a core busy for a
 * few seconds), at most `maxMs`. Resolves to how long it waited.
 */
export async function machineQuiet(idleShare = 0.8, maxMs = 30_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const a = await machineCpu();
    await new Promise((r) => setTimeout(r, 500));
    const b = await machineCpu();
    const quiet = b.total > a.total && (b.idle - a.idle) / (b.total - a.total) >= idleShare;
    if (quiet || performance.now() - t0 >= maxMs) return performance.now() - t0;
  }
}

/** Steal time between two readings, as a percentage of the machine's time. */
export const stealPercent = (a: { steal: number; total: number }, b: { steal: number; total: number }): number =>
  b.total > a.total ? (100 * (b.steal - a.steal)) / (b.total - a.total) : 0;

/** Idle time (iowait included) between two readings, as a percentage of the machine's time. */
export const idlePercent = (a: { idle: number; total: number }, b: { idle: number; total: number }): number =>
  b.total > a.total ? (100 * (b.idle - a.idle)) / (b.total - a.total) : 0;

/** Retries what an API server that is busy (or still warming its caches) refuses for a moment. */
export async function retrying<T>(fn: () => Promise<T>, attempts = 20): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts || !isRetryable(e)) throw e;
      await new Promise((r) => setTimeout(r, 100 * i));
    }
  }
}

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { kubeStream } from '../../bridge/kube-stream.js';
import { kubeTransport } from '../../lib/k8s/rest.js';
import type { TestCluster } from '../cluster/cluster.js';
import { getService } from '../../lib/k8s/typed.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import type { KubePort } from '../../lib/k8s/port.js';
import type { RouterSim } from '../../lib/routeros/sim/index.js';
import { allowedCpus, pinProcess, type CoreSplit } from './affinity.js';
import { requestDelta, withControllerStack, type ControllerKind } from './controllers.js';
import { cpuAccount, medianAccount, medianServerAccount, serverAccount, type CpuAccount, type ServerAccount } from './cpu-account.js';
import { median, medianRun } from './medians.js';
import { msPerService, startThreadProfile, type ThreadPart } from './perf-threads.js';
import { benchStack, cpuSeconds, cpuTicks, idlePercent, machineQuiet, procStat, ms, stealPercent, percentile, pool, retrying, serviceObjects, type CpuTicks } from './support.js';

/** Issue 14: our rate at least half the reference controller's. */
export const RATE_RATIO_TARGET = 0.5;

const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

/** One controller's figures for N Services created at once, measured in its own process. */
export interface ControllerRun {
  controller: ControllerKind;
  services: number;
  /** From the first creation until every Service has its ingress (and, for ours, its dst-nat rules). */
  totalSeconds: number;
  servicesPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number };
  apiRequestsPerService: number;
  /** The controller's API requests during convergence by caller × verb × resource, largest first. */
  requestsByCall: [string, number][];
  /** Ours only: batches written to the router, and the commands in them. */
  routerRoundTripsPerService?: number;
  routerCommandsPerService?: number;
  /** Ours only: what the router answered (sentences, bytes): stays flat when reads are narrowed to the Service. */
  routerRepliesPerService?: { sentences: number; bytes: number };
  cpuMsPerService: number;
  /** What answering the run cost kube-apiserver and etcd (CPU per Service; they serve the bench's own requests too). */
  apiServerCpuMsPerService: number;
  etcdCpuMsPerService: number;
  /** This bench process's own CPU per Service: its creations and watch, and for ours the RouterOS simulator it hosts. */
  benchCpuMsPerService: number;
  /** Resident memory after start-up with nothing to do, and the peak (VmHWM) by the end of the run. */
  idleRssMb: number;
  peakRssMb: number;
  /** The hypervisor's steal time during the run, % of the machine's time (others' guests on its cores). */
  stealPercent: number;
  /** The machine's idle time during the run, %: near zero, the run was bound by the CPU (see CpuAccount). */
  idlePercent: number;
  /** With the cores split (ConvergenceOptions): each side's idle time during the run, %. */
  coreIdlePercent?: { server: number; clients: number };
}

export interface ConvergenceResult {
  services: number;
  /** Each figure's median over the rounds (requests by call: the round with the median rate's). */
  ours: ControllerRun;
  reference: ControllerRun;
  /** ours ÷ reference; the rate's is the median of the rounds' own ratios */
  ratios: { servicesPerSecond: number; apiRequestsPerService: number; cpuMsPerService: number; peakRssMb: number };
  /** Where the machine's CPU went, each figure the median of the rounds' own accounts. */
  cpu: CpuAccount;
  /** With the cores split: what each Service cost the API server's side, the medians of the rounds'. */
  server?: ServerAccount;
  /** Every round as measured, in order. */
  rounds: { ours: ControllerRun; reference: ControllerRun; ratio: number; cpu: CpuAccount; server?: ServerAccount }[];
  /** The cores as split, when they were. */
  split?: CoreSplit;
}

export interface ConvergenceOptions {
  /**
   * Run kube-apiserver and etcd on `split.server`'s CPUs and the controller, the bench and its
   * simulator on `split.clients`' (`--only convergence-split`), as in a cluster where the
   * controller runs on another node than the API server. Unset: every process on every CPU
   * (the issue's measurement).
   */
  split?: CoreSplit;
}

/**
 * N LoadBalancer Services (one port, an EndpointSlice of 2 ready endpoints each) created at
 * once, on a fresh cluster for each controller: the minimal reference controller and ours
 * (`mikrolb controller`, compiled, against the RouterOS simulator). The machine's speed drifts
 * (it is shared), so it measures both `rounds` times (run.ts: `--rounds`, default 3), the order
 * alternating (reference first in the first round, ours first in the second, …), and reports
 * medians: a round's ratio compares two runs a minute apart, not the fastest of one with the
 * slowest of the other.
 */
export async function convergence(n: number, log: (line: string) => void, rounds: number, opts: ConvergenceOptions = {}): Promise<ConvergenceResult> {
  const measured: ConvergenceResult['rounds'] = [];
  for (let round = 0; round < rounds; round++) {
    const order: ControllerKind[] = round % 2 === 0 ? ['reference', 'ours'] : ['ours', 'reference'];
    const runs: Partial<Record<ControllerKind, ControllerRun>> = {};
    for (const kind of order) {
      log(`  ${rounds > 1 ? `round ${round + 1}/${rounds}, ` : ''}${kind === 'ours' ? 'mikrolb controller' : 'reference controller (finalizer + ingress only)'}:`);
      runs[kind] = await convergeWith(kind, n, log, opts.split);
    }
    const { ours, reference } = runs;
    if (!ours || !reference) throw new Error('a round ran without one of the controllers');
    measured.push({
      ours, reference, ratio: ours.servicesPerSecond / reference.servicesPerSecond, cpu: cpuAccount(ours, reference, RATE_RATIO_TARGET),
      ...(opts.split ? { server: serverAccount(ours, reference) } : {}),
    });
  }
  const servers = measured.flatMap((r) => (r.server ? [r.server] : []));
  const ours = medianRun(measured.map((r) => r.ours));
  const reference = medianRun(measured.map((r) => r.reference));
  return {
    services: n, ours, reference, rounds: measured, cpu: medianAccount(measured.map((r) => r.cpu)),
    ...(opts.split ? { split: opts.split, server: medianServerAccount(servers) } : {}),
    ratios: {
      servicesPerSecond: median(measured.map((r) => r.ratio)),
      apiRequestsPerService: ours.apiRequestsPerService / reference.apiRequestsPerService,
      cpuMsPerService: ours.cpuMsPerService / reference.cpuMsPerService,
      peakRssMb: ours.peakRssMb / reference.peakRssMb,
    },
  };
}

async function convergeWith(kind: ControllerKind, n: number, log: (line: string) => void, split?: CoreSplit): Promise<ControllerRun> {
  /** Where this process may run again once the run is over, when it was pinned. */
  let benchCpus: string | undefined;
  try {
    return await withControllerStack(kind, async ({ cluster, kc, kube, sim, child }) => {
      if (split) {
        const { apiServer, etcd } = cluster.pids();
        if (!apiServer || !etcd) throw new Error('the cluster named no kube-apiserver or etcd process to pin');
        for (const pid of [apiServer, etcd]) await pinProcess(pid, split.server);
        await pinProcess(child.pid, split.clients);
        benchCpus = await allowedCpus(process.pid);
        await pinProcess(process.pid, split.clients); // the bench hosts the simulator
      }
      await sleep(2000);
      // both controllers start on a quiet machine: the new cluster's start-up, and the last
      // run's teardown, done
      await machineQuiet();
      const idleRssMb = await child.rssMb();
      const before = await child.counts();
      const cpu0 = await child.cpuSeconds();
      const server0 = await serverCpu(cluster);
      const bench0 = process.cpuUsage();
      const { machine: machine0, cores: cores0 } = await cpuReading(split);
      const commands0 = sim?.stats.commands ?? 0;
      const replies0 = { sentences: sim?.stats.sentencesSent ?? 0, bytes: sim?.stats.bytesSent ?? 0 };
      const router = sim;
      const profile = apiServerProfile(cluster, kind).catch((e: unknown) => `not taken (${e instanceof Error ? e.message : String(e)})`);
      const threads = kind === 'ours' ? await startThreadProfile(child.pid, kind) : undefined;
      const run = await createAndConverge(kube, kc, n, router ? () => dstNatRules(router) >= 2 * n : () => true, log).catch(async (e: unknown) => {
        const tail = (await readFile(child.logFile, 'utf8').catch(() => '')).slice(-1500);
        throw new Error(`${kind}: ${e instanceof Error ? e.message : String(e)}; its log ends: ${tail}`);
      });
      const cpu1 = await child.cpuSeconds();
      const server1 = await serverCpu(cluster);
      const bench1 = process.cpuUsage(bench0);
      const { machine: machine1, cores: cores1 } = await cpuReading(split);
      const profiled = await profile;
      if (profiled) log(`    kube-apiserver CPU profile: ${profiled}`);
      const parts = await threads?.stop();
      if (parts !== undefined) log(`    our controller by thread (perf): ${typeof parts === 'string' ? parts : describeParts(msPerService(parts, n))}`);
      const after = await child.counts();
      const requests = requestDelta(before, after);
      const result: ControllerRun = {
        controller: kind, services: n, totalSeconds: run.seconds, servicesPerSecond: n / run.seconds, latencyMs: run.latencyMs,
        apiRequestsPerService: requests.total / n, requestsByCall: requests.byCall,
        ...(sim ? { routerRoundTripsPerService: (after.routerRoundTrips - before.routerRoundTrips) / n, routerCommandsPerService: (sim.stats.commands - commands0) / n,
          routerRepliesPerService: { sentences: (sim.stats.sentencesSent - replies0.sentences) / n, bytes: (sim.stats.bytesSent - replies0.bytes) / n } } : {}),
        cpuMsPerService: ((cpu1 - cpu0) * 1000) / n, idleRssMb, peakRssMb: await child.peakRssMb(),
        apiServerCpuMsPerService: ((server1.apiServer - server0.apiServer) * 1000) / n, etcdCpuMsPerService: ((server1.etcd - server0.etcd) * 1000) / n,
        benchCpuMsPerService: (bench1.user + bench1.system) / 1000 / n,
        stealPercent: stealPercent(machine0, machine1), idlePercent: idlePercent(machine0, machine1),
        ...(cores0 && cores1 ? { coreIdlePercent: { server: idlePercent(cores0.server, cores1.server), clients: idlePercent(cores0.clients, cores1.clients) } } : {}),
      };
      const cores = result.coreIdlePercent ? ` (the API server's CPUs ${result.coreIdlePercent.server.toFixed(1)} %, the others ${result.coreIdlePercent.clients.toFixed(1)} %)` : '';
      log(`    ${n} Services converged in ${run.seconds.toFixed(1)} s; ${result.apiRequestsPerService.toFixed(1)} API requests and ${result.cpuMsPerService.toFixed(1)} ms CPU per Service; steal ${result.stealPercent.toFixed(1)} %, idle ${result.idlePercent.toFixed(1)} %${cores}`);
      return result;
    });
  } finally {
    if (benchCpus) await pinProcess(process.pid, benchCpus);
  }
}

/**
 * `BENCH_APISERVER_PROFILE=<dir>`: kube-apiserver's own CPU profile (pprof, its `/debug/pprof`
 * endpoint, fetched with the admin certificate) over the first BENCH_APISERVER_PROFILE_SECONDS
 * (default 20) of the run, written to `<dir>/kube-apiserver-<controller>.pb.gz` for `go tool
 * pprof`. Resolves to the file's path, or undefined when not asked for.
 */
async function apiServerProfile(cluster: TestCluster, kind: ControllerKind): Promise<string | undefined> {
  const dir = process.env.BENCH_APISERVER_PROFILE;
  if (!dir) return undefined;
  const seconds = Number(process.env.BENCH_APISERVER_PROFILE_SECONDS ?? '20');
  const [cert, key, ca] = await Promise.all([readFile(cluster.pki.adminCert), readFile(cluster.pki.adminKey), readFile(cluster.pki.caCert)]);
  const body = await new Promise<Buffer>((resolve, reject) => {
    const req = httpsRequest(`${cluster.server}/debug/pprof/profile?seconds=${seconds}`, { cert, key, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`kube-apiserver profile: HTTP ${res.statusCode ?? '?'}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  await mkdir(dir, { recursive: true });
  const file = join(dir, `kube-apiserver-${kind}.pb.gz`);
  await writeFile(file, body);
  return file;
}

/** `main thread 6.10 ms (and its GC 0.10), V8 compiling 2.40, … ms per Service`. */
function describeParts(ms: Record<ThreadPart, number>): string {
  return `main thread ${ms.main.toFixed(2)} ms (and its GC ${ms['main-gc'].toFixed(2)}), V8 compiling ${ms.compile.toFixed(2)}, worker GC ${ms.gc.toFixed(2)}, other ${ms.other.toFixed(2)} ms per Service`;
}

/** The machine's CPU time now, and with the cores split each side's, from one reading of /proc/stat. */
async function cpuReading(split?: CoreSplit): Promise<{ machine: CpuTicks; cores?: { server: CpuTicks; clients: CpuTicks } }> {
  const stat = await procStat();
  return { machine: cpuTicks(stat), ...(split ? { cores: { server: cpuTicks(stat, split.server), clients: cpuTicks(stat, split.clients) } } : {}) };
}

/** CPU seconds kube-apiserver and etcd have used so far. */
export async function serverCpu(cluster: TestCluster): Promise<{ apiServer: number; etcd: number }> {
  const { apiServer, etcd } = cluster.pids();
  return { apiServer: apiServer ? await cpuSeconds(apiServer) : 0, etcd: etcd ? await cpuSeconds(etcd) : 0 };
}

/** The simulator's dst-nat rules: two per converged bench Service (one per endpoint). */
export const dstNatRules = (sim: RouterSim): number => (sim.state().menus['/ip/firewall/nat'] ?? []).filter((e) => e.action === 'dst-nat').length;

/**
 * Records when each bench Service first has an ingress, from one watch: polling whole lists
 * would cost the API server in proportion to the run's length, the slower controller's most.
 */
function watchIngress(kc: KubeConfig, seen: Map<string, number>): { stop(): Promise<void> } {
  const stream = kubeStream(kc, kubeTransport(kc));
  const abort = new AbortController();
  const note = (raw: unknown): void => {
    const svc = ServiceSchema.safeParse(raw);
    if (svc.success && svc.data.metadata.namespace === 'bench' && svc.data.status?.loadBalancer?.ingress?.length && !seen.has(svc.data.metadata.name)) seen.set(svc.data.metadata.name, performance.now());
  };
  const RvSchema = z.object({ metadata: z.object({ resourceVersion: z.string() }) });
  const running = (async () => {
    while (!abort.signal.aborted) {
      // (re-)listed: what changed while no watch ran is seen too
      let rv = '';
      let page: Awaited<ReturnType<typeof stream.list>> | undefined;
      do {
        page = await stream.list('Service', { limit: 500, ...(page?.continue ? { continue: page.continue } : {}) });
        for (const item of page.items) note(item);
        rv = page.resourceVersion;
      } while (page.continue);
      await stream.watch('Service', rv, (event) => {
        note(event.object);
        const v = RvSchema.safeParse(event.object);
        if (v.success) rv = v.data.metadata.resourceVersion;
      }, abort.signal).catch(() => sleep(100));
    }
  })();
  return {
    stop: async () => {
      abort.abort();
      await running.catch(() => undefined);
    },
  };
}

/** Creates N Services with their slices (50 at a time) and waits until all have an ingress and `done()` holds. */
export async function createAndConverge(kube: KubePort, kc: KubeConfig, n: number, done: () => boolean, log: (line: string) => void): Promise<{ seconds: number; latencyMs: ControllerRun['latencyMs'] }> {
  const created = new Map<string, number>();
  const seen = new Map<string, number>();
  const t0 = performance.now();
  let finished = false;
  const watch = watchIngress(kc, seen);
  const poller = (async () => {
    while (!finished) {
      if (seen.size >= n && done()) finished = true;
      else await sleep(50);
    }
  })();
  await pool(Array.from({ length: n }, (_, i) => i), 50, async (i) => {
    const { service, slice } = serviceObjects(i);
    await retrying(() => kube.create('EndpointSlice', slice));
    await retrying(() => kube.create('Service', service));
    created.set(`svc-${i}`, performance.now());
  });
  log(`    created ${n} Services + EndpointSlices in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const deadline = performance.now() + 600_000;
  while (!finished && performance.now() < deadline) await sleep(50);
  const converged = finished;
  finished = true;
  await poller.catch(() => undefined);
  await watch.stop();
  const seconds = (performance.now() - t0) / 1000;
  if (!converged) throw new Error(`after ${seconds.toFixed(0)} s only ${seen.size}/${n} Services had an ingress${done() ? '' : ' (router rules missing)'}`);
  const latencies = [...seen].map(([name, at]) => at - (created.get(name) ?? at));
  return { seconds, latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) } };
}

/** One Service at a time on a quiet system: creation → ingress. */
export async function idleLatency(samples: number, log: (line: string) => void): Promise<{ samples: number; p50: number; p99: number }> {
  const stack = await benchStack();
  try {
    // quiet: past the controller's start-up (its first lists, the router's greeting), as the convergence run waits too
    await new Promise((r) => setTimeout(r, 2000));
    await machineQuiet();
    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) {
      const { service, slice } = serviceObjects(i);
      await retrying(() => stack.kube.create('EndpointSlice', slice));
      const t0 = performance.now();
      await retrying(() => stack.kube.create('Service', service));
      for (;;) {
        const svc = await getService(stack.kube, 'bench', `svc-${i}`);
        if (svc?.status?.loadBalancer?.ingress?.length) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 300)); // let the follow-up invocations settle: quiet again
    }
    log(`  samples: ${latencies.map((l) => ms(l)).join(', ')}`);
    return { samples, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  } finally {
    await stack.stop();
  }
}

/**
 * The two controllers the convergence scenario compares, each run as a child process with the
 * probe (child/probe.ts) preloaded: ours (the compiled `mikrolb controller`) and the minimal
 * reference (child/reference-controller.ts, compiled here with tsc).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { KubeConfig } from '@kubernetes/client-node';
import { freePort, kubeconfigYaml, startCluster, type TestCluster } from '../cluster/cluster.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { startRouterSim, type RouterSim } from '../../lib/routeros/sim/index.js';
import { benchObjects, cpuSeconds, kubectlOut, ROUTER_SEED, rssMb } from './support.js';
import { baseNodeVersion, parseDockerfile, runtimeProcess } from '../image/dockerfile.js';

const ROOT = join(import.meta.dirname, '..', '..');
const OUT = join(ROOT, 'node_modules', '.cache', 'mikrolb-bench');
const CHILD = join(import.meta.dirname, 'child');

export interface ImageProcess { nodeFlags: string[]; env: Record<string, string>; nodeVersion: string }
let imageRead: Promise<ImageProcess> | undefined;

/** Node's flags, the environment and the Node.js release the image runs our process with (the Dockerfile's runtime stage, read once). */
export function imageProcess(): Promise<ImageProcess> {
  imageRead ??= readFile(join(ROOT, 'Dockerfile'), 'utf8').then((text) => ({ ...runtimeProcess(parseDockerfile(text)), nodeVersion: baseNodeVersion(text) }));
  return imageRead;
}

/** Compiles the probe and the reference controller (a few seconds; node_modules resolves zod). */
export async function compileChildren(): Promise<void> {
  await rm(OUT, { recursive: true, force: true });
  execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), [
    join(CHILD, 'probe.ts'), join(CHILD, 'reference-controller.ts'), '--outDir', OUT, '--rootDir', CHILD,
    '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck', '--types', 'node',
  ], { cwd: ROOT, stdio: ['ignore', 2, 2] }); // the bench's stdout is for --json
  await writeFile(join(OUT, 'package.json'), '{ "type": "module" }\n');
}

const ProbeSchema = z.object({ seq: z.number(), requests: z.record(z.string(), z.number()), routerRoundTrips: z.number() });
export type ProbeCounts = z.infer<typeof ProbeSchema>;

export interface RunningController {
  pid: number;
  /** The probe's counts so far (asks the child with SIGUSR2). */
  counts(): Promise<ProbeCounts>;
  cpuSeconds(): Promise<number>;
  rssMb(): Promise<number>;
  /** VmHWM: the most resident memory the process has had. */
  peakRssMb(): Promise<number>;
  /** Where the child's output went. */
  logFile: string;
  /** Ours: the bridge's Prometheus text (queue depth, invocations in flight). */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export type ControllerKind = 'ours' | 'reference';

/** A fresh cluster with the bench's namespace and pool, and one controller on it (ours also with a simulator). */
export interface ControllerStack {
  cluster: TestCluster;
  kc: KubeConfig;
  kube: KubePort;
  /** Ours only. */
  sim: RouterSim | undefined;
  child: RunningController;
}

/** Runs `fn` on a new ControllerStack, and stops all of it afterwards (the controller first). */
export async function withControllerStack<T>(kind: ControllerKind, fn: (stack: ControllerStack) => Promise<T>): Promise<T> {
  const cluster = await startCluster({ log: () => undefined });
  let sim: RouterSim | undefined;
  try {
    if (kind === 'ours') sim = await startRouterSim({ initialState: ROUTER_SEED, users: [{ name: 'bench', password: 'bench' }] });
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    const kube = await benchObjects(kc);
    const child = await startChild(kind, cluster, sim ? { url: sim.url, port: sim.port } : undefined);
    try {
      return await fn({ cluster, kc, kube, sim, child });
    } finally {
      await child.stop();
    }
  } finally {
    await sim?.close();
    await cluster.stop();
  }
}

/** Starts a controller against `cluster` (ours also against the router at `routerUrl`); resolves once it is ready. */
export async function startChild(kind: ControllerKind, cluster: TestCluster, router?: { url: string; port: number }): Promise<RunningController> {
  await mkdir(OUT, { recursive: true });
  const probeFile = join(cluster.dir, `${kind}-probe.json`);
  await rm(probeFile, { force: true }); // a controller started before on this cluster left its counts
  let logFile = join(cluster.dir, `${kind}.log`);
  for (let i = 2; existsSync(logFile); i++) logFile = join(cluster.dir, `${kind}-${i}.log`); // a restart keeps the first log
  const probe = pathToFileURL(join(OUT, 'probe.js')).href;
  const image = await imageProcess();
  const access = await serviceAccountAccess(cluster, kind);
  const env: Record<string, string> = {
    BENCH_PROBE_FILE: probeFile, BENCH_API_PORT: new URL(cluster.server).port, BENCH_PROBE_NAME: kind,
    BENCH_ROUTER_PORT: String(router?.port ?? 0),
  };
  const bridgePort = await freePort();
  // ours writes its log straight to the file: a pipe read by this (busy) process would make
  // its writes wait, and what it spends waiting is not the controller's cost
  const logFd = openSync(logFile, 'w');
  const child = kind === 'ours'
    ? spawn(process.execPath, [...benchNodeFlags(), ...image.nodeFlags, '--import', probe, join(ROOT, 'dist', 'bridge', 'main.js'), 'controller'], {
      env: {
        ...process.env, ...image.env, ...env, KUBECONFIG: access.kubeconfig, ROUTEROS_URL: router?.url ?? '', ROUTEROS_USERNAME: 'bench', ROUTEROS_PASSWORD: 'bench',
        LEADER_ELECTION: 'false', BRIDGE_PORT: String(bridgePort), WEBHOOK_PORT: String(await freePort()), WEBHOOK_CERT_DIR: join(cluster.dir, 'no-webhook'),
      },
      stdio: ['ignore', logFd, logFd],
    })
    : spawn(process.execPath, ['--import', probe, join(OUT, 'reference-controller.js')], {
      env: { ...process.env, ...env, BENCH_API_SERVER: cluster.server, BENCH_CA: cluster.pki.caCert, BENCH_TOKEN_FILE: access.tokenFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  closeSync(logFd); // the child has its own copy
  let said = '';
  if (child.stdout && child.stderr) {
    const log = createWriteStream(logFile, { flags: 'a' });
    child.stderr.pipe(log);
    child.stdout.on('data', (c: Buffer) => {
      said += c.toString('utf8');
      log.write(c);
    });
  }
  const pid = child.pid ?? 0;
  const deadline = Date.now() + 60_000;
  const ready = kind === 'ours' ? () => httpOk(`http://127.0.0.1:${bridgePort}/readyz`) : () => Promise.resolve(said.includes('ready\n'));
  while (!(await ready())) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${kind} controller did not become ready (log: ${logFile})`);
    await new Promise((r) => setTimeout(r, 50));
  }
  let seq = 0;
  return {
    pid, logFile,
    async metrics() {
      if (kind !== 'ours') throw new Error('the reference controller has no metrics');
      const res = await fetch(`http://127.0.0.1:${bridgePort}/metrics`);
      if (!res.ok) throw new Error(`the bridge's /metrics answered HTTP ${res.status}`);
      return res.text();
    },
    async counts() {
      const want = ++seq;
      process.kill(pid, 'SIGUSR2');
      for (let i = 0; i < 200; i++) {
        const parsed = ProbeSchema.safeParse(parseJson(await readFile(probeFile, 'utf8').catch(() => '')));
        if (parsed.success && parsed.data.seq >= want) return parsed.data;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`the ${kind} controller's probe did not answer`);
    },
    cpuSeconds: () => cpuSeconds(pid),
    rssMb: () => rssMb(pid),
    peakRssMb: () => rssMb(pid, 'VmHWM'),
    stop: () => stopChild(child),
  };
}

/**
 * A controller's access as in a pod: a ServiceAccount token (bound to cluster-admin; both
 * controllers alike), not the admin's client certificate. The API server verifies a client
 * certificate's chain on every request, a token once in a while (its authentication cache):
 * with the certificate, each request cost it ~0.2 ms of CPU more than a controller in a
 * cluster pays. Returns the token's file and a kubeconfig that presents it.
 */
async function serviceAccountAccess(cluster: TestCluster, kind: ControllerKind): Promise<{ tokenFile: string; kubeconfig: string }> {
  const k = (args: string[]): Promise<string> => kubectlOut(cluster, args);
  const namespace = 'bench-controllers';
  const name = `${kind}-controller`;
  if ((await cluster.kubectl(['get', 'namespace', namespace])).code !== 0) await k(['create', 'namespace', namespace]);
  // a controller started again on the same cluster (the restart scenario) finds them there
  if ((await cluster.kubectl(['-n', namespace, 'get', 'serviceaccount', name])).code !== 0) {
    await k(['-n', namespace, 'create', 'serviceaccount', name]);
    await k(['create', 'clusterrolebinding', `bench-${name}`, '--clusterrole=cluster-admin', `--serviceaccount=${namespace}:${name}`]);
  }
  const tokenFile = join(cluster.dir, `${name}.token`);
  const token = await k(['-n', namespace, 'create', 'token', name, '--duration=2h']);
  await writeFile(tokenFile, token, { mode: 0o600 });
  const kubeconfig = join(cluster.dir, `${name}.kubeconfig`);
  await writeFile(kubeconfig, kubeconfigYaml(cluster.server, cluster.pki.caCert, { name, token }), { mode: 0o600 });
  return { tokenFile, kubeconfig };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Requests between two probe snapshots: total and by caller × verb × resource (largest first). */
export function requestDelta(before: ProbeCounts, after: ProbeCounts): { total: number; byCall: [string, number][] } {
  const byCall = Object.entries(after.requests)
    .map(([key, n]): [string, number] => [key, n - (before.requests[key] ?? 0)])
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  return { total: byCall.reduce((sum, [, n]) => sum + n, 0), byCall };
}

/**
 * Node flags of the bench's own for our controller: `BENCH_CPU_PROFILE=<dir>` (a V8 CPU profile
 * written there when it stops, for finding where its time goes) and `BENCH_NODE_FLAGS` (a tuning
 * measured before it goes into the Dockerfile).
 */
function benchNodeFlags(): string[] {
  const dir = process.env.BENCH_CPU_PROFILE;
  return [...(dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []), ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])];
}

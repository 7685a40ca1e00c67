import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { freePort, startCluster, type TestCluster } from '../cluster/cluster.js';
import { SERVICE_ACCOUNT_DIR } from '../../lib/k8s/access.js';
import { objectInvocation, toCloudEvent } from '../../lib/events/cloudevent.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import { kubeTransport } from '../../lib/k8s/rest.js';
import { KubeConfig } from '@kubernetes/client-node';
import { imageProcess, type ImageProcess } from './controllers.js';
import type { NodeRelease } from '../node-release.js';
import { cpuSeconds, kubectlOut, machineQuiet, percentile, pool, retrying, rssMb, serviceObjects } from './support.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'dist', 'bridge', 'main.js');

/** Starts the compiled `mikrolb` with `args` as the image does (node's flags from its ENTRYPOINT), with `node` (this machine's by default). */
function launch(image: ImageProcess, args: string[], env: Record<string, string | undefined>, node = process.execPath): ChildProcess {
  return spawn(node, [...image.nodeFlags, BIN, ...args], { env, stdio: ['ignore', 'ignore', 'ignore'] });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const ask = async (url: string, body?: { headers: Record<string, string>; body: string }): Promise<number> => {
  try {
    const res = await fetch(url, body ? { method: 'POST', headers: body.headers, body: body.body } : {});
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
};

/** Cold starts per environment: alternating, so a busy stretch of the machine hits both alike. */
const COLD_STARTS = 7;

/**
 * The environment a function's pod has: the image's ENV (the Dockerfile), Knative's K_* names
 * and the Knative manifests' invocation settings — not this machine's, which sets
 * NODE_EXTRA_CA_CERTS (Node then parses the system CA bundle at every start).
 */
function podEnv(image: ImageProcess): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin', ...image.env, K_SERVICE: 'mikrolb-allocate',
    INVOKE_AUDIENCE: AUDIENCE, INVOKE_ALLOWED_SUBJECTS: `system:serviceaccount:${POD_NAMESPACE}:mikrolb-bridge`,
  };
}

const AUDIENCE = 'mikrolb-functions';
const POD_NAMESPACE = 'mikrolb-system';

/**
 * A function's process as its pod starts it: the API server reached with the ServiceAccount
 * files the kubelet mounts (KUBERNETES_SERVICE_HOST, a token and ca.crt under
 * /var/run/secrets/kubernetes.io/serviceaccount), no kubeconfig; each invocation carries the
 * bridge's token, checked with a TokenReview, as the Knative manifests configure it. The files
 * are mounted in a mount namespace of the child's own (`unshare`, as root, as a container
 * runtime does); elsewhere the kubeconfig stands in, and `how` says so.
 */
interface PodSandbox {
  how: string;
  headers: Record<string, string>;
  /** Readies `node args` the pod's way; the function returned starts it (the cold start's first instant). */
  prepare(node: string, args: string[], env: Record<string, string | undefined>): Promise<() => ChildProcess>;
}

async function podSandbox(cluster: TestCluster): Promise<PodSandbox> {
  const k = (args: string[]): Promise<string> => kubectlOut(cluster, args);
  await k(['create', 'namespace', POD_NAMESPACE]);
  await k(['-n', POD_NAMESPACE, 'create', 'serviceaccount', 'mikrolb-allocate']);
  await k(['-n', POD_NAMESPACE, 'create', 'serviceaccount', 'mikrolb-bridge']);
  // allocate's own ClusterRole is in deploy/; this one reads Services and reviews tokens alike
  await k(['create', 'clusterrolebinding', 'bench-allocate', '--clusterrole=cluster-admin', `--serviceaccount=${POD_NAMESPACE}:mikrolb-allocate`]);
  const headers = { authorization: `Bearer ${await k(['-n', POD_NAMESPACE, 'create', 'token', 'mikrolb-bridge', `--audience=${AUDIENCE}`])}` };
  const sa = join(cluster.dir, 'serviceaccount');
  await mkdir(sa, { recursive: true });
  await writeFile(join(sa, 'token'), await k(['-n', POD_NAMESPACE, 'create', 'token', 'mikrolb-allocate']));
  await copyFile(cluster.pki.caCert, join(sa, 'ca.crt'));
  const api = new URL(cluster.server);
  const inCluster = { KUBERNETES_SERVICE_HOST: api.hostname, KUBERNETES_SERVICE_PORT: api.port };
  if (process.getuid?.() !== 0 || !(await succeeds('unshare', ['--mount', 'true']))) {
    return {
      how: 'kubeconfig (not root: no mount namespace for the ServiceAccount files)', headers,
      prepare: (node, args, env) => Promise.resolve(() => spawn(node, args, { env: { ...env, KUBECONFIG: cluster.kubeconfig }, stdio: ['ignore', 'ignore', 'ignore'] })),
    };
  }
  // The shell mounts, says so, and waits for a line before it execs node: the mounting is the
  // container runtime's work, not the cold start's.
  const script = [
    'mount -t tmpfs tmpfs /run', `mkdir -p ${SERVICE_ACCOUNT_DIR}`, `mount --bind "$SA" ${SERVICE_ACCOUNT_DIR}`,
    'echo mounted', 'read go', 'exec "$@"',
  ].join(' && ');
  return {
    how: 'ServiceAccount files, as a pod', headers,
    prepare: async (node, args, env) => {
      const child = spawn('unshare', ['--mount', 'sh', '-c', script, 'pod', node, ...args], { env: { ...env, ...inCluster, SA: sa }, stdio: ['pipe', 'pipe', 'ignore'] });
      await new Promise<void>((resolve, reject) => {
        let said = '';
        child.stdout?.on('data', (c: Buffer) => {
          said += c.toString();
          if (said.includes('mounted\n')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`the pod's mounts failed (exit ${code})`)));
      });
      child.stdout?.resume();
      return () => {
        child.stdin?.end('go\n');
        return child;
      };
    },
  };
}

async function succeeds(cmd: string, args: string[]): Promise<boolean> {
  return new Promise((r) => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.once('error', () => r(false));
    c.once('exit', (code) => r(code === 0));
  });
}

/** Cold starts of one kind: each a new process. */
export interface ColdStarts {
  medianMs: number;
  samplesMs: number[];
}

export interface ColdStart {
  /** How the pod's process reached the API server (see podSandbox). */
  access: string;
  /** As the image runs it: its Node.js release, its pod (undefined: that release could not be fetched, see imageNodeMissing). */
  image?: ColdStarts;
  imageNodeMissing?: string;
  imageNodeVersion: string;
  /** The same pod, this machine's Node.js. */
  machineNode: ColdStarts;
  /** This machine's Node.js and environment (NODE_EXTRA_CA_CERTS and all), a kubeconfig, no invocation auth: the figure before December. */
  machineNodeAndEnv: ColdStarts;
  rssAfter1000Mb: number;
  invocationsPerSecond: number;
}

const coldStarts = (samplesMs: number[]): ColdStarts => ({ medianMs: percentile(samplesMs, 50), samplesMs });

/**
 * `mikrolb serve allocate` (compiled): process start → first invocation answered, COLD_STARTS
 * times each way, the ways taking turns; then RSS after 1,000 invocations (as the image runs it).
 */
export async function coldStart(node: NodeRelease): Promise<ColdStart> {
  const cluster = await startCluster({ log: () => undefined });
  try {
    const image = await imageProcess();
    const pod = await podSandbox(cluster);
    const imageNodeBin = 'path' in node ? node.path : undefined;
    const invoke = (port: number, name: string, headers: Record<string, string>): Promise<number> => {
      const event = toCloudEvent(objectInvocation('update', { kind: 'Service', namespace: 'default', name }));
      return ask(`http://127.0.0.1:${port}/`, { headers: { ...event.headers, ...headers }, body: event.body });
    };
    type Way = { bin: string; env: Record<string, string | undefined>; pod: boolean };
    const start = async (way: Way): Promise<{ ms: number; child: ChildProcess; port: number }> => {
      const port = await freePort();
      const env = { ...way.env, PORT: String(port) };
      const go = way.pod ? await pod.prepare(way.bin, [...image.nodeFlags, BIN, 'serve', 'allocate'], env) : () => launch(image, ['serve', 'allocate'], env, way.bin);
      const t0 = performance.now();
      const child = go();
      for (;;) {
        if (performance.now() - t0 > 60_000) throw new Error('mikrolb serve allocate did not answer within 60 s');
        const status = await invoke(port, 'absent', way.pod ? pod.headers : {});
        if (status === 200) break;
        if (status !== 0) throw new Error(`mikrolb serve allocate answered ${status}`);
        if (child.exitCode !== null) throw new Error(`mikrolb serve allocate exited with ${child.exitCode}`);
        await new Promise((r) => setTimeout(r, 2));
      }
      return { ms: performance.now() - t0, child, port };
    };
    const once = async (way: Way): Promise<number> => {
      await machineQuiet();
      const { ms, child } = await start(way);
      await stopProcess(child);
      return ms;
    };
    const asPod = (bin: string): Way => ({ bin, env: podEnv(image), pod: true });
    const asBefore: Way = { bin: process.execPath, env: { ...process.env, KUBECONFIG: cluster.kubeconfig, INVOKE_AUTH: 'none' }, pod: false };
    const imageSamples: number[] = [];
    const machineNodeSamples: number[] = [];
    const beforeSamples: number[] = [];
    for (let i = 0; i < COLD_STARTS; i++) {
      if (imageNodeBin) imageSamples.push(await once(asPod(imageNodeBin)));
      machineNodeSamples.push(await once(asPod(process.execPath)));
      beforeSamples.push(await once(asBefore));
    }
    const { child, port } = await start(asPod(imageNodeBin ?? process.execPath));
    try {
      const t1 = performance.now();
      for (let i = 0; i < 1000; i++) {
        const status = await invoke(port, `absent-${i}`, pod.headers);
        if (status !== 200) throw new Error(`invocation ${i} answered ${status}`);
      }
      const invocationsPerSecond = 1000 / ((performance.now() - t1) / 1000);
      return {
        access: pod.how,
        ...(imageNodeBin ? { image: coldStarts(imageSamples) } : {}),
        ...('missing' in node ? { imageNodeMissing: node.missing } : {}),
        imageNodeVersion: node.version, machineNode: coldStarts(machineNodeSamples), machineNodeAndEnv: coldStarts(beforeSamples),
        rssAfter1000Mb: await rssMb(child.pid ?? 0), invocationsPerSecond,
      };
    } finally {
      await stopProcess(child);
    }
  } finally {
    await cluster.stop();
  }
}

/** `mikrolb bridge` (compiled) tracking N Services with EndpointSlices: RSS and CPU. */
export async function bridgeFootprint(n: number, log: (line: string) => void): Promise<{ services: number; idleRssMb: number; rssMb: number; peakRssMb: number; cpuDuringLoadPercent: number; cpuIdlePercent: number; invocations: number }> {
  const cluster = await startCluster({ log: () => undefined });
  let invocations = 0;
  const fake = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      invocations++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  const address = fake.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
  const port = await freePort();
  const image = await imageProcess();
  const child = launch(image, ['bridge'], {
    ...process.env, ...image.env, KUBECONFIG: cluster.kubeconfig, FUNCTION_URL_ALLOCATE: url, FUNCTION_URL_PROGRAM: url, FUNCTION_URL_RELEASE: url,
    LEADER_ELECTION: 'false', BRIDGE_PORT: String(port), RESYNC_INTERVAL: '1h',
  });
  const pid = child.pid ?? 0;
  try {
    while ((await ask(`http://127.0.0.1:${port}/readyz`)) !== 200) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 2000));
    const idleRssMb = await rssMb(pid);
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    const kube = apiServerPort(kubeTransport(kc));
    await retrying(() => kube.create('Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } }));
    let peakRssMb = idleRssMb;
    const sampler = setInterval(() => void rssMb(pid).then((r) => (peakRssMb = Math.max(peakRssMb, r)), () => undefined), 500);
    const cpu0 = await cpuSeconds(pid);
    const t0 = performance.now();
    await pool(Array.from({ length: n }, (_, i) => i), 50, async (i) => {
      const { service, slice } = serviceObjects(i);
      await retrying(() => kube.create('Service', service));
      await retrying(() => kube.create('EndpointSlice', slice));
    });
    await new Promise((r) => setTimeout(r, 5000));
    const loadSeconds = (performance.now() - t0) / 1000;
    const cpuDuringLoadPercent = ((await cpuSeconds(pid)) - cpu0) / loadSeconds * 100;
    log(`  created ${n} Services + EndpointSlices in ${loadSeconds.toFixed(0)} s (incl. 5 s settle)`);
    const cpu1 = await cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, 10_000));
    const cpuIdlePercent = ((await cpuSeconds(pid)) - cpu1) / 10 * 100;
    clearInterval(sampler);
    return { services: n, idleRssMb, rssMb: await rssMb(pid), peakRssMb, cpuDuringLoadPercent, cpuIdlePercent, invocations };
  } finally {
    await stopProcess(child);
    await new Promise((r) => fake.close(r));
    await cluster.stop();
  }
}

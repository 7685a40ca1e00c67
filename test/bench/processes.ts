import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { freePort, startCluster } from '../cluster/cluster.js';
import { objectInvocation, toCloudEvent } from '../../lib/events/cloudevent.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import { kubeTransport } from '../../lib/k8s/rest.js';
import { KubeConfig } from '@kubernetes/client-node';
import { cpuSeconds, pool, retrying, rssMb, serviceObjects } from './support.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'dist', 'bridge', 'main.js');

function launch(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'ignore'] });
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

/** `mikrolb serve allocate` (compiled): process start → first invocation answered; RSS after 1,000 invocations. */
export async function coldStart(): Promise<{ coldStartMs: number; rssAfter1000Mb: number; invocationsPerSecond: number }> {
  const cluster = await startCluster({ log: () => undefined });
  try {
    const port = await freePort();
    const event = toCloudEvent(objectInvocation('update', { kind: 'Service', namespace: 'default', name: 'absent' }));
    const t0 = performance.now();
    const child = launch(['serve', 'allocate'], { KUBECONFIG: cluster.kubeconfig, PORT: String(port), INVOKE_AUTH: 'none' });
    try {
      while ((await ask(`http://127.0.0.1:${port}/`, event)) !== 200) await new Promise((r) => setTimeout(r, 2));
      const coldStartMs = performance.now() - t0;
      const t1 = performance.now();
      for (let i = 0; i < 1000; i++) {
        const status = await ask(`http://127.0.0.1:${port}/`, toCloudEvent(objectInvocation('update', { kind: 'Service', namespace: 'default', name: `absent-${i}` })));
        if (status !== 200) throw new Error(`invocation ${i} answered ${status}`);
      }
      const invocationsPerSecond = 1000 / ((performance.now() - t1) / 1000);
      return { coldStartMs, rssAfter1000Mb: await rssMb(child.pid ?? 0), invocationsPerSecond };
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
  const child = launch(['bridge'], {
    KUBECONFIG: cluster.kubeconfig, FUNCTION_URL_ALLOCATE: url, FUNCTION_URL_PROGRAM: url, FUNCTION_URL_RELEASE: url,
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

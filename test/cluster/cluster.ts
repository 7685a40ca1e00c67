import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ensureBinaries, type ClusterBinaries } from './binaries.js';
import { createPki, type Pki } from './pki.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const crdDir = join(repoRoot, 'deploy', 'crds');

export interface KubectlResult { stdout: string; stderr: string; code: number }

export interface TestCluster {
  dir: string;
  kubeconfig: string;
  server: string;
  binaries: ClusterBinaries;
  pki: Pki;
  /** Milliseconds from start to CRDs Established (binaries already present). */
  startupMs: number;
  kubectl(args: readonly string[], input?: string): Promise<KubectlResult>;
  /** Stops only kube-apiserver (etcd keeps the data) — for outage tests. */
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  /** The running processes' pids (the bench reads their CPU time). */
  pids(): { apiServer?: number; etcd?: number };
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>, died: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const death = died();
    if (death) throw new Error(`${what} exited before it was ready: ${death}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} was not ready within ${timeoutMs} ms`);
    await sleep(100);
  }
}

function etcdHealthy(url: string): Promise<boolean> {
  return new Promise((res) => {
    httpGet(`${url}/health`, (r) => {
      let body = '';
      r.on('data', (c: Buffer) => (body += c.toString()));
      r.on('end', () => res(r.statusCode === 200 && body.includes('true')));
    }).on('error', () => res(false));
  });
}

async function apiserverReady(server: string, pki: Pki, path = '/readyz'): Promise<boolean> {
  const [ca, cert, key] = await Promise.all([readFile(pki.caCert), readFile(pki.adminCert), readFile(pki.adminKey)]);
  return new Promise((res) => {
    const req = request(`${server}${path}`, { ca, cert, key, timeout: 2000 }, (r) => {
      r.resume();
      r.on('end', () => res(r.statusCode === 200));
    });
    req.on('error', () => res(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** A kubeconfig for the cluster at `server` (its CA `caCert`), as a user with a client certificate or a token. */
export function kubeconfigYaml(server: string, caCert: string, user: { name: string; cert: string; key: string } | { name: string; token: string }): string {
  const credentials = 'token' in user ? `    token: ${user.token}` : `    client-certificate: ${user.cert}\n    client-key: ${user.key}`;
  return `apiVersion: v1
kind: Config
clusters:
- name: mikrolb-test
  cluster:
    server: ${server}
    certificate-authority: ${caCert}
users:
- name: ${user.name}
  user:
${credentials}
contexts:
- name: mikrolb-test
  context:
    cluster: mikrolb-test
    user: ${user.name}
current-context: mikrolb-test
`;
}

interface Proc { child: ChildProcess; exit?: string }

function launch(binary: string, args: string[], logFile: string): Proc {
  const fd = openSync(logFile, 'a');
  const child = spawn(binary, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const proc: Proc = { child };
  child.on('exit', (code, signal) => (proc.exit = `code ${code ?? '-'} signal ${signal ?? '-'} (log: ${logFile})`));
  return proc;
}

async function terminate(proc: Proc | undefined): Promise<void> {
  if (!proc || proc.exit !== undefined) return;
  const exited = new Promise<void>((r) => proc.child.once('exit', () => r()));
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** A detached watchdog that stops the cluster if this process dies without cleaning up. */
function startGuardian(dir: string, pids: () => number[]): { update(): void; stop(): void } {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'guardian.mjs');
  const pidFile = join(dir, 'pids');
  const update = (): void => void writeFile(pidFile, pids().join('\n')).catch(() => undefined);
  update();
  const g = spawn(process.execPath, [script, String(process.pid), dir], { detached: true, stdio: 'ignore' });
  g.unref();
  return { update, stop: () => g.kill('SIGTERM') };
}

export async function startCluster(opts: { crds?: boolean; log?: (line: string) => void } = {}): Promise<TestCluster> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`[test-cluster] ${l}\n`));
  const binaries = await ensureBinaries();
  const t0 = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'mikrolb-cluster-'));
  const [pki, etcdClient, etcdPeer, apiPort] = await Promise.all([createPki(dir), freePort(), freePort(), freePort()]);
  const etcdUrl = `http://127.0.0.1:${etcdClient}`;
  const server = `https://127.0.0.1:${apiPort}`;
  let etcd: Proc | undefined;
  let api: Proc | undefined;
  const guardian = startGuardian(dir, () => [etcd, api].flatMap((p) => (p?.child.pid ? [p.child.pid] : [])));

  const startEtcd = async (): Promise<void> => {
    etcd = launch(binaries.etcd, [
      `--data-dir=${join(dir, 'etcd')}`, `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`, '--unsafe-no-fsync=true', '--log-level=warn',
    ], join(dir, 'etcd.log'));
    guardian.update();
    const e = etcd;
    await waitFor('etcd', 120_000, () => etcdHealthy(etcdUrl), () => e.exit);
  };
  const startApiServer = async (): Promise<void> => {
    api = launch(binaries.kubeApiserver, [
      `--etcd-servers=${etcdUrl}`, `--cert-dir=${dir}`, `--secure-port=${apiPort}`, '--bind-address=127.0.0.1',
      `--tls-cert-file=${pki.serverCert}`, `--tls-private-key-file=${pki.serverKey}`, `--client-ca-file=${pki.caCert}`,
      '--service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/108', '--allow-privileged=true',
      '--disable-admission-plugins=ServiceAccount', '--authorization-mode=RBAC',
      `--service-account-issuer=${server}/`, `--service-account-key-file=${pki.saPub}`,
      `--service-account-signing-key-file=${pki.saKey}`, '--endpoint-reconciler-type=none', '--v=0',
    ], join(dir, 'kube-apiserver.log'));
    guardian.update();
    const a = api;
    await waitFor('kube-apiserver', 180_000, () => apiserverReady(server, pki), () => a.exit);
  };

  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, kubeconfigYaml(server, pki.caCert, { name: 'admin', cert: pki.adminCert, key: pki.adminKey }));
  const kubectl = async (args: readonly string[], input?: string): Promise<KubectlResult> => {
    return new Promise((res) => {
      const child = execFile(binaries.kubectl, [`--kubeconfig=${kubeconfig}`, ...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        const code = err && typeof err.code === 'number' ? err.code : err ? 1 : 0;
        res({ stdout, stderr, code });
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  };
  const stop = async (): Promise<void> => {
    await terminate(api);
    await terminate(etcd);
    guardian.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await startEtcd();
    await startApiServer();
    if (opts.crds !== false) {
      await applyCrds(kubectl);
      // A new CRD's watch cache answers 429 "storage is (re)initializing" for a moment.
      for (const plural of ['ippools', 'ipallocations', 'ipaddressclaims']) {
        await waitFor(`listing ${plural}`, 120_000, () => apiserverReady(server, pki, `/apis/mikrolb.de/v1alpha1/${plural}`), () => api?.exit);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const startupMs = Date.now() - t0;
  log(`kube-apiserver ${binaries.versions.kubernetes} and etcd ${binaries.versions.etcd} (binaries from ${binaries.source}) ready at ${server} in ${startupMs} ms`);
  return {
    dir, kubeconfig, server, binaries, pki, startupMs, kubectl, stop, startApiServer,
    stopApiServer: () => terminate(api),
    pids: () => ({ ...(api?.child.pid ? { apiServer: api.child.pid } : {}), ...(etcd?.child.pid ? { etcd: etcd.child.pid } : {}) }),
  };
}

async function applyCrds(kubectl: TestCluster['kubectl']): Promise<void> {
  const applied = await kubectl(['apply', '--server-side', '-k', crdDir]);
  if (applied.code !== 0) throw new Error(`applying the CRDs failed: ${applied.stderr}`);
  const waited = await kubectl(['wait', '--for=condition=Established', '--timeout=180s',
    'crd/ippools.mikrolb.de', 'crd/ipallocations.mikrolb.de', 'crd/ipaddressclaims.mikrolb.de']);
  if (waited.code !== 0) throw new Error(`the CRDs did not become Established: ${waited.stderr}`);
}


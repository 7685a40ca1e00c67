import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { startBridge, type BridgeHandle } from '../../bridge/bridge.js';
import type { BridgeConfigInput } from '../../bridge/config.js';
import { FUNCTION_NAMES, type FunctionName } from '../../bridge/routing.js';
import { freePort, kubeconfigYaml, startCluster, type TestCluster } from '../cluster/cluster.js';
import { applyServicePolicy } from '../deploy/policy.js';
import { applyRbac } from '../deploy/render.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { kubeTransport, type Transport } from '../../lib/k8s/rest.js';
import { createLogger } from '../../lib/log/logger.js';
import { startRouterSim, type RouterSim } from '../../lib/routeros/sim/index.js';
import { mikrolbProcess, type MikrolbProcess } from './processes.js';
import { CHAOS_ROUTER } from './router-seed.js';
import { NAMESPACE, OUR_CLASS, TIER_LABEL } from './shapes.js';
import { messageOf } from '../../lib/errors.js';

export const LEASE_NAMESPACE = 'mikrolb-system';
const USER = 'mikrolb';
/**
 * Short timings so that retries and lease take-overs happen within a run; the resync timer is
 * longer than a run, so convergence without resync can be told apart (the rogue and the settle
 * period send resyncs themselves).
 */
const TIMINGS = { resync: '20m', retryBase: '200ms', retryMax: '5s', lease: { duration: '6s', renew: '4s', retry: '1s' } };

/**
 * The grace period of the release processes: `mikrolb serve release` runs with a fixed
 * `claimGraceMs` of 5 minutes (bridge/main.ts) that no environment variable changes, so a
 * claim nobody holds may outlive a short run; the invariants judge claims by it.
 */
export const RELEASE_CLAIM_GRACE_MS = 5 * 60_000;

export type FunctionSet = Record<FunctionName, MikrolbProcess>;

/** Two bridges: A runs as a `mikrolb bridge` process (killable), B in this process. */
export interface Bridges {
  leaderElection: boolean;
  /** Stops both and starts them again with leader election on or off. */
  restart(leaderElection: boolean): Promise<void>;
  /** SIGKILLs bridge A and starts it again after `downMs`. */
  killA(downMs: number): Promise<void>;
  readonly counts: { restarts: number; killsA: number };
  /** Times bridge A exited without being stopped or killed. */
  unexpectedExitsA(): number;
  stop(): Promise<void>;
}

export interface ChaosStack {
  cluster: TestCluster;
  transport: Transport;
  kube: KubePort;
  sim: RouterSim;
  user: { name: string; password: string };
  sets: { a: FunctionSet; b: FunctionSet };
  processes(): MikrolbProcess[];
  bridges: Bridges;
  stop(): Promise<void>;
}

/** Kubeconfigs of deploy/'s ServiceAccounts: each MikroLB process runs as its own, as its pod would. */
type Accounts = Record<FunctionName | 'bridge', string>;

/**
 * deploy/'s RBAC and Service-write admission policy on the chaos cluster, and a kubeconfig per
 * ServiceAccount holding a token from the TokenRequest API (as a projected token of a pod):
 * every path the run takes proves the shipped permissions suffice.
 */
async function serviceAccounts(cluster: TestCluster, kc: KubeConfig): Promise<Accounts> {
  await applyRbac(cluster.kubectl);
  await applyServicePolicy(cluster.kubectl, kc);
  const kubeconfigOf = async (component: FunctionName | 'bridge'): Promise<string> => {
    const sa = `mikrolb-${component}`;
    const token = await cluster.kubectl(['create', 'token', sa, '-n', LEASE_NAMESPACE, '--duration=48h']);
    if (token.code !== 0) throw new Error(`kubectl create token ${sa} failed: ${token.stderr}`);
    const path = join(cluster.dir, `kubeconfig-${sa}`);
    await writeFile(path, kubeconfigYaml(cluster.server, cluster.pki.caCert, { name: sa, token: token.stdout.trim() }), { mode: 0o600 });
    return path;
  };
  const [allocate, program, release, bridge] = await Promise.all([kubeconfigOf('allocate'), kubeconfigOf('program'), kubeconfigOf('release'), kubeconfigOf('bridge')]);
  return { allocate, program, release, bridge };
}

async function functionSet(label: string, logDir: string, env: Record<string, string>, accounts: Accounts): Promise<FunctionSet> {
  const entries = await Promise.all(FUNCTION_NAMES.map(async (fn) => {
    const port = await freePort();
    const proc = mikrolbProcess({ name: `${fn}-${label}`, args: ['serve', fn], port, env: { ...env, KUBECONFIG: accounts[fn], PORT: String(port), INVOKE_AUTH: 'none' }, logFile: join(logDir, `${fn}-${label}.log`) });
    return [fn, proc] as const;
  }));
  const [allocate, program, release] = entries.map(([, p]) => p);
  if (!allocate || !program || !release) throw new Error('a function process is missing');
  return { allocate, program, release };
}

const urls = (set: FunctionSet) => ({ allocate: set.allocate.url, program: set.program.url, release: set.release.url });

async function bridges(kubeconfig: string, kc: KubeConfig, sets: ChaosStack['sets'], logDir: string, initial: boolean): Promise<Bridges> {
  const [portA, portB] = await Promise.all([freePort(), freePort()]);
  const logB: WriteStream = createWriteStream(join(logDir, 'bridge-b.log'), { flags: 'a' });
  const a = (le: boolean): MikrolbProcess => mikrolbProcess({
    name: 'bridge-a', args: ['bridge'], port: portA, logFile: join(logDir, 'bridge-a.log'),
    env: {
      KUBECONFIG: kubeconfig, FUNCTION_URL_ALLOCATE: sets.a.allocate.url, FUNCTION_URL_PROGRAM: sets.a.program.url, FUNCTION_URL_RELEASE: sets.a.release.url,
      LEADER_ELECTION: String(le), POD_NAME: 'chaos-bridge-a', BRIDGE_PORT: String(portA), RESYNC_INTERVAL: TIMINGS.resync, LEASE_NAMESPACE,
      LEASE_DURATION: TIMINGS.lease.duration, LEASE_RENEW_DEADLINE: TIMINGS.lease.renew, LEASE_RETRY_PERIOD: TIMINGS.lease.retry,
      RETRY_BASE_DELAY: TIMINGS.retryBase, RETRY_MAX_DELAY: TIMINGS.retryMax, FUNCTION_TIMEOUT: '60s',
    },
  });
  const configB = (le: boolean): BridgeConfigInput => ({
    functions: urls(sets.b), port: portB, hostname: '127.0.0.1', resyncIntervalMs: 20 * 60_000, invocationTimeoutMs: 60_000,
    retry: { baseMs: 200, maxMs: 5_000 },
    lease: { enabled: le, namespace: LEASE_NAMESPACE, identity: 'chaos-bridge-b', durationMs: 6_000, renewDeadlineMs: 4_000, retryPeriodMs: 1_000 },
  });
  const allA: MikrolbProcess[] = [];
  let procA = a(initial);
  let handleB: BridgeHandle | undefined;
  const counts = { restarts: 0, killsA: 0 };
  // a kill of bridge A and a restart of both never interleave
  let lock: Promise<unknown> = Promise.resolve();
  const locked = <T>(work: () => Promise<T>): Promise<T> => {
    const next = lock.then(work, work);
    lock = next.catch(() => undefined);
    return next;
  };
  const startBoth = async (le: boolean): Promise<void> => {
    procA = a(le);
    allA.push(procA);
    handleB = await startBridge(configB(le), { kc, log: createLogger({ out: logB }) });
    await procA.start();
  };
  const stopBoth = async (): Promise<void> => {
    await Promise.all([procA.stop(), handleB?.stop()]);
    handleB = undefined;
  };
  await startBoth(initial);
  const self: Bridges = {
    leaderElection: initial,
    counts,
    unexpectedExitsA: () => allA.reduce((n, p) => n + p.counts.unexpectedExits, 0),
    restart: (le) => locked(async () => {
      await stopBoth();
      counts.restarts++;
      self.leaderElection = le;
      await startBoth(le);
    }),
    killA: (downMs) => locked(async () => {
      await procA.kill();
      counts.killsA++;
      await new Promise((r) => setTimeout(r, downMs));
      await procA.start();
    }),
    stop: async () => {
      await lock;
      await stopBoth();
      await new Promise<void>((r) => logB.end(() => r()));
    },
  };
  return self;
}

/** Stops what was started, in reverse order, whatever fails. */
async function stopAll(steps: (() => Promise<unknown>)[], log: (line: string) => void): Promise<void> {
  for (const step of steps.reverse()) {
    try {
      await step();
    } catch (e) {
      log(`cleanup step failed: ${messageOf(e)}`);
    }
  }
}

/**
 * A real API server and etcd of its own, the RouterOS simulator, two sets of function processes
 * (`mikrolb serve`), and two bridges. On failure everything already started is stopped.
 */
export async function startChaosStack(logDir: string, leaderElection: boolean, log: (line: string) => void): Promise<ChaosStack> {
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const clusterLog = createWriteStream(join(logDir, 'cluster.log'), { flags: 'a' });
    const cluster = await startCluster({ log: (line) => clusterLog.write(`${line}\n`) });
    stops.push(() => cluster.stop(), () => new Promise<void>((r) => clusterLog.end(() => r())));
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    const transport = kubeTransport(kc);
    const kube = apiServerPort(transport, { instance: 'chaos' });
    for (const name of [NAMESPACE, LEASE_NAMESPACE]) await kube.create('Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, ...(name === NAMESPACE ? { labels: { [TIER_LABEL]: 'gold' } } : {}) } });
    const user = { name: USER, password: randomBytes(9).toString('base64url') };
    const sim = await startRouterSim({ initialState: CHAOS_ROUTER, users: [{ name: user.name, password: user.password }], recordCommands: true });
    stops.push(() => sim.close());
    const accounts = await serviceAccounts(cluster, kc);
    const env = { ROUTEROS_URL: sim.url, ROUTEROS_USERNAME: user.name, ROUTEROS_PASSWORD: user.password, LOAD_BALANCER_CLASS_NAME: OUR_CLASS };
    const sets = { a: await functionSet('a', logDir, env, accounts), b: await functionSet('b', logDir, env, accounts) };
    const processes = (): MikrolbProcess[] => [...Object.values(sets.a), ...Object.values(sets.b)];
    stops.push(() => Promise.all(processes().map((p) => p.stop())));
    await Promise.all(processes().map((p) => p.start()));
    const bridgeKc = new KubeConfig();
    bridgeKc.loadFromFile(accounts.bridge);
    const b = await bridges(accounts.bridge, bridgeKc, sets, logDir, leaderElection);
    stops.push(() => b.stop());
    return { cluster, transport, kube, sim, user, sets, processes, bridges: b, stop: () => stopAll(stops, log) };
  } catch (e) {
    await stopAll(stops, log);
    throw e;
  }
}

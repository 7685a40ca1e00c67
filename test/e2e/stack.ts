import { KubeConfig } from '@kubernetes/client-node';
import { beforeEach } from 'vitest';
import { startController, type Controller, type ControllerOptions } from '../../bridge/all-in-one.js';
import { startBridge } from '../../bridge/bridge.js';
import { appDispatch } from '../../bridge/invoker.js';
import { FUNCTIONS } from '../../functions/registry.js';
import { FUNCTION_NAMES } from '../../lib/events/invocation.js';
import { freePort } from '../cluster/cluster.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { kubeTransport, userAgentOf } from '../../lib/k8s/rest.js';
import { gcCounters } from '../../lib/metrics.js';
import { createPoolMetrics } from '../../lib/pool-metrics.js';
import { createLogger, memoryLogger, type Logger } from '../../lib/log/logger.js';
import { connectRouter, type RouterClient } from '../../lib/routeros/client/index.js';
import { startRouterSim, type RouterSim } from '../../lib/routeros/sim/index.js';
import type { RouterState } from '../../lib/router/state.js';
import { metricValue } from '../bridge/support.js';
import { testCluster } from '../helpers/cluster.js';
import { actingAs, applyServicePolicy } from '../deploy/policy.js';
import { applyRbac } from '../deploy/render.js';

export interface E2E {
  kube: KubePort;
  sim: RouterSim;
  router: RouterClient;
  controller: Controller;
  logs: ReturnType<typeof memoryLogger>;
  stop(): Promise<void>;
}

export interface E2EOptions {
  resyncIntervalMs?: number;
  claimGraceMs?: number;
  /** Another cluster's API server (default: the shared test cluster). */
  kubeconfig?: string;
  /** A simulator another controller already uses (it is left running on stop). */
  sim?: RouterSim;
  /** MIKROLB_CLUSTER_NAME of this controller (default: none, i.e. `default`). */
  clusterName?: string;
  /** The bridge's retry delays (default: 200 ms up to 2 s, so failures here are retried quickly). */
  retry?: { baseMs: number; maxMs: number };
}

/**
 * `MIKROLB_E2E_TOPOLOGY=knative` (the second run of `npm test`): the scenarios run on the Knative
 * topology instead of the all-in-one controller (see knativeTopology).
 */
export const KNATIVE_TOPOLOGY = process.env.MIKROLB_E2E_TOPOLOGY === 'knative';

let deployed: Promise<void> | undefined;

/** The stacks this file started and has not stopped, with what each logged, as `mikrolb` prints it (with the time). */
const live = new Map<E2E, string[]>();

/**
 * A failed scenario prints what its controllers logged last (a CI run keeps no other trace of
 * why, say, an address never came): their warnings and errors, and the last lines of each.
 */
beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    for (const [i, lines] of [...live.values()].entries()) {
      const worrying = lines.filter((l) => /"level":"(warn|error)"/.test(l)).slice(-40);
      console.log(`[e2e stack ${i + 1} of ${live.size}] ${lines.length} log lines; its warnings and errors, then its last lines:\n${[...worrying, '...', ...lines.slice(-40)].join('\n')}`);
    }
  });
});

/** Both loggers get every entry: the scenario's assertions read one, a failure prints the other. */
function tee(a: Logger, b: Logger): Logger {
  return {
    debug: (msg, fields) => { a.debug(msg, fields); b.debug(msg, fields); },
    info: (msg, fields) => { a.info(msg, fields); b.info(msg, fields); },
    warn: (msg, fields) => { a.warn(msg, fields); b.warn(msg, fields); },
    error: (msg, fields) => { a.error(msg, fields); b.error(msg, fields); },
    child: (fields) => tee(a.child(fields), b.child(fields)),
  };
}

/**
 * deploy/'s RBAC and Service-write admission policy on the shared API server, once per process:
 * the controller then runs as its ServiceAccount, so every scenario also proves the shipped
 * permissions suffice (a Service with allow-shared-ip went unprogrammed under them once).
 */
function deployAccess(): Promise<void> {
  const { kubectl, kc } = testCluster();
  deployed ??= (async () => {
    await applyRbac(kubectl);
    await applyServicePolicy(kubectl, kc);
  })();
  return deployed;
}

/**
 * The all-in-one controller against the shared API server (as the `mikrolb-controller`
 * ServiceAccount of deploy/) and a fresh RouterOS simulator; against another API server, as
 * its admin.
 */
export async function startE2E(seed: RouterState, opts: E2EOptions = {}): Promise<E2E> {
  const kubeconfig = opts.kubeconfig ?? testCluster().kubeconfig;
  const admin = new KubeConfig();
  admin.loadFromFile(kubeconfig);
  const kube = apiServerPort(kubeTransport(admin));
  if (opts.kubeconfig === undefined) await deployAccess();
  const kc = opts.kubeconfig === undefined ? actingAs(admin, 'mikrolb-controller') : admin;
  const sim = opts.sim ?? await startRouterSim({ initialState: seed, users: [{ name: 'mikrolb', password: 'pw' }] });
  const router = connectRouter({ url: sim.url, username: 'mikrolb', password: 'pw', timeoutMs: 2000 });
  const logs = memoryLogger();
  const lines: string[] = [];
  const log = tee(logs, createLogger({ level: 'debug', out: { write: (line: string) => lines.push(line.trimEnd()) } }));
  const classes = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false, ...(opts.clusterName === undefined ? {} : { clusterName: opts.clusterName }) };
  const bridge = { port: await freePort(), hostname: '127.0.0.1', lease: { enabled: false }, resyncIntervalMs: opts.resyncIntervalMs ?? 300_000, retry: opts.retry ?? { baseMs: 200, maxMs: 2000 } };
  // the product's grace unless a test asks: other files' controllers and functions share this
  // API server, and a resync with no grace may collect the claim another one has just made
  // (before the allocation it was made for shows in the resync's list)
  const grace = opts.claimGraceMs === undefined ? {} : { claimGraceMs: opts.claimGraceMs };
  const controller = opts.kubeconfig === undefined && KNATIVE_TOPOLOGY
    ? await knativeTopology(admin, { router, log, classes, bridge, ...grace })
    : await startController({ kc, router, log, classes, bridge, ...grace });
  await controller.bridge.ready;
  const e2e: E2E = {
    kube, sim, router, controller, logs,
    stop: async () => {
      live.delete(e2e);
      await controller.stop();
      await router.close();
      if (opts.sim === undefined) await sim.close();
    },
  };
  live.set(e2e, lines);
  return e2e;
}

/**
 * The Knative topology instead of the all-in-one controller: the bridge and each function as
 * `mikrolb serve` builds it, each as its own ServiceAccount of deploy/.
 */
async function knativeTopology(admin: KubeConfig, opts: Pick<ControllerOptions, 'router' | 'log' | 'classes' | 'bridge' | 'claimGraceMs'>): Promise<Controller> {
  // under Knative the functions export no series (docs/monitoring.md); the harness serves their
  // counters on the bridge's /metrics, as the all-in-one does, so scenarios reading them run here too
  const counters = gcCounters();
  const poolMetrics = createPoolMetrics();
  const dispatch = Object.fromEntries(FUNCTION_NAMES.map((name) => {
    const kube = apiServerPort(kubeTransport(actingAs(admin, `mikrolb-${name}`), { userAgent: userAgentOf(name) }), { instance: name });
    const app = FUNCTIONS[name].app({
      kube, classes: opts.classes, now: () => new Date(), log: opts.log.child({ function: name }), router: opts.router, counters, poolMetrics,
      ...(opts.claimGraceMs === undefined ? {} : { claimGraceMs: opts.claimGraceMs }),
    });
    return [name, appDispatch(app)];
  }));
  const bridge = await startBridge(opts.bridge, { kc: actingAs(admin, 'mikrolb-bridge'), log: opts.log, dispatch, extraMetrics: () => counters.render() + poolMetrics.render() });
  return { bridge, stop: () => bridge.stop() };
}

/**
 * Resolves once the controller has had no work queued (a delivery waiting for its batch delay
 * counts) and none in flight for `quietMs`: what was already coming has run. A scenario that
 * races a change of its own against work the controller was given earlier waits for this.
 */
export async function quiescent(e2e: E2E, quietMs = 1000, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let quietSince = Date.now();
  for (;;) {
    const text = e2e.controller.bridge.metrics.render();
    const busy = FUNCTION_NAMES.some((fn) => ['queue_depth', 'in_flight'].some((m) => (metricValue(text, `mikrolb_bridge_${m}{function="${fn}"}`) ?? 1) > 0));
    if (busy) quietSince = Date.now();
    else if (Date.now() - quietSince >= quietMs) return;
    if (Date.now() > deadline) throw new Error(`the controller still had work after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls until `check` stops throwing (its last error is rethrown at the deadline). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 90_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}

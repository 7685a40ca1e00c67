import { existsSync } from 'node:fs';
import type { ClusterAccess } from '../lib/k8s/access.js';
import { FUNCTIONS, WEBHOOK_PORT, serveWebhook, webhookCertDir, webhookCertFiles, type FunctionPorts } from '../functions/registry.js';
import { EXIT_FAILED, type CliIo } from '../lib/cli/io.js';
import { kubeRuntime } from '../lib/cli/runtime.js';
import { routerRuntime } from '../lib/cli/router-runtime.js';
import { classesFromEnv, portFromEnv, type Env } from '../lib/config.js';
import type { ClassConfig } from '../lib/core/service.js';
import { messageOf } from '../lib/errors.js';
import { objectInvocation } from '../lib/events/encode.js';
import { FUNCTION_NAMES, type FunctionName } from '../lib/events/invocation.js';
import { apiServerPort } from '../lib/k8s/client.js';
import type { KubePort } from '../lib/k8s/port.js';
import { kubeTransport, userAgentOf, withUserAgent, type Transport } from '../lib/k8s/rest.js';
import { createLogger, type Logger } from '../lib/log/logger.js';
import { gcCounters, routerLimitCounter, type Counters } from '../lib/metrics.js';
import { createPoolMetrics, forgetReleased, type PoolMetrics } from '../lib/pool-metrics.js';
import type { RouterPort } from '../lib/router/port.js';
import { DEFAULT_CLUSTER } from '../lib/router/index.js';
import { prepareGlobals } from '../lib/core/router-program.js';
import { poolFamilies } from '../lib/core/pools.js';
import { IP_FAMILIES, type IPFamily } from '../lib/ip/index.js';
import { recentServices } from '../lib/k8s/recent.js';
import { eventsOnly, poolMirror, readPools, sliceMirror } from '../lib/k8s/mirror.js';
import { startBridge, type BridgeHandle } from './bridge.js';
import { runUntilStopped, usageError } from './commands.js';
import { bridgeConfigFromEnv, type BridgeConfigInput } from './config.js';
import { handlerDispatch } from './invoker.js';

// The all-in-one controller entry: the one place in bridge/ that builds functions (from the
// registry in functions/registry.ts).

/** New Services kept for allocate as the watch saw them (a hint; see RecentServices). */
const RECENT_SERVICES = 5_000;
/** This process in its events (reportingInstance) and, with each function's name, its requests' User-Agent. */
const INSTANCE = userAgentOf('controller');

export interface ControllerOptions {
  kc: ClusterAccess;
  /** The functions' API access (default: a transport over `kc`); benchmarks count requests here. */
  transport?: Transport;
  router: RouterPort;
  classes: ClassConfig;
  log: Logger;
  bridge: BridgeConfigInput;
  /** Serve the IPPool webhook over TLS from this folder's tls.crt/tls.key, when present. */
  webhook?: { certDir: string; port: number; hostname?: string };
  /** release's grace period (the registry's CLAIM_GRACE_MS unless given). */
  claimGraceMs?: number;
  /** Served on /metrics next to the bridge's (GC, router bounds); made here when not given. */
  counters?: Counters;
  /** Pool usage and allocation failures, served on /metrics too (gauges while leading); made here when not given. */
  poolMetrics?: PoolMetrics;
}

export interface Controller {
  bridge: BridgeHandle;
  webhookPort?: number;
  stop(): Promise<void>;
}

/**
 * `mikrolb controller`: the bridge with allocate, program and release in the same process
 * (each run answered as its HTTP app would answer it: the same statuses, Retry-After and log
 * line, so retries are exactly as over the wire), plus the IPPool admission webhook.
 */
export async function startController(opts: ControllerOptions): Promise<Controller> {
  const transport = opts.transport ?? kubeTransport(opts.kc, { userAgent: INSTANCE });
  const kube = apiServerPort(transport, { instance: INSTANCE });
  // each function's requests name it (allocate's carry program's part of its hand-off too)
  const kubeOf = (name: FunctionName): KubePort => apiServerPort(withUserAgent(transport, userAgentOf(name)), { instance: INSTANCE });
  const counters = opts.counters ?? gcCounters();
  const leader = { is: (): boolean => false };
  const poolMetrics = opts.poolMetrics ?? createPoolMetrics({ current: () => leader.is() });
  const recent = recentServices(RECENT_SERVICES);
  const pools = poolMirror();
  const slices = sliceMirror();
  // set once the bridge runs (no invocation runs before it does)
  const started: { bridge?: BridgeHandle } = {};
  const ports: Omit<FunctionPorts, 'log'> = {
    kube, classes: opts.classes, now: () => new Date(), router: opts.router, counters, poolMetrics, programInProcess: true, recentServices: recent, pools, slices,
    programAgain: (namespace, name) => started.bridge?.enqueue('program', objectInvocation('update', { kind: 'Service', namespace, name })),
    ...(opts.claimGraceMs !== undefined ? { claimGraceMs: opts.claimGraceMs } : {}),
  };
  const dispatch = Object.fromEntries(FUNCTION_NAMES.map((name) =>
    [name, handlerDispatch(name, FUNCTIONS[name].handler({ ...ports, kube: kubeOf(name), log: opts.log.child({ function: name }) }), opts.log)]));
  const webhook = opts.webhook ? await startWebhook(opts.webhook, kube, opts.log) : undefined;
  const bridge = await startBridge(opts.bridge, {
    kc: opts.kc, log: opts.log, dispatch, extraMetrics: () => counters.render() + poolMetrics.render(),
    mirrors: { Service: eventsOnly(recent), IPPool: pools, EndpointSlice: slices, IPAllocation: eventsOnly(forgetReleased(poolMetrics)) },
  });
  leader.is = () => bridge.isLeader();
  started.bridge = bridge;
  const prepare = { cluster: opts.classes.clusterName ?? DEFAULT_CLUSTER, families: async () => poolFamilies((await readPools(kube, pools)).items) };
  void greetRouter(opts.router, opts.log, prepare); // never throws; stopping need not wait for it
  return {
    bridge,
    ...(webhook ? { webhookPort: webhook.port } : {}),
    stop: async () => {
      await bridge.stop();
      await webhook?.close();
    },
  };
}

/** What the router is prepared for at start: the families the cluster's pools serve. */
export interface RouterPreparation {
  /** The installation's cluster name (DEFAULT_CLUSTER unless set): the global rules carry it. */
  cluster: string;
  families: () => Promise<Iterable<IPFamily>>;
}

/**
 * Opens the router's session at start (its client, the connection, the login) rather than in
 * the first Service's time, and says at once whether the router answers; programming retries
 * a router that does not. Then creates the global rules of the families the pools serve
 * (prepareGlobals), so the first Services pay for neither them nor a conflict over them. Every
 * replica does this, not only the leader: it writes what the leader's programming would, and a
 * conflict with it is retried. A failure is only a warning: programming creates missing
 * global rules itself.
 */
export async function greetRouter(router: RouterPort, log: Logger, prepare?: RouterPreparation): Promise<void> {
  try {
    const { '/system/resource': [resource] = [] } = await router.readMany(['/system/resource']);
    log.info('Router reachable', { version: resource?.version ?? 'unknown' });
  } catch (e) {
    log.warn('Router not reachable yet; programming retries it', { error: messageOf(e) });
    return;
  }
  if (!prepare) return;
  try {
    const wanted = new Set(await prepare.families());
    const families = IP_FAMILIES.filter((f) => wanted.has(f));
    if (families.length === 0) return;
    const ops = await prepareGlobals(router, families, prepare.cluster);
    log.info('Router prepared', { families, changes: ops.length });
  } catch (e) {
    log.warn('Router not prepared; programming creates the global rules', { error: messageOf(e) });
  }
}

async function startWebhook(cfg: NonNullable<ControllerOptions['webhook']>, kube: KubePort, log: Logger) {
  const { certFile, keyFile } = webhookCertFiles(cfg.certDir);
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    log.warn('IPPool webhook not served: no certificate', { certDir: cfg.certDir });
    return undefined;
  }
  const served = await serveWebhook({ kube, log: log.child({ component: 'webhook' }), ...cfg });
  log.info('Serving the IPPool webhook', { port: served.port });
  return served;
}

/**
 * `mikrolb controller`: bridge + functions + webhook in one process, configured from the
 * environment (ROUTEROS_*, LOAD_BALANCER_*, the bridge's variables, WEBHOOK_CERT_DIR/PORT).
 */
export async function runControllerCommand(argv: string[], env: Env, io: CliIo): Promise<number> {
  if (argv.length > 0) return usageError(io, 'controller', `unexpected argument "${argv[0]}"`);
  const log = createLogger({ out: io.stderr });
  const classes = classesFromEnv(env);
  if (!classes.ok) return usageError(io, 'controller', classes.message);
  const bridgeCfg = bridgeConfigFromEnv(env, { functionUrls: 'optional' });
  if (!bridgeCfg.ok) return usageError(io, 'controller', bridgeCfg.message);
  const webhookPort = portFromEnv(env, 'WEBHOOK_PORT', WEBHOOK_PORT);
  if (!webhookPort.ok) return usageError(io, 'controller', webhookPort.message);
  const kube = await kubeRuntime(env, INSTANCE);
  if (!kube.ok) return usageError(io, 'controller', kube.message);
  const counters = gcCounters();
  const router = routerRuntime(env, log.child({ component: 'router' }), routerLimitCounter(counters));
  if (!router.ok) return usageError(io, 'controller', router.message);
  try {
    const controller = await startController({
      kc: kube.value.kc, router: router.value, classes: classes.value, log, bridge: bridgeCfg.config, counters,
      webhook: { certDir: webhookCertDir(env), port: webhookPort.value },
    });
    log.info('Controller started', { port: controller.bridge.port, webhookPort: controller.webhookPort, loadBalancerClass: classes.value.loadBalancerClass, clusterName: classes.value.clusterName });
    return await runUntilStopped(io, log, async () => {
      await controller.stop();
      await router.value.close();
    });
  } catch (e) {
    await router.value.close();
    io.stderr.write(`mikrolb controller: ${messageOf(e)}\n`);
    return EXIT_FAILED;
  }
}

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import type { ClusterAccess } from '../lib/k8s/access.js';
import { objectInvocation, resyncInvocation } from '../lib/events/encode.js';
import { objectKey } from '../lib/events/identity.js';
import { ObjectKindSchema, type Invocation, type ObjectKind, type ObjectRef } from '../lib/events/invocation.js';
import { serveApp } from '../lib/http/serve.js';
import { kubeTransport, userAgentOf, type Transport } from '../lib/k8s/rest.js';
import type { WatchMirror } from '../lib/k8s/mirror.js';
import { tokenFile } from '../lib/auth/token-file.js';
import { createLogger, type Logger } from '../lib/log/logger.js';
import { sleep, systemClock, type Clock } from './clock.js';
import { bridgeConfig, type BridgeConfig, type BridgeConfigInput } from './config.js';
import { interestFilters, serviceConcernsUs } from './filters.js';
import { boundedDispatch, httpDispatch, type Dispatch, type DispatchResult, type FetchFn } from './invoker.js';
import { kubeStream, type KubeStream } from './kube-stream.js';
import { startElector, type Elector } from './lease.js';
import { createBridgeMetrics, type BridgeMetrics } from './metrics.js';
import { createWorkQueue } from './queue.js';
import { startResync } from './resync.js';
import { answerLost, crashSweeper } from './sweep.js';
import { FUNCTION_NAMES, routeEmission, type Emission, type FunctionName } from './routing.js';
import { createBridgeApp } from './server.js';
import { startSource, type Source } from './source.js';
import { createTracker, type Tracker } from './tracker.js';

export interface BridgeDeps {
  /** Credentials for lists, watches and the lease; or give `transport` and `stream`. */
  kc?: ClusterAccess;
  transport?: Transport;
  stream?: KubeStream;
  log?: Logger;
  /** For HTTP invocations instead of node:http (tests record requests with it). */
  fetch?: FetchFn;
  clock?: Clock;
  random?: () => number;
  /** Functions invoked in process (a FunctionHandler, or `appDispatch(app)`); wins over URLs. */
  dispatch?: Partial<Record<FunctionName, Dispatch>>;
  /** More Prometheus text for /metrics (the in-process functions' own counters). */
  extraMetrics?: () => string;
  /** Copies of kinds kept in this process, told of each object before the bridge routes it (see WatchMirror). */
  mirrors?: Partial<Record<ObjectKind, WatchMirror>>;
}

export interface BridgeHandle {
  /** Resolves once every kind has been listed; rejects if the bridge stops first. */
  ready: Promise<void>;
  metrics: BridgeMetrics;
  /** The port /healthz, /readyz and /metrics listen on. */
  port: number;
  isLeader(): boolean;
  /** Queues an invocation as an event would (functions in this process asking for more work). */
  enqueue(fn: FunctionName, invocation: Invocation): void;
  /** Stops watching, finishes (or hands back) in-flight work, releases the lease. Idempotent. */
  stop(): Promise<void>;
}

const KINDS = ObjectKindSchema.options;

/** How long work waits at most for the initial lists of every kind (see gate in startBridge). */
const LIST_HOLD_MS = 10_000;

/** Watches the cluster and invokes the functions: the bridge of ARCHITECTURE.md. */
export async function startBridge(input: BridgeConfigInput, deps: BridgeDeps): Promise<BridgeHandle> {
  const config = bridgeConfig(input);
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? Math.random;
  const log = (deps.log ?? createLogger()).child({ component: 'bridge' });
  const { transport, stream } = kubeAccess(config, deps);
  const metrics = createBridgeMetrics();
  const targets = functionTargets(config, deps, log, metrics, clock);
  const sweeper = crashSweeper({
    clock,
    sweep: () => {
      log.info('An invocation of program got no answer: release collects what a dead run may have left on the router');
      enqueue('release', resyncInvocation());
    },
  });
  const queue = createWorkQueue({
    dispatch: async (fn, invocation, signal) => {
      let result: DispatchResult | undefined;
      try {
        result = await dispatchTo(targets, fn, invocation, signal);
        return result;
      } finally {
        if (fn === 'program' && invocation.type === 'object' && answerLost(result)) sweeper.lost();
      }
    },
    concurrency: config.concurrency,
    limits: config.functionConcurrency,
    retry: config.retry,
    perObjectIntervalMs: config.perObjectIntervalMs,
    paused: true, // until every kind is listed (or LIST_HOLD_MS) and, with election, while leading: see gate
    clock,
    random,
    log,
    observer: metrics.queue,
  });
  const enqueue = (fn: FunctionName, invocation: Invocation, seenAt?: number, delayMs?: number): void => {
    if (targets[fn]) queue.add(fn, invocation, seenAt, delayMs);
  };
  const trackers = createTrackers();
  /** Whether work runs: every kind listed, and leading (see openGate). */
  const gate = { listed: false, leading: !config.lease.enabled, open: false };
  const emit = (emission: Emission, seenAt: number): void => {
    // While work waits (a standby replica, for as long as it stands by), what was queued for an
    // object that is gone is dropped: the queue keeps what is live, not all it ever heard of,
    // and a new leader does not start with the work of long-deleted objects. (What the
    // deletion itself asks for is queued below; release's resync, sent as work starts,
    // collects what such an object may have left on the router.) The watch's deletions, also
    // of objects no longer tracked (which have no emission), are forgotten through `deleted`.
    if (!gate.open && emission.change === 'delete') queue.forget(objectKey(emission.ref));
    const gone = (owner: ObjectRef | undefined): boolean => owner?.kind === 'Service' && !trackers.Service.live(objectKey(owner));
    const ownerGone = gone(emission.owner);
    const formerOwnerGone = gone(emission.formerOwner);
    // a deleted allocation's claim that the bridge saw go already (freed by its release) needs nobody
    const { held, holders, ...rest } = emission;
    const stands = held !== undefined && trackers.IPAddressClaim.has(objectKey(held));
    // a deleted claim's holders being deleted, or gone (its release freed it), need nobody
    const using = (holders ?? []).filter((h) => trackers.IPAllocation.live(objectKey(h)));
    const routed = { ...rest, ...(stands ? { held } : {}), ...(using.length > 0 ? { holders: using } : {}), ...(ownerGone ? { ownerGone } : {}), ...(formerOwnerGone ? { formerOwnerGone } : {}) };
    for (const d of routeEmission(routed)) enqueue(d.fn, objectInvocation(d.change, d.ref), seenAt, d.delayMs ?? 0);
  };
  // Every deletion the watch sees, also of an object no longer tracked (a LoadBalancer Service
  // turned ClusterIP, whose release took our finalizer off): it has no emission, yet what was
  // queued while it concerned us stays queued on a standby until it is forgotten here.
  const deleted = (key: string): void => {
    if (!gate.open) queue.forget(key);
  };
  const sources = KINDS.map((kind) =>
    startSource({ kind, stream, tracker: trackers[kind], emit, deleted, ...(deps.mirrors?.[kind] ? { mirror: deps.mirrors[kind] } : {}), clock, random, log, pageSize: config.watch.pageSize, backoff: config.watch.backoff, observer: metrics.source }),
  );
  const readiness = watchReadiness(sources, log);
  // Work waits for the initial lists: a restarted bridge meets every object at once, and a
  // Service's own event, its slices' and its allocations' (each kind listed in turn) then
  // coalesce into one invocation per function instead of reaching program up to three times.
  // A list that takes longer (or fails: a missing CRD) holds nothing up past LIST_HOLD_MS.
  // Each time work starts (at start-up, and again on becoming the leader) release gets a
  // resync at once: the process that worked before may have died between a router write and
  // the check after it (program settling a write made for a Service released meanwhile), and
  // only the garbage collection finds such entries — now, not RESYNC_INTERVAL later.
  const openGate = (): void => {
    const open = gate.listed && gate.leading;
    if (open && !gate.open) enqueue('release', resyncInvocation());
    gate.open = open;
    if (open) queue.resume();
    else queue.pause();
  };
  const listed = (): void => {
    cancelHold();
    if (gate.listed) return;
    gate.listed = true;
    openGate();
  };
  const cancelHold = clock.schedule(LIST_HOLD_MS, listed);
  void readiness.ready.then(listed, () => undefined);
  const elector = config.lease.enabled ? electLeader(config, transport, clock, log, (leading) => {
    gate.leading = leading;
    openGate();
  }) : undefined;
  const resync = startResync({ intervalMs: config.resyncIntervalMs, functions: FUNCTION_NAMES, clock, enqueue });
  const app = createBridgeApp({ ready: readiness.isReady, metrics: () => metrics.render() + (deps.extraMetrics?.() ?? '') });
  const server = await serveApp(app, { port: config.port, ...(config.hostname ? { hostname: config.hostname } : {}) }).catch(async (err: unknown) => {
    // The port is taken: undo what already runs, then fail.
    resync.stop();
    sweeper.stop();
    await Promise.all([...sources.map((s) => s.stop()), queue.stop(0), elector?.stop()]);
    throw err;
  });
  const isLeader = (): boolean => elector?.isLeader() ?? true;
  metrics.attach({ queue: (fn) => queue.stats(fn), tracked: (kind) => trackers[kind].size(), leader: isLeader, ready: readiness.isReady });
  log.info('Started bridge', { port: server.port, leaderElection: config.lease.enabled, functions: Object.keys(targets) });

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    log.info('Stopping bridge', { deadlineMs: config.shutdownTimeoutMs });
    cancelHold();
    resync.stop();
    sweeper.stop();
    readiness.abandon();
    const sourcesStopped = Promise.all(sources.map((s) => s.stop()));
    const { handedBack } = await queue.stop(config.shutdownTimeoutMs);
    await elector?.stop();
    await server.close();
    await withDeadline(sourcesStopped, clock, config.shutdownTimeoutMs);
    log.info('Stopped bridge', { handedBack });
  };
  return { ready: readiness.ready, metrics, port: server.port, isLeader, enqueue: (fn, invocation) => enqueue(fn, invocation), stop: () => (stopping ??= stop()) };
}

/** Waits for `work`, but no longer than `ms`; a list in flight need not hold up shutdown. */
async function withDeadline(work: Promise<unknown>, clock: Clock, ms: number): Promise<void> {
  const timer = new AbortController();
  await Promise.race([work, sleep(clock, ms, timer.signal)]);
  timer.abort();
}

function kubeAccess(config: BridgeConfig, deps: BridgeDeps): { transport: Transport; stream: KubeStream } {
  const userAgent = userAgentOf('bridge');
  const transport = deps.transport ?? (deps.kc ? kubeTransport(deps.kc, { userAgent }) : undefined);
  if (!transport) throw new Error('startBridge needs cluster access (deps.kc) or a transport');
  if (deps.stream) return { transport, stream: deps.stream };
  if (!deps.kc) throw new Error('startBridge needs cluster access (deps.kc) to watch, or a stream');
  const { timeoutSeconds, idleTimeoutMs } = config.watch;
  return { transport, stream: kubeStream(deps.kc, transport, { timeoutSeconds, idleTimeoutMs, userAgent }) };
}

/** Each function's target, in process or over HTTP, every invocation bounded by FUNCTION_TIMEOUT. */
function functionTargets(config: BridgeConfig, deps: BridgeDeps, log: Logger, metrics: BridgeMetrics, clock: Clock): Partial<Record<FunctionName, Dispatch>> {
  const targets: Partial<Record<FunctionName, Dispatch>> = {};
  const token = tokenFile(config.invokeTokenFile);
  for (const fn of FUNCTION_NAMES) {
    const url = config.functions[fn];
    const target = deps.dispatch?.[fn] ?? (url ? httpDispatch(url, { fetch: deps.fetch, timeoutMs: config.invocationTimeoutMs, token }) : undefined);
    if (target) {
      targets[fn] = boundedDispatch(target, config.invocationTimeoutMs, () => {
        metrics.timedOut(fn);
        log.warn('An invocation did not answer within FUNCTION_TIMEOUT; it will be retried', { function: fn, timeoutMs: config.invocationTimeoutMs });
      }, clock);
    } else log.warn('No URL or handler for a function: its events are not delivered', { function: fn });
  }
  const overHttp = FUNCTION_NAMES.some((fn) => !deps.dispatch?.[fn] && config.functions[fn]);
  if (overHttp && !existsSync(config.invokeTokenFile)) {
    log.warn('No invocation token at INVOKE_TOKEN_FILE: the functions are invoked without credentials, which they refuse unless they run with INVOKE_AUTH=none', { path: config.invokeTokenFile });
  }
  return targets;
}

function dispatchTo(targets: Partial<Record<FunctionName, Dispatch>>, fn: FunctionName, invocation: Invocation, signal: AbortSignal) {
  const target = targets[fn];
  if (!target) return Promise.reject(new Error(`no target for function ${fn}`));
  return target(invocation, signal);
}

function createTrackers(): Record<ObjectKind, Tracker> {
  // Slices are tracked for tracked Services, so the Service tracker comes first.
  const services = createTracker('Service', serviceConcernsUs);
  const filters = interestFilters((key) => services.has(key));
  return {
    IPPool: createTracker('IPPool', filters.IPPool),
    IPAllocation: createTracker('IPAllocation', filters.IPAllocation),
    Service: services,
    EndpointSlice: createTracker('EndpointSlice', filters.EndpointSlice),
    IPAddressClaim: createTracker('IPAddressClaim', filters.IPAddressClaim),
    Namespace: createTracker('Namespace', filters.Namespace),
  };
}

function watchReadiness(sources: readonly Source[], log: Logger) {
  let ready = false;
  let abandon = (): void => undefined;
  const promise = new Promise<void>((resolve, reject) => {
    abandon = () => reject(new Error('the bridge stopped before every kind was listed'));
    void Promise.all(sources.map((s) => s.listed)).then(() => {
      ready = true;
      log.info('Bridge ready: every kind listed');
      resolve();
    });
  });
  promise.catch(() => undefined); // nobody need wait for readiness
  return { ready: promise, isReady: () => ready, abandon: () => (ready ? undefined : abandon()) };
}

function electLeader(config: BridgeConfig, transport: Transport, clock: Clock, log: Logger, leading: (now: boolean) => void): Elector {
  const identity = config.lease.identity ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
  return startElector({
    transport,
    clock,
    log,
    settings: { ...config.lease, identity },
    onLeading: () => leading(true),
    onFollowing: () => leading(false),
  });
}

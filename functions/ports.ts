/**
 * What every function is built from, and the settings every entry point shares: the registry
 * (functions/registry.ts) and each function's own entry (functions/<name>/entry.ts) import this
 * light module, so loading one function loads none of the others.
 */
import type { ClassConfig } from '../lib/core/service.js';
import type { FunctionHandler, FunctionName } from '../lib/events/invocation.js';
import type { FetchApp } from '../lib/http/serve.js';
import { defaultPause, type RetryOptions } from '../lib/k8s/conflict.js';
import type { KubePort } from '../lib/k8s/port.js';
import type { Logger } from '../lib/log/logger.js';
import type { Counters } from '../lib/metrics.js';
import type { PoolMetrics } from '../lib/pool-metrics.js';
import type { RecentServices } from '../lib/k8s/recent.js';
import type { PoolsView, SlicesView } from '../lib/k8s/mirror.js';
import type { RouterPort } from '../lib/router/port.js';
import type { AllocateDeps } from './allocate/deps.js';
import type { ProgramDeps } from './program/deps.js';

/** Garbage collection leaves what an allocation still in flight may hold alone for this long. */
export const CLAIM_GRACE_MS = 5 * 60_000;

/** Against the API server a resourceVersion conflict means "re-read and decide again", after a jittered pause. */
export const conflictRetry = (): RetryOptions => ({ attempts: 20, pause: defaultPause() });

/** On in-memory state (`mikrolb invoke`) nothing contends: decide again at once, never wait. */
export const IN_MEMORY_RETRY: RetryOptions = { attempts: 10, pause: () => Promise.resolve() };

/** The port a function listens on when served alone (Knative's $PORT default). */
export const FUNCTION_PORT = 8080;

/** The IPPool webhook's port and where its tls.crt/tls.key are mounted (controller-runtime's defaults). */
export const WEBHOOK_PORT = 9443;
export const WEBHOOK_CERT_DIR = '/tmp/k8s-webhook-server/serving-certs';

/** Which functions cannot be built without a router (entry points check this before they load one). */
export const NEEDS_ROUTER: Readonly<Record<FunctionName, boolean>> = { allocate: false, program: true, release: true };

/** What a function is built from; real ports at the entry point, memory or the simulator elsewhere. */
export interface FunctionPorts {
  kube: KubePort;
  classes: ClassConfig;
  now: () => Date;
  log: Logger;
  /** Conflict retries: `conflictRetry()` unless given. */
  retry?: RetryOptions;
  /** Required by the functions that have `needsRouter`. */
  router?: RouterPort;
  /** release: `CLAIM_GRACE_MS` unless given. */
  claimGraceMs?: number;
  /** release: counts what garbage collection removed (metrics). */
  counters?: Counters;
  /** allocate: pool usage and allocation failures (metrics). */
  poolMetrics?: PoolMetrics;
  /**
   * allocate: program runs in this process too (the all-in-one controller), so a new Service
   * is programmed in the invocation that allocates it (needs `router`).
   */
  programInProcess?: boolean;
  /** allocate: new Services as this process's own watch saw them (a hint: see RecentServices). */
  recentServices?: RecentServices;
  /** allocate, program: the pools as this process's own watch sees them (a hint: see WatchMirror). */
  pools?: PoolsView;
  /** program: the EndpointSlices as this process's own watch sees them (a hint: see WatchMirror). */
  slices?: SlicesView;
  /** program in allocate's hand-off: asks the bridge in this process to run program for a Service again. */
  programAgain?: (namespace: string, name: string) => void;
}

export interface FunctionEntry {
  /** Cannot be built without `router`: entry points check this before they build it. */
  needsRouter: boolean;
  handler(ports: FunctionPorts): FunctionHandler;
  /** The handler as an HTTP app (CloudEvents in, JSON out). */
  app(ports: FunctionPorts): FetchApp;
}

/** What every function's dependencies share. */
export const commonDeps = (p: FunctionPorts): AllocateDeps => ({
  kube: p.kube, classes: p.classes, now: p.now, log: p.log, retry: p.retry ?? conflictRetry(), ...(p.poolMetrics ? { metrics: p.poolMetrics } : {}),
  ...(p.pools ? { pools: p.pools } : {}),
});

export function routerOf(p: FunctionPorts, name: FunctionName): RouterPort {
  if (!p.router) throw new Error(`${name} needs a router`);
  return p.router;
}

/** Program's dependencies: its own function's, and in allocate's hand-off. */
export const programDeps = (p: FunctionPorts): ProgramDeps => ({ ...commonDeps(p), router: routerOf(p, 'program'), ...(p.slices ? { slices: p.slices } : {}) });

/**
 * Every function by name: the handler (and its HTTP app) built from the ports it needs, with
 * the settings every entry point shares. `mikrolb invoke`, `mikrolb serve` and the all-in-one
 * controller build their functions here only, so a function is wired the same way wherever it runs.
 */
import { join } from 'node:path';
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
import { createAllocateApp } from './allocate/app.js';
import type { AllocateDeps, Handoff } from './allocate/deps.js';
import { createAllocate } from './allocate/handler.js';
import { createProgramApp } from './program/app.js';
import { newProgramReport, type ProgramDeps } from './program/deps.js';
import { programHandoff } from './program/service.js';
import { createProgram } from './program/handler.js';
import { createReleaseApp } from './release/app.js';
import type { ReleaseDeps } from './release/deps.js';
import { createRelease } from './release/handler.js';
import { createWebhookApp, poolLister } from './webhook/app.js';
import { certificateReloaded, serveTls, type ServedTls } from './webhook/serve-tls.js';
import { NEEDS_ROUTER } from './settings.js';

export { FUNCTION_PORT, WEBHOOK_PORT, webhookCertDir } from './settings.js';

/** Garbage collection leaves what an allocation still in flight may hold alone for this long. */
export const CLAIM_GRACE_MS = 5 * 60_000;

/** Against the API server a resourceVersion conflict means "re-read and decide again", after a jittered pause. */
export const conflictRetry = (): RetryOptions => ({ attempts: 20, pause: defaultPause() });

/** On in-memory state (`mikrolb invoke`) nothing contends: decide again at once, never wait. */
export const IN_MEMORY_RETRY: RetryOptions = { attempts: 10, pause: () => Promise.resolve() };

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

const commonDeps = (p: FunctionPorts): AllocateDeps => ({
  kube: p.kube, classes: p.classes, now: p.now, log: p.log, retry: p.retry ?? conflictRetry(), ...(p.poolMetrics ? { metrics: p.poolMetrics } : {}),
  ...(p.pools ? { pools: p.pools } : {}),
});

function routerOf(p: FunctionPorts, name: FunctionName): RouterPort {
  if (!p.router) throw new Error(`${name} needs a router`);
  return p.router;
}

const programDeps = (p: FunctionPorts): ProgramDeps => ({ ...commonDeps(p), router: routerOf(p, 'program'), ...(p.slices ? { slices: p.slices } : {}) });

/** Program's side of allocate's hand-off, its actions reported in allocate's answer. */
function handoffTo(deps: ProgramDeps): Handoff {
  return async (svc, handed, pools, report, announced) => {
    const own = newProgramReport();
    try {
      return await programHandoff(deps, svc, handed, pools, own, announced);
    } finally {
      report.actions.push(...own.actions.map((a) => `program: ${a}`));
    }
  };
}

const allocateDeps = (p: FunctionPorts): AllocateDeps => ({
  ...commonDeps(p),
  ...(p.programInProcess ? { handoff: handoffTo({ ...programDeps(p), log: p.log.child({ function: 'program' }), ...(p.programAgain ? { again: p.programAgain } : {}) }) } : {}),
  ...(p.recentServices ? { recent: p.recentServices } : {}),
});

const releaseDeps = (p: FunctionPorts): ReleaseDeps => ({
  ...commonDeps(p), router: routerOf(p, 'release'), claimGraceMs: p.claimGraceMs ?? CLAIM_GRACE_MS, ...(p.counters ? { counters: p.counters } : {}),
});

export const FUNCTIONS: Readonly<Record<FunctionName, FunctionEntry>> = {
  allocate: { needsRouter: NEEDS_ROUTER.allocate, handler: (p) => createAllocate(allocateDeps(p)), app: (p) => createAllocateApp(allocateDeps(p)) },
  program: { needsRouter: NEEDS_ROUTER.program, handler: (p) => createProgram(programDeps(p)), app: (p) => createProgramApp(programDeps(p)) },
  release: { needsRouter: NEEDS_ROUTER.release, handler: (p) => createRelease(releaseDeps(p)), app: (p) => createReleaseApp(releaseDeps(p)) },
};

/** The webhook's key pair in its certificate folder. */
export const webhookCertFiles = (certDir: string): { certFile: string; keyFile: string } =>
  ({ certFile: join(certDir, 'tls.crt'), keyFile: join(certDir, 'tls.key') });

export interface WebhookOptions {
  kube: KubePort;
  log: Logger;
  certDir: string;
  port: number;
  hostname?: string;
}

/** The IPPool admission webhook over TLS, its key pair re-read when the files change. */
export function serveWebhook(opts: WebhookOptions): Promise<ServedTls> {
  const app = createWebhookApp({ listPools: poolLister(opts.kube), log: opts.log });
  return serveTls(app, {
    ...webhookCertFiles(opts.certDir), port: opts.port, onReload: certificateReloaded(opts.log, opts.certDir), ...(opts.hostname ? { hostname: opts.hostname } : {}),
  });
}

import type { ClassConfig } from '../../lib/core/service.js';
import type { RetryOptions } from '../../lib/k8s/conflict.js';
import type { KubePort } from '../../lib/k8s/port.js';
import type { Logger } from '../../lib/log/logger.js';
import type { PoolMetrics } from '../../lib/pool-metrics.js';
import type { Service } from '../../lib/k8s/core-objects.js';
import type { RecentServices } from '../../lib/k8s/recent.js';
import type { PoolsView } from '../../lib/k8s/mirror.js';
import type { IPAllocation, IPPool } from '../../lib/k8s/schemas.js';
import { getPool } from '../../lib/k8s/typed.js';
import { shareRuns } from '../../lib/share-runs.js';
import { ClaimsHint } from './hint.js';

/** Everything allocate touches, passed in (real ones at the entry point, fakes in tests). */
export interface AllocateDeps {
  kube: KubePort;
  classes: ClassConfig;
  now: () => Date;
  log: Logger;
  retry: RetryOptions;
  /** Counts resourceVersion conflicts (for metrics and the concurrency proof). */
  onConflict?: () => void;
  /** What this instance remembers of the claims (a hint; made fresh when absent). */
  hint?: ClaimsHint;
  /** Pool usage and allocation failures (metrics). */
  metrics?: PoolMetrics;
  /** Program in the same process (the all-in-one controller): a new Service is programmed in the invocation that allocates it. */
  handoff?: Handoff;
  /** New Services as the watch in this process saw them: a hint that saves the first read of one. */
  recent?: RecentServices;
  /** The pools as the watch in this process sees them: a hint that saves listing them. */
  pools?: PoolsView;
}

/** A new allocation handed to program: its status (in memory) unwritten, and the pool its address came from. */
export interface Handed {
  allocation: IPAllocation;
  pool: string;
}

/**
 * Program's side of the hand-off (`programHandoff` in functions/program/service.ts): the
 * Service as allocate wrote it, its new allocations, the pools. Resolves true when program
 * wrote those statuses (and the Service's) with the resourceVersions given as preconditions;
 * false when allocate must write them itself. `announced` collects the allocations whose
 * `IPAllocated` event program recorded (with what the router did); allocate records the rest.
 */
export type Handoff = (svc: Service, handed: readonly Handed[], pools: readonly IPPool[], report: Report, announced: Set<string>) => Promise<boolean>;

/** A hint older than this is listed again before it is used. */
export const HINT_MAX_AGE_MS = 60_000;

/** The dependencies of one allocate instance, with its hint (kept while the instance is warm). */
export interface AllocateRun extends AllocateDeps {
  hint: ClaimsHint;
  /**
   * Reads a pool, sharing the read with this instance's concurrent callers (`shareRuns`): a
   * caller gets a read that started after its call, so what follows a claim still follows it,
   * and a burst of new claims on one pool costs a few reads instead of one each.
   */
  readPool: (name: string) => Promise<IPPool | undefined>;
}

export const allocateRun = (deps: AllocateDeps): AllocateRun => ({
  ...deps,
  hint: deps.hint ?? new ClaimsHint(HINT_MAX_AGE_MS),
  readPool: shareRuns((name: string) => getPool(deps.kube, name)),
});

/** What one invocation did, returned as the response body. */
export interface Report {
  actions: string[];
  conflicts: number;
}

export const newReport = (): Report => ({ actions: [], conflicts: 0 });

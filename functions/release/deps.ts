import { RetryableError } from '../../lib/events/outcome.js';
import type { ClassConfig } from '../../lib/core/service.js';
import type { RetryOptions } from '../../lib/k8s/conflict.js';
import type { KubePort } from '../../lib/k8s/port.js';
import type { Logger } from '../../lib/log/logger.js';
import type { Counters } from '../../lib/metrics.js';
import type { RouterPort } from '../../lib/router/port.js';
import type { PoolsView } from '../../lib/k8s/mirror.js';
import type { WholeRouter } from './router.js';

/** Everything release touches, passed in. */
export interface ReleaseDeps {
  kube: KubePort;
  router: RouterPort;
  classes: ClassConfig;
  now: () => Date;
  log: Logger;
  retry: RetryOptions;
  /** A claim nobody holds is collected only after this long (an allocation in flight). */
  claimGraceMs: number;
  /** Counts what garbage collection removed (metrics). */
  counters?: Counters;
  /** The pools as the watch in this process sees them: a hint that saves reading a pool. */
  pools?: PoolsView;
  /** Whole reads of the router shared by concurrent invocations (see sharedWholeRouter); createRelease makes one. */
  wholeRouter?: WholeRouter;
}

export interface Collected {
  claims: number;
  routerEntries: number;
  globalRules: number;
  allocations: number;
}

export interface ReleaseReport {
  actions: string[];
  collected: Collected;
  /** Set when what was asked about waits on something a user must do (a deleting pool whose addresses are held). */
  waiting?: { reason: string; message: string };
  /**
   * The pools this run freed claims of, each with the allocations it freed them for: a pool
   * being deleted is looked at once when the run's releases are done (releaseFreedPools), not
   * after each (a pool deleted with its N Services cost N lists of every allocation).
   */
  freedPools: Map<string, Set<string>>;
}

export const newReleaseReport = (): ReleaseReport => ({ actions: [], collected: { claims: 0, routerEntries: 0, globalRules: 0, allocations: 0 }, freedPools: new Map() });

/**
 * The router failed while releasing: finalizers stay, a Warning event says why, and the run
 * ends with "retry later" (503) — the router comes back without anyone acting.
 */
export class RouterReleaseError extends RetryableError {
  override readonly name = 'RouterReleaseError';
  constructor(message: string) {
    super('Unavailable', message, 5);
  }
}

/**
 * Another allocation of the Service is one allocate has not recorded a decision in yet
 * (decisionUnrecorded): the Service's re-plan waits for that status, or it would take off the
 * entries the hand-off may have just written for that allocation's address. Retried shortly
 * (allocate records it within its invocation).
 */
export class SiblingUnrecordedError extends RetryableError {
  override readonly name = 'SiblingUnrecordedError';
  constructor(message: string) {
    super('Conflict', message, 1);
  }
}

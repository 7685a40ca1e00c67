import type { ClassConfig } from '../../lib/core/service.js';
import type { RetryOptions } from '../../lib/k8s/conflict.js';
import type { KubePort } from '../../lib/k8s/port.js';
import type { Logger } from '../../lib/log/logger.js';
import type { Counters } from '../../lib/metrics.js';
import type { RouterPort } from '../../lib/router/port.js';

/** Everything release touches, passed in. */
export interface ReleaseDeps {
  kube: KubePort;
  router: RouterPort;
  classes: ClassConfig;
  now: () => Date;
  log: Logger;
  retry: RetryOptions;
  /** A claim nobody holds is collected only after this long (an allocation in flight). */
  ledgerGraceMs: number;
  /** Counts what garbage collection removed (metrics). */
  counters?: Counters;
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
}

export const newReleaseReport = (): ReleaseReport => ({ actions: [], collected: { claims: 0, routerEntries: 0, globalRules: 0, allocations: 0 } });

/** The router failed while releasing: finalizers stay, the invocation asks to be retried. */
export class ReleaseBlockedError extends Error {
  override readonly name = 'ReleaseBlockedError';
  readonly retryAfterSeconds = 5;
}

import type { ClassConfig } from '../../lib/core/service.js';
import type { RetryOptions } from '../../lib/k8s/conflict.js';
import type { KubePort } from '../../lib/k8s/port.js';
import type { Logger } from '../../lib/log/logger.js';

/** Everything allocate touches, passed in (real ones at the entry point, fakes in tests). */
export interface AllocateDeps {
  kube: KubePort;
  classes: ClassConfig;
  now: () => Date;
  log: Logger;
  retry: RetryOptions;
  /** Counts resourceVersion conflicts (for metrics and the concurrency proof). */
  onConflict?: () => void;
}

/** What one invocation did, returned as the response body. */
export interface Report {
  actions: string[];
  conflicts: number;
}

export const newReport = (): Report => ({ actions: [], conflicts: 0 });

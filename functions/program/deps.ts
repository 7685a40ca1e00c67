import { RetryableError } from '../../lib/events/outcome.js';
import type { ClassConfig } from '../../lib/core/service.js';
import type { RetryOptions } from '../../lib/k8s/conflict.js';
import type { KubePort } from '../../lib/k8s/port.js';
import type { Logger } from '../../lib/log/logger.js';
import type { RouterPort } from '../../lib/router/port.js';
import type { PoolsView, SlicesView } from '../../lib/k8s/mirror.js';

/** Everything program touches, passed in. */
export interface ProgramDeps {
  kube: KubePort;
  router: RouterPort;
  classes: ClassConfig;
  now: () => Date;
  log: Logger;
  retry: RetryOptions;
  /** The pools as the watch in this process sees them: a hint that saves listing them. */
  pools?: PoolsView;
  /** The EndpointSlices as the watch in this process sees them: a hint that saves listing them. */
  slices?: SlicesView;
  /**
   * Asks for program to run for a Service once more, through the queue of the bridge in this
   * process (absent: the caller runs it itself).
   */
  again?: (namespace: string, name: string) => void;
}

export interface ProgramReport {
  actions: string[];
  routerOps: number;
}

export const newProgramReport = (): ProgramReport => ({ actions: [], routerOps: 0 });

/** The router failed: statuses say BackendError, and the run ends with "retry later" (503). */
export class RouterUnavailableError extends RetryableError {
  override readonly name = 'RouterUnavailableError';
  constructor(message: string) {
    super('Unavailable', message, 5);
  }
}

import { RetryableError } from '../../lib/events/outcome.js';
import type { ClassConfig } from '../../lib/core/service.js';
import type { RetryOptions } from '../../lib/k8s/conflict.js';
import type { KubePort } from '../../lib/k8s/port.js';
import type { Logger } from '../../lib/log/logger.js';
import type { RouterPort } from '../../lib/router/port.js';

/** Everything program touches, passed in. */
export interface ProgramDeps {
  kube: KubePort;
  router: RouterPort;
  classes: ClassConfig;
  now: () => Date;
  log: Logger;
  retry: RetryOptions;
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

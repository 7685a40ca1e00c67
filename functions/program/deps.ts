import { RetryableError } from '../../lib/events/outcome.js';
import type { ClassConfig } from '../../lib/core/service.js';
import type { RetryOptions } from '../../lib/k8s/conflict.js';
import type { KubePort } from '../../lib/k8s/port.js';
import type { Logger } from '../../lib/log/logger.js';
import type { RouterPort } from '../../lib/router/port.js';
import { PoolsHint } from '../../lib/k8s/pools-hint.js';

/** Everything program touches, passed in. */
export interface ProgramDeps {
  kube: KubePort;
  router: RouterPort;
  classes: ClassConfig;
  now: () => Date;
  log: Logger;
  retry: RetryOptions;
  /** The pools as this instance last listed them (a hint; made fresh when absent). */
  pools?: PoolsHint;
}

/** The dependencies of one program instance, with its hint of the pools (kept while the instance is warm). */
export interface ProgramRun extends ProgramDeps {
  pools: PoolsHint;
}

export const programRun = (deps: ProgramDeps): ProgramRun => ({ ...deps, pools: deps.pools ?? new PoolsHint() });

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

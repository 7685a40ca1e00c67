import { RetryableError } from '../events/outcome.js';
import { isConflict } from './errors.js';

/** Raised when optimistic concurrency kept losing: the run ends with "retry later" (409). */
export class RetryLaterError extends RetryableError {
  override readonly name = 'RetryLaterError';
  constructor(message: string, override readonly retryAfterSeconds = 1) {
    super('Conflict', message, retryAfterSeconds);
  }
}

export interface RetryOptions {
  attempts: number;
  /** Waits a little (with jitter) between attempts so that contending instances spread out. */
  pause: (attempt: number) => Promise<void>;
}

export const defaultPause = (random: () => number = Math.random) => (attempt: number): Promise<void> =>
  new Promise((r) => setTimeout(r, Math.min(50, attempt * 2) * random()));

/**
 * Runs `attempt` until it completes without a resourceVersion conflict. Each attempt re-reads
 * what it decides on, so a conflict just means "decide again with fresh data".
 */
export async function retryOnConflict<T>(what: string, opts: RetryOptions, attempt: (n: number) => Promise<T>, onConflict?: () => void): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (e) {
      if (!isConflict(e)) throw e;
      onConflict?.();
      if (n >= opts.attempts) throw new RetryLaterError(`${what}: still conflicting after ${n} attempts`);
      await opts.pause(n);
    }
  }
}

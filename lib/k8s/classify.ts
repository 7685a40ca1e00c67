import type { ErrorAnswer } from '../http/function-app.js';
import { RetryLaterError } from './conflict.js';
import { isConflict, isKubeError } from './errors.js';
import { InvalidObjectError } from './typed.js';

/**
 * How a Kubernetes-side failure is answered: retry later (409/429/503 with Retry-After) for
 * conflicts, throttling and an unreachable or failing API server; anything else is unexpected.
 */
export function classifyKubeError(err: unknown): ErrorAnswer | undefined {
  if (err instanceof RetryLaterError) return { status: 409, retryAfterSeconds: err.retryAfterSeconds, message: err.message };
  if (err instanceof InvalidObjectError) return { status: 500, message: err.message };
  if (!isKubeError(err)) return undefined;
  if (isConflict(err)) return { status: 409, retryAfterSeconds: 1, message: err.message };
  if (err.status === 429) return { status: 429, retryAfterSeconds: err.retryAfterSeconds ?? 1, message: err.message };
  if (err.status === 0 || err.status >= 500) return { status: 503, retryAfterSeconds: err.retryAfterSeconds ?? 2, message: `the Kubernetes API is unavailable: ${err.message}` };
  return { status: 500, message: `the Kubernetes API refused a request: ${err.message}` };
}

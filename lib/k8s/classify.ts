import { failed, retryLater, type Outcome } from '../events/outcome.js';
import { isConflict, isKubeError } from './errors.js';
import { InvalidObjectError } from './typed.js';

/**
 * What a Kubernetes-side failure means for the run: retry later for a lost resourceVersion
 * race, throttling and an unreachable or failing API server; an object that does not match its
 * schema or any other refusal is unexpected. `undefined` for errors that are not the API's.
 */
export function classifyKubeError(err: unknown): Outcome | undefined {
  if (err instanceof InvalidObjectError) return failed(err.message);
  if (!isKubeError(err)) return undefined;
  if (isConflict(err)) return retryLater('Conflict', err.message, 1);
  if (err.status === 429) return retryLater('Throttled', err.message, err.retryAfterSeconds ?? 1);
  if (err.status === 0 || err.status >= 500) return retryLater('Unavailable', `the Kubernetes API is unavailable: ${err.message}`, err.retryAfterSeconds ?? 2);
  return failed(`the Kubernetes API refused a request: ${err.message}`);
}

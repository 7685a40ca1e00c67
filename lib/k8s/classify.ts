import { failed, retryLater, type Outcome } from '../events/outcome.js';
import { isConflict, isKubeError } from './errors.js';
import { InvalidObjectError } from './typed.js';

/**
 * What a Kubernetes-side failure means for the run: retry later for a lost resourceVersion
 * race, throttling, an unreachable or failing API server, and a refused credential or
 * permission (an API server just started refuses them until its authorizer has read RBAC; the
 * chaos suite, running each process as its ServiceAccount, met it after every restart); an
 * object that does not match its schema or any other refusal is unexpected. `undefined` for
 * errors that are not the API's.
 */
export function classifyKubeError(err: unknown): Outcome | undefined {
  if (err instanceof InvalidObjectError) return failed(err.message);
  if (!isKubeError(err)) return undefined;
  if (isConflict(err)) return retryLater('Conflict', err.message, 1);
  if (err.status === 429) return retryLater('Throttled', err.message, err.retryAfterSeconds ?? 1);
  if (err.status === 0 || err.status >= 500) return retryLater('Unavailable', `the Kubernetes API is unavailable: ${err.message}`, err.retryAfterSeconds ?? 2);
  if (err.status === 401 || err.status === 403) return retryLater('Forbidden', `the Kubernetes API refused a request (check this ServiceAccount's RBAC, deploy/base/rbac-*.yaml): ${err.message}`, err.retryAfterSeconds ?? 5);
  return failed(`the Kubernetes API refused a request: ${err.message}`);
}

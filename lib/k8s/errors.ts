/** The one error type that leaves the Kubernetes edge. Recognise it with the predicates below. */
export class KubeError extends Error {
  override readonly name = 'KubeError';
  constructor(
    message: string,
    readonly status: number,
    readonly reason: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export const isKubeError = (e: unknown): e is KubeError => e instanceof KubeError;
export const isNotFound = (e: unknown): boolean => isKubeError(e) && e.status === 404;
/** A resourceVersion precondition failed: re-read and decide again. */
export const isConflict = (e: unknown): boolean => isKubeError(e) && e.status === 409 && e.reason !== 'AlreadyExists';
export const isAlreadyExists = (e: unknown): boolean => isKubeError(e) && e.status === 409 && e.reason === 'AlreadyExists';
export const isGone = (e: unknown): boolean => isKubeError(e) && e.status === 410;
export const isForbidden = (e: unknown): boolean => isKubeError(e) && e.status === 403;
/** The request itself was refused (a selector the server cannot read, say); not the object. */
export const isBadRequest = (e: unknown): boolean => isKubeError(e) && e.status === 400;
export const isInvalid = (e: unknown): boolean => isKubeError(e) && (e.status === 422 || e.status === 400);
/** Network failures (status 0), throttling and server errors: worth retrying later. */
export const isRetryable = (e: unknown): boolean =>
  isKubeError(e) && (e.status === 0 || e.status === 429 || e.status >= 500 || isConflict(e));

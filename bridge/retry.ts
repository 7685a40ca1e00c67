/**
 * What the queue does with a function's answer: the small enum the runtime acts on. The
 * function side of the contract is lib/events/outcome.ts (its outcome → status mapping).
 */
export type Delivery = 'success' | 'retry' | 'reject';

/**
 * Knative's delivery rules (404, 408, 409, 429 and 5xx are retried; other 4xx never are), and
 * 401 and 403: the function refused the bridge's credentials, which says nothing of the event
 * (a token file missing or of the wrong audience, a ServiceAccount not in the function's
 * INVOKE_ALLOWED_SUBJECTS); dropped, the event's work would wait for the next resync once the
 * configuration is fixed.
 */
export function deliveryOf(status: number): Delivery {
  if (status >= 200 && status < 300) return 'success';
  if (status === 404 || status === 408 || status === 409 || status === 429 || status >= 500) return 'retry';
  if (isRefusedCaller(status)) return 'retry';
  return 'reject';
}

/** 401 / 403: the function does not take the bridge as a caller. */
export const isRefusedCaller = (status: number): boolean => status === 401 || status === 403;

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * Exponential backoff with "equal jitter": attempt n waits between half and all of
 * base·2^(n-1), so delays grow while replicas spread out. A Retry-After is a floor, never
 * shortened; everything is capped at `maxMs`.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number, retryAfterSeconds?: number): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  const jittered = ceiling / 2 + (random() * ceiling) / 2;
  const floor = retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds) ? retryAfterSeconds * 1000 : 0;
  return Math.round(Math.min(policy.maxMs, Math.max(jittered, floor)));
}

/** `Retry-After` is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - nowMs) / 1000);
}

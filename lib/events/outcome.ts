/**
 * What one function run came to, and the one mapping of it to an HTTP answer.
 *
 * A handler returns an Outcome; `mikrolb serve` and the all-in-one controller (which calls the
 * same HTTP app in process) answer it with `answerOf`, and `mikrolb invoke` prints that answer.
 * Modelled on controller-runtime's reconcileHandler and knative's controller.handleErr: success
 * forgets the work item, a retryable failure requeues it (after a delay when one is known), a
 * permanent one is dropped. The bridge's queue reads the answer back with Knative's delivery
 * rules (bridge/retry.ts), so the statuses below are the whole contract:
 *
 * | outcome   | status          | Retry-After | retried |
 * | --------- | --------------- | ----------- | ------- |
 * | done      | 200             | —           | no      |
 * | blocked   | 200             | —           | no      |
 * | retry     | 409 / 429 / 503 | when known  | yes     |
 * | bad event | 400 / 413       | —           | never   |
 * | failed    | 500             | —           | yes     |
 *
 * **Blocked is a 2xx.** A run that waits on something only a user can do (release of a pool
 * whose addresses Services still hold) has done all it can: it says why on the object (a
 * condition, a Warning event), where users look. Retrying could not change
 * the answer and would only spin the queue; the user's fix arrives as its own watch event, and
 * the periodic resync catches anything missed (controller-runtime's advice: return no error
 * while waiting on the user). A dependency that is down (the router, the API server) is not
 * blocked but `retry`: it comes back without anyone acting.
 */
import type { FunctionHandler, Invocation } from './invocation.js';
import { messageOf } from '../errors.js';

/** A JSON object: the report of what a run did. */
export type Body = Record<string, unknown>;

/** Why a run asks to be retried; each has its status. */
export type RetryReason =
  /** Lost a resourceVersion race (409): re-read and decide again. */
  | 'Conflict'
  /** The API server asked us to slow down (429). */
  | 'Throttled'
  /** A dependency is down or failing: the API server, the router (503). */
  | 'Unavailable'
  /**
   * The API server refused our credentials or a permission (401, 403), answered 503: it does so
   * for a moment after it starts (its authorizer's caches not yet filled), and for as long as
   * RBAC lacks a grant, which the message names and an operator can add meanwhile.
   */
  | 'Forbidden';

export type Outcome =
  | { kind: 'done'; body: Body }
  | { kind: 'blocked'; reason: string; message: string; body: Body }
  | { kind: 'retry'; reason: RetryReason; message: string; retryAfterSeconds?: number; body: Body }
  | { kind: 'bad-event'; reason: 'Malformed' | 'TooLarge'; message: string }
  | { kind: 'failed'; message: string; body: Body };

export const done = (body: Body = {}): Outcome => ({ kind: 'done', body });

export const blocked = (reason: string, message: string, body: Body = {}): Outcome => ({ kind: 'blocked', reason, message, body });

/** A delay that is not a finite, non-negative number is dropped (the caller's backoff decides). */
export function retryLater(reason: RetryReason, message: string, retryAfterSeconds?: number, body: Body = {}): Outcome {
  const usable = retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds) && retryAfterSeconds >= 0;
  return { kind: 'retry', reason, message, ...(usable ? { retryAfterSeconds } : {}), body };
}

export const badEvent = (message: string, reason: 'Malformed' | 'TooLarge' = 'Malformed'): Outcome => ({ kind: 'bad-event', reason, message });

/** Unexpected: a fault or a refusal nobody planned for (retried, as every 5xx is). */
export const failed = (message: string, body: Body = {}): Outcome => ({ kind: 'failed', message, body });

/** An HTTP answer: status, JSON body, and `Retry-After` in whole seconds when known. */
export interface Answer {
  status: number;
  body: Body;
  retryAfterSeconds?: number;
}

const RETRY_STATUS: Record<RetryReason, number> = { Conflict: 409, Throttled: 429, Unavailable: 503, Forbidden: 503 };

/** The one mapping of an outcome to its HTTP answer. */
export function answerOf(outcome: Outcome): Answer {
  switch (outcome.kind) {
    case 'done':
      return { status: 200, body: outcome.body };
    case 'blocked':
      return { status: 200, body: { ...outcome.body, blocked: { reason: outcome.reason, message: outcome.message } } };
    case 'retry': {
      const body = { ...outcome.body, error: outcome.message, reason: outcome.reason };
      const after = outcome.retryAfterSeconds;
      return { status: RETRY_STATUS[outcome.reason], body, ...(after === undefined ? {} : { retryAfterSeconds: Math.ceil(after) }) };
    }
    case 'bad-event':
      return { status: outcome.reason === 'TooLarge' ? 413 : 400, body: { error: outcome.message } };
    case 'failed':
      return { status: 500, body: { ...outcome.body, error: outcome.message } };
  }
}

/**
 * Thrown deep inside a run to end it with "retry later" (optimistic concurrency kept losing,
 * the router is down); `settle` turns it into the outcome.
 */
export class RetryableError extends Error {
  override readonly name: string = 'RetryableError';
  constructor(readonly reason: RetryReason, message: string, readonly retryAfterSeconds?: number) {
    super(message);
  }
}

/** Recognises an edge's typed errors (the Kubernetes API's, ...); `undefined` when it does not know one. */
export type Recognise = (err: unknown) => Outcome | undefined;

/**
 * Runs one invocation's work: done with its report, or the outcome a recognised error stands
 * for (with the report so far). Anything else is a fault and is thrown on.
 */
export async function settle(work: () => Promise<void>, report: () => Body, recognise: Recognise): Promise<Outcome> {
  try {
    await work();
  } catch (err) {
    const outcome = err instanceof RetryableError ? retryLater(err.reason, err.message, err.retryAfterSeconds) : recognise(err);
    if (outcome === undefined) throw err;
    return outcome.kind === 'bad-event' ? outcome : { ...outcome, body: { ...report(), ...outcome.body } };
  }
  return done(report());
}

/** Calls a handler; whatever it throws is an unexpected failure. Every caller of a handler goes through here. */
export async function runHandler(handler: FunctionHandler, invocation: Invocation): Promise<Outcome> {
  try {
    return await handler(invocation);
  } catch (err) {
    return failed(messageOf(err));
  }
}

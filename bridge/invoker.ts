import { toCloudEvent } from '../lib/events/cloudevent.js';
import type { Invocation } from '../lib/events/invocation.js';
import type { FetchApp } from '../lib/http/serve.js';
import { systemClock, type Clock } from './clock.js';
import { parseRetryAfter } from './retry.js';

/** A function's answer, as far as the bridge cares. */
export interface DispatchResult {
  status: number;
  retryAfterSeconds?: number;
  /** The start of the body, for logs when the answer is not 2xx. */
  detail?: string;
}

/**
 * Delivers one invocation to one function: over HTTP, or in process. A rejected promise is a
 * network failure and is retried. A FunctionHandler fits as it is.
 */
export type Dispatch = (invocation: Invocation, signal: AbortSignal) => Promise<DispatchResult>;

export type FetchFn = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface HttpDispatchOptions {
  fetch?: FetchFn;
  /** Gives up on one request after this long (then retries); Knative's default is 5 minutes. */
  timeoutMs?: number;
  now?: () => number;
  /** The bearer token each request carries (the bridge's projected ServiceAccount token), read per request. */
  token?: () => Promise<string | undefined>;
}

const DETAIL_CHARS = 300;

/** POSTs the invocation as a binary-mode CloudEvent to `url`. */
export function httpDispatch(url: string, opts: HttpDispatchOptions = {}): Dispatch {
  const send = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const now = opts.now ?? Date.now;
  return async (invocation, signal) => {
    const event = toCloudEvent(invocation);
    const token = await opts.token?.();
    const headers = token === undefined ? event.headers : { ...event.headers, authorization: `Bearer ${token}` };
    return withTimeout(signal, timeoutMs, async (combined) => {
      const res = await send(url, { method: 'POST', headers, body: event.body, signal: combined });
      return answerOf(res, now());
    });
  };
}

/** Like AbortSignal.any with a timeout, but removes its listener (the parent lives long). */
async function withTimeout<T>(parent: AbortSignal, timeoutMs: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(parent.reason);
  if (parent.aborted) onAbort();
  parent.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  try {
    return await run(controller.signal);
  } finally {
    clearTimeout(timer);
    parent.removeEventListener('abort', onAbort);
  }
}

/** An invocation that did not answer within its deadline (FUNCTION_TIMEOUT): retried like a network failure. */
export class InvocationTimeoutError extends Error {
  override readonly name = 'InvocationTimeoutError';
}

/**
 * Every invocation gets `timeoutMs`, in process as over HTTP: at the deadline its signal is
 * aborted and the bridge gets an InvocationTimeoutError (then retries), even if the function
 * ignores the signal (its work may still finish in the background; every function is
 * idempotent). `onTimeout` counts it.
 */
export function boundedDispatch(dispatch: Dispatch, timeoutMs: number, onTimeout: () => void, clock: Clock = systemClock): Dispatch {
  return (invocation, parent) => {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(parent.reason);
    if (parent.aborted) onAbort();
    parent.addEventListener('abort', onAbort, { once: true });
    return new Promise<DispatchResult>((resolve, reject) => {
      const cancel = clock.schedule(timeoutMs, () => {
        const error = new InvocationTimeoutError(`no answer within ${timeoutMs} ms (FUNCTION_TIMEOUT)`);
        onTimeout();
        controller.abort(error);
        reject(error);
      });
      dispatch(invocation, controller.signal).then(resolve, reject).finally(() => {
        cancel();
        parent.removeEventListener('abort', onAbort);
      });
    });
  };
}

/** Calls a fetch-style app (a function's hono app) in process, through the same CloudEvent. */
export function appDispatch(app: FetchApp, url = 'http://in-process/'): Dispatch {
  return async (invocation, signal) => {
    const event = toCloudEvent(invocation);
    const res = await app.fetch(new Request(url, { method: 'POST', headers: event.headers, body: event.body, signal }));
    return answerOf(res, Date.now());
  };
}

async function answerOf(res: Response, nowMs: number): Promise<DispatchResult> {
  const text = await res.text();
  const retryAfterSeconds = parseRetryAfter(res.headers.get('retry-after'), nowMs);
  const ok = res.status >= 200 && res.status < 300;
  return {
    status: res.status,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    ...(ok || text === '' ? {} : { detail: text.slice(0, DETAIL_CHARS) }),
  };
}

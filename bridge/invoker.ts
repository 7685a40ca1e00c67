import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { toCloudEvent } from '../lib/events/encode.js';
import type { FunctionHandler, Invocation } from '../lib/events/invocation.js';
import { logInvocation } from '../lib/events/invocation-log.js';
import { answerOf, runHandler } from '../lib/events/outcome.js';
import type { Logger } from '../lib/log/logger.js';
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
  /** Sends through this fetch instead of node:http (tests record requests with it). */
  fetch?: FetchFn;
  /** Gives up on one request after this long (then retries); Knative's default is 5 minutes. */
  timeoutMs?: number;
  now?: () => number;
  /** The bearer token each request carries (the bridge's projected ServiceAccount token), read per request. */
  token?: () => Promise<string | undefined>;
}

const DETAIL_CHARS = 300;

/** What the bridge reads of a function's answer. */
export interface Answer {
  status: number;
  retryAfter: string | null;
  text: string;
}

/** One POST; rejects when no answer comes (a network failure, or `signal` aborted). */
export type Post = (url: string, headers: Record<string, string>, body: string, signal: AbortSignal) => Promise<Answer>;

/** POSTs the invocation as a binary-mode CloudEvent to `url`. */
export function httpDispatch(url: string, opts: HttpDispatchOptions = {}): Dispatch {
  const post = opts.fetch ? postThrough(opts.fetch) : nodePost(new URL(url).protocol === 'https:');
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const now = opts.now ?? Date.now;
  return async (invocation, signal) => {
    const event = toCloudEvent(invocation);
    const token = await opts.token?.();
    const headers = token === undefined ? event.headers : { ...event.headers, authorization: `Bearer ${token}` };
    return withTimeout(signal, timeoutMs, async (combined) => resultOf(await post(url, headers, event.body, combined), now()));
  };
}

const postThrough = (send: FetchFn): Post => async (url, headers, body, signal) => {
  const res = await send(url, { method: 'POST', headers, body, signal });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
};

/**
 * POSTs with node:http over kept-alive connections, not the global fetch: undici's per-request
 * Request, Headers and (teed) web streams were most of the bridge's garbage under load, enough
 * to grow its heap by a hundred MB between major collections while tens of thousands of objects
 * were created.
 */
export function nodePost(secure: boolean): Post {
  const agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const request = secure ? httpsRequest : httpRequest;
  return (url, headers, body, signal) =>
    new Promise<Answer>((resolve, reject) => {
      const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent, signal }, (res) => {
        readText(res).then((text) => resolve({ status: res.statusCode ?? 0, retryAfter: headerOf(res, 'retry-after'), text }), reject);
      });
      req.on('error', reject);
      req.end(body);
    });
}

function headerOf(res: IncomingMessage, name: string): string | null {
  const value = res.headers[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

async function readText(res: IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res) text += String(chunk);
  return text;
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
    return resultOf({ status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() }, Date.now());
  };
}

/**
 * A function run in this process (the all-in-one controller), answered exactly as its HTTP app
 * answers (`answerOf`: the same statuses and Retry-After) and logged with the same line, without
 * encoding a CloudEvent, a Request and a Response for every invocation.
 */
export function handlerDispatch(name: string, handler: FunctionHandler, log: Logger, now: () => number = () => performance.now()): Dispatch {
  const logged = log.child({ function: name });
  return async (invocation) => {
    const started = now();
    const outcome = await runHandler(handler, invocation);
    const { status, body, retryAfterSeconds } = answerOf(outcome);
    logInvocation(logged, invocation, outcome, status, now() - started);
    const ok = status >= 200 && status < 300;
    return { status, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }), ...(ok ? {} : { detail: JSON.stringify(body).slice(0, DETAIL_CHARS) }) };
  };
}

function resultOf(answer: Answer, nowMs: number): DispatchResult {
  const { status, text } = answer;
  const retryAfterSeconds = parseRetryAfter(answer.retryAfter, nowMs);
  const ok = status >= 200 && status < 300;
  return {
    status,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    ...(ok || text === '' ? {} : { detail: text.slice(0, DETAIL_CHARS) }),
  };
}

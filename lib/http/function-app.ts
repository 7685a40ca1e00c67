import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { DEFAULT_MAX_BODY_BYTES, parseCloudEvent } from '../events/cloudevent.js';
import { objectKey } from '../events/identity.js';
import type { FunctionHandler, FunctionResult, Invocation } from '../events/invocation.js';
import { silentLogger, type Logger, type LogLevel } from '../log/logger.js';
import { payloadTooLarge, tooLargeMessage } from './body-limit.js';
import { messageOf } from '../errors.js';

/** How an error the handler threw should be answered; `undefined` when not recognised. */
export interface ErrorAnswer {
  status: number;
  retryAfterSeconds?: number;
  message: string;
}

export interface FunctionAppOptions {
  log?: Logger;
  maxBodyBytes?: number;
  /** Recognises the edges' typed errors (Kubernetes 409, router unreachable, ...). */
  classify?: (err: unknown) => ErrorAnswer | undefined;
  /** `/readyz` answers 503 while this says false. */
  ready?: () => boolean;
  /** Milliseconds clock for durations; `performance.now` by default. */
  now?: () => number;
}

interface Env {
  Variables: { invocation: Invocation | undefined; problem: string | undefined };
}

/**
 * The HTTP shell around one function: CloudEvent in, FunctionResult out. It only translates;
 * every thrown error becomes a response in `onError`, the single place that decides retries.
 */
export function createFunctionApp(name: string, handler: FunctionHandler, opts: FunctionAppOptions = {}) {
  const log = (opts.log ?? silentLogger()).child({ function: name });
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const app = new Hono<Env>();

  app.get('/healthz', (c) => c.text('ok'));
  app.get('/readyz', (c) => ((opts.ready?.() ?? true) ? c.text('ok') : c.text('not ready', 503)));

  const tooLarge = tooLargeMessage(maxBodyBytes);
  app.post(
    '/',
    logInvocations(log, opts.now ?? (() => performance.now())),
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: (c) => {
        c.set('problem', tooLarge);
        return payloadTooLarge(c, maxBodyBytes);
      },
    }),
    async (c) => {
      const parsed = parseCloudEvent({ headers: c.req.header(), body: await c.req.text() }, { maxBodyBytes });
      if (!parsed.ok) {
        c.set('problem', parsed.message);
        return c.json({ error: parsed.message }, 400);
      }
      c.set('invocation', parsed.invocation);
      return respond(checkResult(await invoke(handler, parsed.invocation)));
    },
  );

  app.onError((err, c) => {
    const thrown = err instanceof ThrownValue ? err.value : err;
    c.set('problem', messageOf(thrown));
    return respond(answerError(thrown, opts.classify));
  });
  return app;
}

export type FunctionApp = ReturnType<typeof createFunctionApp>;

/** Carries a thrown non-Error value through hono, which only hands `Error`s to `onError`. */
class ThrownValue extends Error {
  constructor(readonly value: unknown) {
    super(`handler threw a non-Error value: ${String(value)}`);
  }
}

async function invoke(handler: FunctionHandler, invocation: Invocation): Promise<FunctionResult> {
  try {
    return await handler(invocation);
  } catch (err) {
    throw err instanceof Error ? err : new ThrownValue(err);
  }
}

function checkResult(result: FunctionResult): FunctionResult {
  if (!isResponseStatus(result.status)) throw new Error(`handler answered invalid HTTP status ${result.status}`);
  return result;
}

export function answerError(err: unknown, classify?: FunctionAppOptions['classify']): FunctionResult {
  const message = messageOf(err);
  const classified = safely(() => classify?.(err));
  if (classified && isResponseStatus(classified.status)) {
    const { status, retryAfterSeconds } = classified;
    return { status, body: { error: classified.message }, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) };
  }
  const retryAfterSeconds = retryAfterOf(err);
  if (retryAfterSeconds !== undefined) return { status: 503, body: { error: 'retry later', message }, retryAfterSeconds };
  return { status: 500, body: { error: 'internal error', message } };
}

function respond(result: FunctionResult): Response {
  const headers = new Headers({ 'content-type': 'application/json' });
  const retryAfter = result.retryAfterSeconds;
  if (retryAfter !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0) {
    headers.set('retry-after', String(Math.ceil(retryAfter)));
  }
  const bodyless = result.status === 204 || result.status === 205 || result.status === 304;
  return new Response(bodyless ? null : JSON.stringify(result.body), { status: result.status, headers });
}

function logInvocations(log: Logger, now: () => number): MiddlewareHandler<Env> {
  return async (c, next) => {
    const started = now();
    await next();
    const invocation = c.get('invocation');
    const status = c.res.status;
    const fields = {
      ...describeInvocation(invocation),
      status,
      durationMs: Math.round((now() - started) * 10) / 10,
      ...(c.get('problem') === undefined ? {} : { error: c.get('problem') }),
    };
    const [level, msg] = outcome(status, c.res.headers.has('retry-after'), invocation !== undefined);
    log[level](msg, fields);
  };
}

function outcome(status: number, retryLater: boolean, parsed: boolean): [LogLevel, string] {
  if (!parsed && status === 400) return ['warn', 'Rejected malformed event'];
  if (retryLater) return ['warn', 'Invocation will be retried'];
  if (status >= 500) return ['error', 'Invocation failed'];
  if (status >= 400) return ['warn', 'Invocation rejected'];
  return ['info', 'Invocation done'];
}

function describeInvocation(invocation: Invocation | undefined): Record<string, string> {
  if (!invocation) return {};
  const base = { eventId: invocation.id, source: invocation.source };
  if (invocation.type === 'resync') return { ...base, type: 'resync' };
  return { ...base, type: invocation.change, object: objectKey(invocation.ref) };
}

const isResponseStatus = (status: number): boolean => Number.isInteger(status) && status >= 200 && status <= 599;

function retryAfterOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('retryAfterSeconds' in err)) return undefined;
  const value = err.retryAfterSeconds;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}


function safely<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

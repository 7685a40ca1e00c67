import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { DEFAULT_MAX_BODY_BYTES, parseCloudEvent } from '../events/cloudevent.js';
import { logInvocation } from '../events/invocation-log.js';
import type { FunctionHandler, Invocation } from '../events/invocation.js';
import { answerOf, badEvent, failed, runHandler, type Outcome } from '../events/outcome.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { limitBodySize, tooLargeMessage } from './body-limit.js';
import { messageOf } from '../errors.js';

export interface FunctionAppOptions {
  log?: Logger;
  maxBodyBytes?: number;
  /** `/readyz` answers 503 while this says false. */
  ready?: () => boolean;
  /** Milliseconds clock for durations; `performance.now` by default. */
  now?: () => number;
}

interface Env {
  Variables: { invocation: Invocation | undefined; outcome: Outcome | undefined };
}

/**
 * The HTTP shell around one function: CloudEvent in, the run's Outcome out, answered by the
 * one mapping of lib/events/outcome.ts. It only translates.
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
    // Connection: close, so the rest of an oversized body is never read (see body-limit.ts)
    limitBodySize(maxBodyBytes, (c) => answer(c, badEvent(tooLarge, 'TooLarge'), { connection: 'close' })),
    async (c) => {
      const parsed = parseCloudEvent({ headers: c.req.header(), body: await c.req.text() }, { maxBodyBytes });
      if (!parsed.ok) return answer(c, badEvent(parsed.message));
      c.set('invocation', parsed.invocation);
      return answer(c, await runHandler(handler, parsed.invocation));
    },
  );

  // a fault of the shell itself: the handler's own are caught by runHandler
  app.onError((err, c) => answer(c, failed(messageOf(err))));
  return app;
}

function answer(c: Context<Env>, outcome: Outcome, extraHeaders: Record<string, string> = {}): Response {
  c.set('outcome', outcome);
  const { status, body, retryAfterSeconds } = answerOf(outcome);
  const headers = new Headers({ 'content-type': 'application/json', ...extraHeaders });
  if (retryAfterSeconds !== undefined) headers.set('retry-after', String(retryAfterSeconds));
  return new Response(JSON.stringify(body), { status, headers });
}

function logInvocations(log: Logger, now: () => number): MiddlewareHandler<Env> {
  return async (c, next) => {
    const started = now();
    await next();
    logInvocation(log, c.get('invocation'), c.get('outcome'), c.res.status, now() - started);
  };
}

import type { Authenticate, Decision } from '../auth/authenticator.js';
import type { Logger } from '../log/logger.js';
import type { FetchApp } from './serve.js';
import { messageOf } from '../errors.js';

/** Paths anyone may GET (the kubelet's probes); they reveal nothing but "ok". */
const OPEN = new Set(['/healthz', '/readyz']);

/** Seconds the caller should wait when the API server could not review its token. */
const REVIEW_RETRY_AFTER_SECONDS = 5;

/** A refusal with the same answer is logged at most this often (with how many went unlogged). */
const REFUSAL_LOG_INTERVAL_MS = 30_000;
/** The answers whose last log line is remembered (forgotten all at once beyond). */
const REFUSALS_REMEMBERED = 256;

/**
 * A function app behind authentication: every request but the probes needs a bearer token the
 * API server accepts (401 without or with a bad one) from an allowed user (403 otherwise),
 * decided before the body is read. The app inside is unchanged, so in-process dispatch (the
 * all-in-one controller) keeps calling it directly. A refusal is logged as a warning once per
 * answer and 30 s (`repeated`: how many the line stands for), so a caller repeating a bad
 * token cannot flood the log.
 */
export function withInvokeAuth(app: FetchApp, authenticate: Authenticate, log: Logger, now: () => number = Date.now): FetchApp {
  const refusals = new Map<string, { loggedAt: number; unlogged: number }>();
  const refused = (status: number, message: string): void => {
    const key = `${status} ${message}`;
    const last = refusals.get(key);
    if (last && now() - last.loggedAt < REFUSAL_LOG_INTERVAL_MS) {
      last.unlogged++;
      return;
    }
    if (!last && refusals.size >= REFUSALS_REMEMBERED) refusals.clear();
    log.warn('Invocation refused', { status, error: message, ...(last?.unlogged ? { repeated: last.unlogged + 1 } : {}) });
    refusals.set(key, { loggedAt: now(), unlogged: 0 });
  };
  return {
    fetch: async (request) => {
      const { pathname } = new URL(request.url);
      if ((request.method === 'GET' || request.method === 'HEAD') && OPEN.has(pathname)) return app.fetch(request);
      let decision: Decision;
      try {
        decision = await authenticate(request.headers.get('authorization') ?? undefined);
      } catch (err) {
        log.warn('Could not review the caller\'s token; the invocation will be retried', { error: messageOf(err) });
        return json(503, { error: 'retry later', message: 'the caller could not be authenticated now' }, { 'retry-after': String(REVIEW_RETRY_AFTER_SECONDS) });
      }
      if (!decision.ok) {
        refused(decision.status, decision.message);
        return json(decision.status, { error: decision.message }, decision.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
      }
      return app.fetch(request);
    },
  };
}

function json(status: number, body: unknown, headers: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';

/**
 * Request body limits of every HTTP endpoint (see "Request limits" in docs/configuration.md).
 *
 * - The IPPool webhook: 3 MiB, the API server's own limit on a request body (an AdmissionReview
 *   carries the object and the old object, each at most that large as the API server stored it).
 * - The function endpoints: 1 MiB (`DEFAULT_MAX_BODY_BYTES` of lib/events/cloudevent.ts), one
 *   CloudEvent: the bridge sends a reference of a few hundred bytes, an ApiServerSource one whole
 *   Service, EndpointSlice or IPAllocation (annotations are capped at 256 KiB, a slice at 1,000
 *   endpoints). Batches are refused anyway.
 * - The bridge's /healthz, /readyz and /metrics: no body at all.
 */
export const WEBHOOK_MAX_BODY_BYTES = 3 * 1024 * 1024;
/**
 * The webhook's request bodies held at once (see `limitBodiesInFlight`): ten at the limit, or
 * thousands of ordinary reviews (a few KiB each); the API server sends one per IPPool change.
 */
export const WEBHOOK_BODIES_IN_FLIGHT_BYTES = 32 * 1024 * 1024;
export const NO_BODY_BYTES = 0;

export const tooLargeMessage = (maxBytes: number): string => `body exceeds the limit of ${maxBytes} bytes`;

/**
 * 413 for a body over the limit. `Connection: close` makes Node close the connection once the
 * answer is written, so the rest of an oversized body is never read (without it, the unread rest
 * would be drained to keep the connection alive).
 */
export function payloadTooLarge(c: Context, maxBytes: number): Response {
  return c.json({ error: tooLargeMessage(maxBytes) }, 413, { connection: 'close' });
}

/**
 * hono's bodyLimit, with a declared Content-Length compared before the request's body is touched.
 * hono's own asks for the body stream first (to pass requests without one), and on
 * @hono/node-server that turns the light request into a web Request streaming the Node one (the
 * first request of a process also loads the web streams); a declared length settled here, the
 * route's read takes the adapter's direct path instead (the body buffered from the socket). The
 * answers stay hono's: a declared length over the limit is refused unread, a body without one
 * (chunked) is counted as it arrives, and GET and HEAD, which carry no body, go to hono as before.
 */
export function limitBodySize(maxSize: number, onError: (c: Context) => Response | Promise<Response>): MiddlewareHandler {
  const counted = bodyLimit({ maxSize, onError });
  return async (c, next) => {
    const declared = c.req.header('content-length');
    if (declared === undefined || c.req.header('transfer-encoding') !== undefined || c.req.method === 'GET' || c.req.method === 'HEAD') return counted(c, next);
    return parseInt(declared, 10) > maxSize ? onError(c) : next();
  };
}

/**
 * Refuses a body over `maxBytes` with 413 before the route reads it. A declared Content-Length
 * over the limit is refused without reading a byte; a chunked body is counted as it arrives and
 * refused at the first chunk past the limit, so at most `maxBytes` are ever held in memory.
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  return limitBodySize(maxBytes, (c) => payloadTooLarge(c, maxBytes));
}

/**
 * At most `budgetBytes` of request bodies in flight at once, each counted at what it may reach
 * (its declared Content-Length, or `maxBytes` when it is sent chunked) from before its route
 * reads it until its answer is made; past that, 503 with `Retry-After` and `Connection: close`,
 * the body unread. On a port open to every source (the webhook's) a caller could otherwise open
 * many requests with bodies just short of the limit and hold them, each buffered in memory until
 * the request times out: 150 of 3 MiB took the process to 550 MiB.
 */
export function limitBodiesInFlight(budgetBytes: number, maxBytes: number): MiddlewareHandler {
  let inFlight = 0;
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const declared = c.req.header('transfer-encoding') === undefined ? Number(c.req.header('content-length') ?? 0) : Number.NaN;
    const share = Number.isSafeInteger(declared) && declared >= 0 && declared <= maxBytes ? declared : maxBytes;
    if (inFlight + share > budgetBytes) {
      return c.json({ error: 'too many requests in flight; retry later' }, 503, { 'retry-after': '1', connection: 'close' });
    }
    inFlight += share;
    try {
      await next();
    } finally {
      inFlight -= share;
    }
  };
}

import { Hono } from 'hono';
import { limitBody, NO_BODY_BYTES } from '../lib/http/body-limit.js';
import { CONTENT_TYPE } from '../lib/exposition.js';

export interface BridgeAppOptions {
  ready(): boolean;
  metrics(): string;
}

/** /healthz (alive), /readyz (every kind listed) and /metrics (Prometheus text). */
export function createBridgeApp(opts: BridgeAppOptions) {
  const app = new Hono();
  // No endpoint takes a body: any is refused with 413 before it is read.
  app.use('*', limitBody(NO_BODY_BYTES));
  app.get('/healthz', (c) => c.text('ok'));
  app.get('/readyz', (c) => (opts.ready() ? c.text('ok') : c.text('not ready: the initial lists are not complete', 503)));
  app.get('/metrics', (c) => c.body(opts.metrics(), 200, { 'content-type': CONTENT_TYPE }));
  return app;
}

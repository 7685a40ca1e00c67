/**
 * The registry's functions (functions/registry.ts) one at a time, for `mikrolb serve`: each is
 * loaded when it is served, so a function's cold start compiles only its own code (serving
 * allocate loads neither program, release, the router planner nor the webhook). The entries
 * are the registry's own.
 */
import type { FunctionName } from '../lib/events/invocation.js';
import { NEEDS_ROUTER, type FunctionEntry } from './ports.js';
import type { WebhookOptions } from './webhook/entry.js';
import type { ServedTls } from './webhook/serve-tls.js';

export { FUNCTION_PORT, NEEDS_ROUTER, WEBHOOK_CERT_DIR, WEBHOOK_PORT, type FunctionEntry, type FunctionPorts } from './ports.js';

export interface LazyFunction {
  /** Known before it is loaded: an entry point opens the router first. */
  needsRouter: boolean;
  load(): Promise<FunctionEntry>;
}

export const LAZY_FUNCTIONS: Readonly<Record<FunctionName, LazyFunction>> = {
  allocate: { needsRouter: NEEDS_ROUTER.allocate, load: async () => (await import('./allocate/entry.js')).allocateEntry },
  program: { needsRouter: NEEDS_ROUTER.program, load: async () => (await import('./program/entry.js')).programEntry },
  release: { needsRouter: NEEDS_ROUTER.release, load: async () => (await import('./release/entry.js')).releaseEntry },
};

/** The IPPool admission webhook (functions/webhook/entry.ts), loaded when it is served. */
export async function serveWebhook(opts: WebhookOptions): Promise<ServedTls> {
  return (await import('./webhook/entry.js')).serveWebhook(opts);
}

/**
 * Every function by name: the handler (and its HTTP app) built from the ports it needs, with
 * the settings every entry point shares. `mikrolb invoke` and the all-in-one controller build
 * their functions here, `mikrolb serve` one at a time from functions/lazy-registry.ts: both
 * take each function's entry (functions/<name>/entry.ts), so a function is wired the same way
 * wherever it runs.
 */
import type { FunctionName } from '../lib/events/invocation.js';
import { allocateEntry } from './allocate/entry.js';
import type { FunctionEntry } from './ports.js';
import { programEntry } from './program/entry.js';
import { releaseEntry } from './release/entry.js';

export {
  CLAIM_GRACE_MS, conflictRetry, FUNCTION_PORT, IN_MEMORY_RETRY, WEBHOOK_CERT_DIR, WEBHOOK_PORT, type FunctionEntry, type FunctionPorts,
} from './ports.js';
export { serveWebhook, webhookCertFiles, type WebhookOptions } from './webhook/entry.js';

export const FUNCTIONS: Readonly<Record<FunctionName, FunctionEntry>> = { allocate: allocateEntry, program: programEntry, release: releaseEntry };

/**
 * What an entry point knows of the functions before it loads them (functions/registry.ts): which
 * need the router, and the ports and folder they are served with. `mikrolb serve` reads its
 * configuration with these and loads the registry only then, while the API server connection is
 * opened (lib/cli/serve.ts); a module of constants, so knowing them loads nothing else.
 */
import type { FunctionName } from '../lib/events/invocation.js';

/** The port a function listens on when served alone (Knative's $PORT default). */
export const FUNCTION_PORT = 8080;

/** The IPPool webhook's port and where its tls.crt/tls.key are mounted (controller-runtime's defaults). */
export const WEBHOOK_PORT = 9443;
export const WEBHOOK_CERT_DIR = '/tmp/k8s-webhook-server/serving-certs';

/** The webhook's certificate folder: `WEBHOOK_CERT_DIR`, the default when it is unset or empty (as every variable). */
export function webhookCertDir(env: Readonly<Record<string, string | undefined>>): string {
  const dir = env.WEBHOOK_CERT_DIR?.trim();
  return dir ? dir : WEBHOOK_CERT_DIR;
}

/** The functions that cannot be built without a router: entry points open it first. */
export const NEEDS_ROUTER: Readonly<Record<FunctionName, boolean>> = { allocate: false, program: true, release: true };

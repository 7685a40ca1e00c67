import { createAuthenticator } from '../auth/authenticator.js';
import { invokeAuthFromEnv, type InvokeAuthConfig } from '../auth/config.js';
import { tokenReviewer } from '../auth/token-review.js';
import { classesFromEnv, portFromEnv, routerFromEnv, type Env } from '../config.js';
import type { ClassConfig } from '../core/service.js';
import { withInvokeAuth } from '../http/invoke-auth.js';
import { serveApp, type FetchApp } from '../http/serve.js';
import type { KubePort } from '../k8s/port.js';
import { userAgentOf, type Transport } from '../k8s/rest.js';
import { createLogger, type Logger } from '../log/logger.js';
import type { RouterPort } from '../router/port.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, oneOf, usageError, type CliIo } from './io.js';
import { messageOf } from '../errors.js';
import { kubeRuntime, untilStopped } from './runtime.js';

export interface ServeContext {
  kube: KubePort;
  /** The API server, for what is not a KubePort verb (TokenReviews). */
  transport: Transport;
  classes: ClassConfig;
  log: Logger;
  env: Env;
  router?: RouterPort;
  /** How invocations are authenticated (INVOKE_*); set for entries that are invoked with events. */
  invokeAuth?: InvokeAuthConfig;
}

export interface Served {
  port: number;
  close(): Promise<void>;
}

/** One servable function: whether it needs the router, and how it starts listening. */
export interface ServeEntry {
  needsRouter: boolean;
  /** Invoked with events (allocate, program, release): its callers must authenticate (INVOKE_*). */
  invoked?: boolean;
  defaultPort: number;
  start(ctx: ServeContext, port: number): Promise<Served>;
}

export type ServeRegistry = Readonly<Record<string, ServeEntry>>;

/**
 * `mikrolb serve <function>`: one function on $PORT (the Knative contract), its configuration
 * read once from the environment, until SIGTERM.
 */
export async function runServe(argv: string[], env: Env, io: CliIo, registry: ServeRegistry): Promise<number> {
  const [name, ...extra] = argv;
  const usage = (message: string): number => usageError(io, 'serve', message);
  const names = oneOf(Object.keys(registry));
  if (name === undefined) return usage(`name the function to serve: ${names}`);
  const entry = Object.hasOwn(registry, name) ? registry[name] : undefined;
  if (!entry) return usage(`unknown function "${name}"; expected ${names}`);
  const [unexpected] = extra;
  if (unexpected !== undefined) return usage(`unexpected argument "${unexpected}": its configuration comes from environment variables ($PORT, ...; docs/configuration.md)`);
  const log = createLogger({ out: io.stderr }).child({ function: name });
  const fail = (message: string): number => {
    io.stderr.write(`mikrolb serve ${name}: ${message}\n`);
    return EXIT_USAGE;
  };
  const classes = classesFromEnv(env);
  if (!classes.ok) return fail(classes.message);
  const port = portFromEnv(env, 'PORT', entry.defaultPort);
  if (!port.ok) return fail(port.message);
  const routerConfig = entry.needsRouter ? routerFromEnv(env) : undefined;
  if (routerConfig && !routerConfig.ok) return fail(routerConfig.message);
  const invokeAuth = entry.invoked ? invokeAuthFromEnv(env) : undefined;
  if (invokeAuth && !invokeAuth.ok) return fail(invokeAuth.message);
  const kube = await kubeRuntime(env, userAgentOf(name));
  if (!kube.ok) return fail(kube.message);
  // The client only once every check passed: it may log (the plain-text warning), and a start
  // refused for its configuration says one line. The RouterOS client is loaded only for the
  // functions that use it (allocate's cold start does not).
  const router = entry.needsRouter ? (await import('./router-runtime.js')).routerRuntime(env, log) : undefined;
  if (router && !router.ok) return fail(router.message);
  // After every configuration check (a start refused for its configuration sends nothing), before the code loads.
  warmUp(kube.value.transport);
  let served: Served;
  try {
    served = await entry.start({
      kube: kube.value.kube, transport: kube.value.transport, classes: classes.value, log, env,
      ...(router?.ok ? { router: router.value } : {}), ...(invokeAuth?.ok ? { invokeAuth: invokeAuth.value } : {}),
    }, port.value);
  } catch (e) {
    io.stderr.write(`mikrolb serve ${name}: ${messageOf(e)}\n`);
    return EXIT_FAILED;
  }
  if (invokeAuth?.ok && invokeAuth.value.mode === 'none') {
    log.warn('INVOKE_AUTH=none: anyone who reaches this function can invoke it; use this only for local development');
  }
  log.info('Serving', { port: served.port, ...(invokeAuth?.ok ? { invokeAuth: invokeAuth.value.mode } : {}) });
  await untilStopped(io.signal);
  log.info('Stopping');
  await served.close();
  if (router?.ok) await router.value.close();
  return EXIT_OK;
}

/** How long the warm-up may wait for the API server: it must not hold a process that is ending. */
export const WARM_UP_TIMEOUT_MS = 5_000;

/**
 * One cheap request to the API server, sent before the function's code loads and not awaited:
 * the TLS handshake (and the API server's first check of these credentials), ~20–30 ms of a
 * cold start, then happens while the modules compile, and the first invocation finds the
 * keep-alive connection open. `GET /version` because every identity may read it
 * (system:public-info-viewer) and it costs the API server nothing; one per process start. Its
 * answer, even a failure, does not matter: the first real request reports a problem.
 */
export function warmUp(transport: Transport): void {
  transport({ method: 'GET', path: '/version', timeoutMs: WARM_UP_TIMEOUT_MS }).catch(() => undefined);
}

/** A function's app on `port`, behind INVOKE_AUTH: TokenReview-checked callers, or (INVOKE_AUTH=none) anyone. */
export function serveInvoked(ctx: ServeContext, app: FetchApp, port: number): Promise<Served> {
  const cfg = ctx.invokeAuth;
  if (cfg === undefined) throw new Error('a served function needs its INVOKE_AUTH configuration');
  if (cfg.mode === 'none') return serveApp(app, { port });
  const authenticate = createAuthenticator({ review: tokenReviewer(ctx.transport, cfg.audience), allowedSubjects: cfg.allowedSubjects });
  return serveApp(withInvokeAuth(app, authenticate, ctx.log), { port });
}

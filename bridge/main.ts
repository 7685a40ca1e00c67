#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
// The composition root and the mikrolb bin: like the all-in-one controller entry, the only
// place that wires functions/ to lib/ and bridge/. lib/cli takes the functions as parameters.
import { join } from 'node:path';
import { createAllocateApp } from '../functions/allocate/app.js';
import { createAllocate } from '../functions/allocate/handler.js';
import { createProgramApp } from '../functions/program/app.js';
import { createReleaseApp } from '../functions/release/app.js';
import { createWebhookApp, poolLister } from '../functions/webhook/app.js';
import { certificateReloaded, serveTls } from '../functions/webhook/serve-tls.js';
import { serveApp, type FetchApp } from '../lib/http/serve.js';
import { withInvokeAuth } from '../lib/http/invoke-auth.js';
import { createAuthenticator } from '../lib/auth/authenticator.js';
import { tokenReviewer } from '../lib/auth/token-review.js';
import { defaultPause } from '../lib/k8s/conflict.js';
import { runServe, type ServeContext, type ServeEntry, type ServeRegistry } from '../lib/cli/serve.js';
import { createProgram } from '../functions/program/handler.js';
import { createRelease } from '../functions/release/handler.js';
import type { RouterPort } from '../lib/router/port.js';
import type { ClassConfig } from '../lib/core/service.js';
import { classConfigFromEnv } from '../lib/cli/config.js';
import { runInvoke, type FunctionRegistry } from '../lib/cli/invoke.js';
import type { InvokeRouter } from '../lib/cli/router.js';
import { EXIT_OK, EXIT_USAGE, type CliIo, type CliOptions, type Command, type Env } from '../lib/cli/io.js';
import { INVOKE_OPTIONS } from '../lib/cli/invoke-args.js';
import { messageOf } from '../lib/errors.js';

/** Functions `mikrolb invoke` runs. Extension point: add `program` and `release` here. */
export function invokeFunctions(classes: ClassConfig): FunctionRegistry {
  // Memory never contends, but a conflict still means "decide again", never "wait".
  const retry = { attempts: 10, pause: () => Promise.resolve() };
  return {
    allocate: ({ kube, now, log }) => createAllocate({ kube, classes, now, log, retry }),
    program: ({ kube, now, log, router }) => createProgram({ kube, classes, now, log, retry, router: routerOf(router) }),
    release: ({ kube, now, log, router }) => createRelease({ kube, classes, now, log, retry, router: routerOf(router), ledgerGraceMs: 5 * 60_000 }),
  };
}

/** runInvoke checks `--router` before it builds a router-talking function. */
function routerOf(router: InvokeRouter | undefined): RouterPort {
  if (!router) throw new Error('this function needs --router');
  return router.port;
}

/** Functions `mikrolb serve` runs, each on $PORT. */
export function serveFunctions(): ServeRegistry {
  const retry = { attempts: 20, pause: defaultPause() };
  const fnApp = (build: (ctx: ServeContext) => FetchApp): ServeEntry['start'] =>
    async (ctx, port) => serveApp(authenticated(ctx, build(ctx)), { port });
  const routerOf = (ctx: ServeContext): RouterPort => {
    if (!ctx.router) throw new Error('no router configured');
    return ctx.router;
  };
  return {
    allocate: { needsRouter: false, invoked: true, defaultPort: 8080, start: fnApp(({ kube, classes, log }) => createAllocateApp({ kube, classes, log, now: () => new Date(), retry })) },
    program: { needsRouter: true, invoked: true, defaultPort: 8080, start: fnApp((ctx) => createProgramApp({ ...ctx, router: routerOf(ctx), now: () => new Date(), retry })) },
    release: { needsRouter: true, invoked: true, defaultPort: 8080, start: fnApp((ctx) => createReleaseApp({ ...ctx, router: routerOf(ctx), now: () => new Date(), retry, ledgerGraceMs: 5 * 60_000 })) },
    webhook: {
      needsRouter: false, defaultPort: 9443,
      start: async ({ kube, log, env }, port) => {
        const dir = env.WEBHOOK_CERT_DIR ?? '/tmp/k8s-webhook-server/serving-certs';
        const app = createWebhookApp({ listPools: poolLister(kube), log: (line) => log.info('Webhook', { line }) });
        return serveTls(app, { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), port, onReload: certificateReloaded(log, dir) });
      },
    },
  };
}

/** A served function behind INVOKE_AUTH: TokenReview-checked callers, or (INVOKE_AUTH=none) anyone. */
function authenticated(ctx: ServeContext, app: FetchApp): FetchApp {
  const cfg = ctx.invokeAuth;
  if (cfg === undefined) throw new Error('a served function needs its INVOKE_AUTH configuration');
  if (cfg.mode === 'none') return app;
  const authenticate = createAuthenticator({ review: tokenReviewer(ctx.transport, cfg.audience), allowedSubjects: cfg.allowedSubjects });
  return withInvokeAuth(app, authenticate, ctx.log);
}

const invoke: Command = async (argv, env, io) => {
  const config = classConfigFromEnv(env);
  if (!config.ok) {
    io.stderr.write(`mikrolb invoke: ${config.message}\n`);
    return EXIT_USAGE;
  }
  return runInvoke(argv, io, { functions: invokeFunctions(config.classes), needsRouter: ['program', 'release'] });
};

interface Subcommand {
  usage: string;
  summary: string;
  run: Command;
  /** The flags it accepts (its parseArgs options), loaded like `run`; absent: none. */
  options?: () => Promise<CliOptions>;
}

/** Every `mikrolb` subcommand. Extension point: add one here (parse its config from `env` in `run`). */
// Subcommands other than serve and invoke load their modules when run: a function's cold
// start then pays for nothing it does not use (the simulator, the bridge, the local cluster).
export const SUBCOMMANDS: Readonly<Record<string, Subcommand>> = {
  invoke: { usage: 'invoke <allocate|program|release> ...', summary: 'run a function once on fixture state (mikrolb invoke --help)', run: invoke, options: () => Promise.resolve(INVOKE_OPTIONS) },
  'routeros-sim': {
    usage: 'routeros-sim [--port N] ...', summary: 'serve the RouterOS API simulator',
    run: async (argv, env, io) => (await import('../lib/routeros/sim/cli.js')).runRouterSimCli(argv, env, io),
    options: async () => (await import('../lib/routeros/sim/cli.js')).ROUTER_SIM_OPTIONS,
  },
  serve: { usage: 'serve <allocate|program|release|webhook>', summary: 'serve one function on $PORT (CloudEvents in; the webhook over TLS)', run: (argv, env, io) => runServe(argv, env, io, serveFunctions()) },
  bridge: { usage: 'bridge', summary: 'watch the cluster and invoke the functions at FUNCTION_URL_*', run: async (argv, env, io) => (await import('./commands.js')).runBridgeCommand(argv, env, io) },
  controller: { usage: 'controller', summary: 'bridge, functions and the IPPool webhook in one process', run: async (argv, env, io) => (await import('./commands.js')).runControllerCommand(argv, env, io) },
  uninstall: {
    usage: 'uninstall --router [--dry-run]', summary: 'remove every entry of this cluster (MIKROLB_CLUSTER_NAME) from the router, nothing else',
    run: async (argv, env, io) => (await import('../lib/cli/uninstall.js')).runUninstall(argv, env, io),
    options: async () => (await import('../lib/cli/uninstall.js')).UNINSTALL_OPTIONS,
  },
  router: { usage: 'router dump', summary: 'print the router\'s state (read-only) in the invoke --router format', run: async (argv, env, io) => (await import('../lib/cli/router-dump.js')).runRouter(argv, env, io) },
  start: { usage: 'start', summary: 'the controller on an embedded local stack (or on KUBECONFIG + ROUTEROS_URL)', run: async (argv, env, io) => (await import('./start.js')).runStart(argv, env, io) },
};

export function usage(): string {
  const rows = [...Object.values(SUBCOMMANDS).map((c) => [c.usage, c.summary]), ['help', 'show this text']];
  const width = Math.max(...rows.map(([u = '']) => u.length));
  return `usage: mikrolb <command> [arguments]\n\ncommands:\n${rows.map(([u = '', s = '']) => `  ${u.padEnd(width)}  ${s}`).join('\n')}\n`;
}

/** `mikrolb <command> ...`: resolves to the exit code (0 done, 1 failed, 2 usage). */
export async function main(argv: string[], env: Env, io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? io.stderr : io.stdout).write(usage());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const sub = Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
  if (sub === undefined) {
    io.stderr.write(`mikrolb: unknown command "${name}"\n${usage()}`);
    return EXIT_USAGE;
  }
  return sub.run(rest, env, io);
}

/** Whether this module is the program node (or tsx) was started with, also through a bin symlink. */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2), process.env, { stdout: process.stdout, stderr: process.stderr }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`mikrolb: ${messageOf(err)}\n`);
      process.exitCode = 1;
    },
  );
}

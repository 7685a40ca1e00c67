#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
// The mikrolb bin: a small dispatch over the CLI front ends (lib/cli, the bridge's commands),
// handing them the functions from the registry (functions/registry.ts). Like the all-in-one
// controller entry, the only place in bridge/ that imports functions/.
// Every subcommand loads its modules when run, the registry too: `mikrolb bridge` then holds
// none of the functions' code (~11 MB of RSS at rest), nor does a function's cold start load
// the simulator or the bridge. What it must know before (functions/settings.ts) is constants.
import type * as Registry from '../functions/registry.js';
import type { ServeEntry, ServeRegistry } from '../lib/cli/serve.js';
import type { ClassConfig } from '../lib/core/service.js';
import { FUNCTION_PORT, NEEDS_ROUTER, WEBHOOK_PORT, webhookCertDir } from '../functions/settings.js';
import { FUNCTION_NAMES, type FunctionName } from '../lib/events/invocation.js';
import type { FunctionRegistry } from '../lib/cli/invoke.js';
import { EXIT_OK, EXIT_USAGE, oneOf, type CliIo, type CliOptions, type Command, type Env } from '../lib/cli/io.js';
import { INVOKE_OPTIONS } from '../lib/cli/invoke-args.js';
import { messageOf } from '../lib/errors.js';

type RegistryModule = typeof Registry;
const loadRegistry = (): Promise<RegistryModule> => import('../functions/registry.js');

/** Functions `mikrolb invoke` runs: the registry's, on the fixture's memory and the simulated router. */
export function invokeFunctions({ FUNCTIONS, IN_MEMORY_RETRY }: RegistryModule, classes: ClassConfig): FunctionRegistry {
  return Object.fromEntries(FUNCTION_NAMES.map((name) => [name, ({ kube, now, log, router }) =>
    FUNCTIONS[name].handler({ kube, classes, now, log, retry: IN_MEMORY_RETRY, ...(router ? { router: router.port } : {}) })]));
}

/**
 * Functions `mikrolb serve` runs, each on $PORT: the registry's, and the IPPool webhook. The
 * registry is loaded when the function starts, after its configuration was read and the warm-up
 * request to the API server sent (lib/cli/serve.ts): the TLS handshake happens while the
 * functions' code loads.
 */
export async function serveFunctions(): Promise<ServeRegistry> {
  const { serveInvoked } = await import('../lib/cli/serve.js');
  const invoked = (name: FunctionName): ServeEntry => ({
    needsRouter: NEEDS_ROUTER[name], invoked: true, defaultPort: FUNCTION_PORT,
    start: async (ctx, port) => serveInvoked(ctx, (await loadRegistry()).FUNCTIONS[name].app({ ...ctx, now: () => new Date() }), port),
  });
  return {
    ...Object.fromEntries(FUNCTION_NAMES.map((name) => [name, invoked(name)])),
    webhook: {
      needsRouter: false, defaultPort: WEBHOOK_PORT,
      start: async ({ kube, log, env }, port) => (await loadRegistry()).serveWebhook({ kube, log, port, certDir: webhookCertDir(env) }),
    },
  };
}

const invoke: Command = async (argv, env, io) => {
  const [{ classConfigFromEnv }, { runInvoke }, registry] = await Promise.all([import('../lib/cli/config.js'), import('../lib/cli/invoke.js'), loadRegistry()]);
  const config = classConfigFromEnv(env);
  if (!config.ok) {
    io.stderr.write(`mikrolb invoke: ${config.message}\n`);
    return EXIT_USAGE;
  }
  return runInvoke(argv, io, { functions: invokeFunctions(registry, config.classes), needsRouter: FUNCTION_NAMES.filter((name) => registry.FUNCTIONS[name].needsRouter) });
};

const serve: Command = async (argv, env, io) => {
  const { runServe } = await import('../lib/cli/serve.js');
  return runServe(argv, env, io, await serveFunctions());
};

interface Subcommand {
  usage: string;
  summary: string;
  run: Command;
  /** The flags it accepts (its parseArgs options), loaded like `run`; absent: none. */
  options?: () => Promise<CliOptions>;
  /** Its long help, loaded like `run`; absent: the usage line and summary (see commandHelp). */
  help?: () => Promise<string>;
}

/** Every `mikrolb` subcommand (each parses its configuration from `env` in `run`). */
export const SUBCOMMANDS: Readonly<Record<string, Subcommand>> = {
  invoke: { usage: 'invoke <allocate|program|release> ...', summary: 'run a function once on fixture state (mikrolb invoke --help)', run: invoke, options: () => Promise.resolve(INVOKE_OPTIONS) },
  'routeros-sim': {
    usage: 'routeros-sim [--port N] ...', summary: 'serve the RouterOS API simulator',
    run: async (argv, env, io) => (await import('../lib/routeros/sim/cli.js')).runRouterSimCli(argv, env, io),
    options: async () => (await import('../lib/routeros/sim/cli.js')).ROUTER_SIM_OPTIONS,
    help: async () => (await import('../lib/routeros/sim/cli.js')).ROUTER_SIM_USAGE,
  },
  serve: { usage: 'serve <allocate|program|release|webhook>', summary: 'serve one function on $PORT (CloudEvents in; the webhook over TLS)', run: serve },
  bridge: { usage: 'bridge', summary: 'watch the cluster and invoke the functions at FUNCTION_URL_*', run: async (argv, env, io) => (await import('./commands.js')).runBridgeCommand(argv, env, io) },
  controller: { usage: 'controller', summary: 'bridge, functions and the IPPool webhook in one process', run: async (argv, env, io) => (await import('./all-in-one.js')).runControllerCommand(argv, env, io) },
  uninstall: {
    usage: 'uninstall --router [--dry-run]', summary: 'remove every entry of this cluster (MIKROLB_CLUSTER_NAME) from the router, nothing else',
    run: async (argv, env, io) => (await import('../lib/cli/uninstall.js')).runUninstall(argv, env, io),
    options: async () => (await import('../lib/cli/uninstall.js')).UNINSTALL_OPTIONS,
  },
  router: {
    usage: 'router dump', summary: 'print the router\'s state (read-only) in the invoke --router format',
    run: async (argv, env, io) => (await import('../lib/cli/router-dump.js')).runRouter(argv, env, io),
    help: async () => (await import('../lib/cli/router-dump.js')).ROUTER_USAGE,
  },
};

const EXIT_STATUS = 'Exit status: 0 done; 1 the work failed (the router refused or could not be reached, the port was\n'
  + 'taken, or the function invoke ran answered other than 2xx); 2 the command line, an input file or\n'
  + 'the configuration is wrong.\n';

export function usage(): string {
  const rows = [...Object.values(SUBCOMMANDS).map((c) => [c.usage, c.summary]), ['help [command]', 'show this text, or a command\'s help']];
  const width = Math.max(...rows.map(([u = '']) => u.length));
  return `usage: mikrolb <command> [arguments]\n\ncommands:\n${rows.map(([u = '', s = '']) => `  ${u.padEnd(width)}  ${s}`).join('\n')}\n\n${EXIT_STATUS}`;
}

const HELP_FLAGS: readonly string[] = ['--help', '-h'];

/** A command's help: its own long text, or its usage line and summary. */
async function commandHelp(sub: Subcommand): Promise<string> {
  if (sub.help) return sub.help();
  return `usage: mikrolb ${sub.usage}\n\n${sub.summary.charAt(0).toUpperCase()}${sub.summary.slice(1)}.\nIt is configured by environment variables, each described in docs/configuration.md.\n`;
}

/** `mikrolb <command> ...`: resolves to the exit code (EXIT_STATUS: 0 done, 1 failed, 2 usage). */
export async function main(argv: string[], env: Env, io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  // `help <command>` is `<command> --help`
  if (name === 'help' && rest[0] !== undefined) return main([rest[0], '--help'], env, io);
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? io.stderr : io.stdout).write(usage());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const sub = Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
  if (sub === undefined) {
    io.stderr.write(`mikrolb: unknown command "${name}"; expected ${oneOf(Object.keys(SUBCOMMANDS))} (see mikrolb --help)\n`);
    return EXIT_USAGE;
  }
  // `--help` anywhere after a command shows its help, unless the command parses it itself
  const ownHelp = 'help' in ((await sub.options?.()) ?? {});
  if (!ownHelp && rest.some((arg) => HELP_FLAGS.includes(arg))) {
    io.stdout.write(await commandHelp(sub));
    return EXIT_OK;
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
  // A reader that stops early (`mikrolb invoke ... | head`) closes the pipe: what is left of the
  // output has nowhere to go, but the work (an uninstall half done) finishes and its exit status stands.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
    process.stderr.write(`mikrolb: cannot write the output: ${messageOf(err)}\n`);
    process.exitCode = 1;
  });
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

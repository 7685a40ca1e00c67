#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
// The composition root: the only file of lib/ that reaches into functions/, as the bridge's
// all-in-one entry does. Everything below it in lib/cli takes the functions as a parameter.
import { createAllocate } from '../../functions/allocate/handler.js';
import { createProgram } from '../../functions/program/handler.js';
import { createRelease } from '../../functions/release/handler.js';
import type { RouterPort } from '../router/port.js';
import type { ClassConfig } from '../core/service.js';
import { runRouterSimCli } from '../routeros/sim/cli.js';
import { classConfigFromEnv } from './config.js';
import { runInvoke, type FunctionRegistry } from './invoke.js';
import type { InvokeRouter } from './router.js';
import { EXIT_OK, EXIT_USAGE, type CliIo, type Command, type Env } from './io.js';

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
  /** Absent while the subcommand is not built yet. */
  run?: Command;
}

/**
 * Every `mikrolb` subcommand. Extension point: give `serve`, `bridge`, `controller`,
 * `uninstall` and `start` a `run` when they exist (parse their config from `env` there).
 */
export const SUBCOMMANDS: Readonly<Record<string, Subcommand>> = {
  invoke: { usage: 'invoke <allocate|program|release> ...', summary: 'run a function once on fixture state (mikrolb invoke --help)', run: invoke },
  'routeros-sim': { usage: 'routeros-sim [--port N] ...', summary: 'serve the RouterOS API simulator', run: (argv, env, io) => runRouterSimCli(argv, env, io) },
  serve: { usage: 'serve <function>', summary: 'serve one function over HTTP (CloudEvents in)' },
  bridge: { usage: 'bridge', summary: 'watch the cluster and invoke the functions' },
  controller: { usage: 'controller', summary: 'bridge and functions in one process' },
  uninstall: { usage: 'uninstall', summary: 'remove what MikroLB put on the router and in the cluster' },
  start: { usage: 'start', summary: 'run a local stack for development' },
};

export function usage(): string {
  const rows = [...Object.values(SUBCOMMANDS).map((c) => [c.usage, c.run ? c.summary : `${c.summary} (not available yet)`]), ['help', 'show this text']];
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
  if (sub.run === undefined) {
    io.stderr.write(`mikrolb ${name}: not available yet\n`);
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
      process.stderr.write(`mikrolb: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

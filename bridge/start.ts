import { existsSync } from 'node:fs';
import { EXIT_USAGE, type CliIo, type Command } from '../lib/cli/io.js';
import type { Env } from '../lib/config.js';
import { redactRouterUrl } from '../lib/routeros/client/index.js';
import { runControllerCommand } from './commands.js';

/**
 * The embedded local stack (a kube-apiserver and etcd from lib/cluster, the simulator, the
 * controller) exists in a source checkout only; the image has neither it nor its launcher. Its
 * module is named here, not imported by name, so the compiler leaves it out of the build.
 */
const LOCAL_STACK_MODULE = './local-stack.js';
const CLUSTER_TOOLS = new URL('../lib/cluster/tools/go.mod', import.meta.url);

/**
 * `mikrolb start` (npm start): with KUBECONFIG and ROUTEROS_URL set, the controller against
 * those; otherwise the embedded local stack, until Ctrl-C.
 */
export async function runStart(argv: string[], env: Env, io: CliIo): Promise<number> {
  if (env.KUBECONFIG && env.ROUTEROS_URL) {
    io.stderr.write(`Using KUBECONFIG=${env.KUBECONFIG} and ROUTEROS_URL=${redactRouterUrl(env.ROUTEROS_URL)} from the environment.\n`);
    return runControllerCommand(argv, env, io);
  }
  const runLocalStack = existsSync(CLUSTER_TOOLS) ? await loadLocalStack() : undefined;
  if (!runLocalStack) {
    io.stderr.write('mikrolb start: the embedded local stack runs from a source checkout (npm ci && npm start); this build has no cluster tools. Set KUBECONFIG and ROUTEROS_URL to run the controller here.\n');
    return EXIT_USAGE;
  }
  return runLocalStack(argv, env, io);
}

async function loadLocalStack(): Promise<Command | undefined> {
  const loaded: unknown = await import(LOCAL_STACK_MODULE).catch(() => undefined);
  const run: unknown = typeof loaded === 'object' && loaded !== null ? Reflect.get(loaded, 'runLocalStack') : undefined;
  return isCommand(run) ? run : undefined;
}

/** A function of three parameters, as bridge/local-stack.ts exports it (checked there by the compiler). */
const isCommand = (value: unknown): value is Command => typeof value === 'function' && value.length === 3;

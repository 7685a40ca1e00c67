import { objectInvocation } from '../events/encode.js';
import type { FunctionHandler, Invocation, ObjectRef } from '../events/invocation.js';
import { answerOf, runHandler, type Answer } from '../events/outcome.js';
import { loadFixtureState, type FixtureObject } from '../k8s/fixtures.js';
import { memoryPort, type EventRecordOut, type MemoryPort, type WriteRecord } from '../k8s/memory.js';
import type { KubePort } from '../k8s/port.js';
import { createLogger, silentLogger, type Logger } from '../log/logger.js';
import type { RouterState } from '../router/state.js';
import { invokeUsage, parseInvokeArgs, type InvokeArgs } from './invoke-args.js';
import { CLASS_VARIABLES } from '../config.js';
import { FUNCTION_NAMES } from '../events/invocation.js';
import { readEventFile, readRouterFile } from './invoke-inputs.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliIo } from './io.js';
import { messageOf } from '../errors.js';
import { simulatedRouter, type InvokeRouter, type RouterCommand } from './router.js';

/** What a function gets when `mikrolb invoke` runs it: the same ports it gets when deployed. */
export interface InvokeContext {
  kube: KubePort;
  now: () => Date;
  log: Logger;
  /** Present when `--router` was given. */
  router?: InvokeRouter;
}

export type FunctionFactory = (ctx: InvokeContext) => FunctionHandler;
/** The functions `mikrolb invoke` can run, by name (`allocate`, later `program` and `release`). */
export type FunctionRegistry = Readonly<Partial<Record<string, FunctionFactory>>>;

export interface InvokeOptions {
  functions: FunctionRegistry;
  /** Functions that cannot run without `--router`. */
  needsRouter?: readonly string[];
  /** First reading of the run's clock; every reading advances it by one second. */
  clockStart?: Date;
}

/** The one JSON document `mikrolb invoke` prints (see ARCHITECTURE.md, "`mikrolb invoke`"). */
export interface InvokeOutput {
  function: string;
  /** The HTTP answer `mikrolb serve` would give (lib/events/outcome.ts). */
  response: Answer;
  writes: WriteRecord[];
  events: EventRecordOut[];
  objects: unknown[];
  router?: { commands: RouterCommand[]; state: RouterState };
}

/** An hour after the fixture's own objects were created (they start at 2026-01-01T00:00:00Z). */
export const INVOKE_CLOCK_START = new Date('2026-01-01T01:00:00Z');
/** The invocation id an `--object` run uses, so that two runs print the same document. */
export const INVOKE_EVENT_ID = 'mikrolb-invoke';
export const INVOKE_SOURCE = 'mikrolb.de/invoke';

/** A deterministic clock: the same run prints the same timestamps every time. */
export function steppingClock(start: Date = INVOKE_CLOCK_START, stepMs = 1000): () => Date {
  let n = 0;
  return () => new Date(start.getTime() + stepMs * n++);
}

type Fail = { ok: false; message: string };

interface Prepared {
  factory: FunctionFactory;
  objects: unknown[];
  invocation: Invocation;
  router?: InvokeRouter;
  /** Said on stderr, also with --quiet: --object names nothing in the state. */
  note?: string;
}

/** A note when --object names no object of the state (a typo, or the namespace left out). */
function absentNote(ref: ObjectRef, objects: readonly FixtureObject[]): string | undefined {
  const found = objects.some((o) => o.kind === ref.kind && o.metadata.name === ref.name && o.metadata.namespace === ref.namespace);
  if (found) return undefined;
  return `${ref.kind} ${ref.namespace === undefined ? '' : `${ref.namespace}/`}${ref.name} is not in the state; the function ran as for an object that is gone`;
}

function resolveFunction(name: string, functions: FunctionRegistry): { ok: true; factory: FunctionFactory } | Fail {
  const factory = Object.hasOwn(functions, name) ? functions[name] : undefined;
  if (factory !== undefined) return { ok: true, factory };
  return { ok: false, message: `unknown function "${name}"; expected ${FUNCTION_NAMES.join(', ')}` };
}

/** Everything the command line names, read and checked before the function runs. */
async function prepare(args: InvokeArgs, functions: FunctionRegistry): Promise<{ ok: true; prepared: Prepared } | Fail> {
  const fn = resolveFunction(args.function, functions);
  if (!fn.ok) return fn;
  const state = await loadFixtureState(args.stateFile);
  if (!state.ok) return { ok: false, message: `--state: ${state.message}` };
  const target = args.target;
  const event = 'object' in target
    ? { ok: true as const, invocation: objectInvocation('update', target.object, { id: INVOKE_EVENT_ID, source: INVOKE_SOURCE }) }
    : await readEventFile(target.eventFile);
  if (!event.ok) return event;
  const note = 'object' in target ? absentNote(target.object, state.objects) : undefined;
  const prepared: Prepared = { factory: fn.factory, objects: state.objects, invocation: event.invocation, ...(note === undefined ? {} : { note }) };
  if (args.routerFile !== undefined) {
    const router = await readRouterFile(args.routerFile);
    if (!router.ok) return router;
    try {
      prepared.router = await simulatedRouter(router.state);
    } catch (e) {
      return { ok: false, message: `--router: ${messageOf(e)}` };
    }
  }
  return { ok: true, prepared };
}

function outputOf(name: string, response: Answer, memory: MemoryPort, router: InvokeRouter | undefined): InvokeOutput {
  return {
    function: name,
    response,
    writes: memory.writes,
    events: memory.events,
    objects: memory.objects(),
    ...(router ? { router: { commands: router.commands(), state: router.state() } } : {}),
  };
}

const usageError = (io: CliIo, message: string): number => {
  io.stderr.write(`mikrolb invoke: ${message} (see mikrolb invoke --help)\n`);
  return EXIT_USAGE;
};

/**
 * `mikrolb invoke`: one function, one invocation, against an in-memory API server seeded from
 * fixtures. Exit 0 when the function answered 2xx, 1 otherwise, 2 for usage and input errors.
 */
export async function runInvoke(argv: string[], io: CliIo, opts: InvokeOptions): Promise<number> {
  const parsed = parseInvokeArgs(argv);
  if (!parsed.ok) return usageError(io, parsed.message);
  if (parsed.help) {
    io.stdout.write(invokeUsage(CLASS_VARIABLES));
    return EXIT_OK;
  }
  const { args } = parsed;
  if (opts.needsRouter?.includes(args.function) && args.routerFile === undefined) {
    return usageError(io, `${args.function} talks to a router: give --router router.json`);
  }
  const ready = await prepare(args, opts.functions);
  if (!ready.ok) return usageError(io, ready.message);
  const { factory, objects, invocation, router, note } = ready.prepared;
  const now = steppingClock(opts.clockStart);
  let memory: MemoryPort;
  try {
    memory = memoryPort({ objects, now });
  } catch (e) {
    await router?.close();
    return usageError(io, `--state: ${messageOf(e)}`);
  }
  const log = args.quiet ? silentLogger() : createLogger({ out: io.stderr }).child({ function: args.function });
  const ctx: InvokeContext = { kube: memory.port, now, log, ...(router ? { router } : {}) };
  let answer: Answer;
  try {
    answer = answerOf(await runHandler((inv) => factory(ctx)(inv), invocation));
    io.stdout.write(`${JSON.stringify(outputOf(args.function, answer, memory, router), null, 2)}\n`);
    if (note !== undefined) io.stderr.write(`mikrolb invoke: ${note} (see mikrolb invoke --help)\n`);
  } finally {
    await router?.close();
  }
  return answer.status >= 200 && answer.status < 300 ? EXIT_OK : EXIT_FAILED;
}

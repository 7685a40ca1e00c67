import * as z from 'zod';
import { silentLogger, type Logger } from '../../log/logger.js';
import type { Op } from '../../router/ops.js';
import type { RouterEntry } from '../../router/state.js';
import { addWords, describeOp, moveWords, opWords, printWords, removeWords, setWords, type PrintOptions } from './commands.js';
import { forOp, isRouterError, RouterError } from '../../router/errors.js';
import { startSession, type CommandReply, type RouterLimit, type RouterLimits, type Session } from './session.js';
import { describeTarget, RouterUrlSchema, type RouterTarget } from './url.js';
import { messageOf } from '../../errors.js';

/**
 * The RouterOS adapter: the only module that talks to routers, and the only one that imports
 * node-routeros (through `library.ts`, module by module).
 *
 * Design. routeros-client 1.1.2 / node-routeros 1.6.9 are archived (the product depends on
 * node-routeros only; routeros-client, which re-exports it, is a development dependency of tests), and their command path is
 * fragile for this product: traps lose their category (`write` rejects with the message only),
 * `!fatal` loses its reason, `!empty` and late tags throw inside the socket handler, commands on a
 * dropped connection never settle, its reply framing is heuristic, and its idle timer closes warm
 * connections. So the package does what it does reliably — TCP/TLS connect and the login
 * handshake (both styles), with its `!empty` crash patched (`patch.ts`) — and then hands the
 * logged-in socket to a small command session on the project's wire codec (`session.ts`), which
 * pipelines tagged commands, keeps raw property names and string values, and turns every failure
 * into one RouterError. See `login.ts` for how the socket is taken over.
 */

export interface RouterClientConfig {
  /** `api://host[:8728]` or `api-ssl://host[:8729]`. */
  url: string;
  username: string;
  password: string;
  /** PEM of the CA that signed the router's certificate (api-ssl); the hostname is verified. */
  caCert?: string;
  /** Connect + login deadline, and how long the router may stay silent while commands wait (default 10 s). */
  timeoutMs?: number;
  /** Bounds on one command's reply and duration (DEFAULT_LIMITS otherwise). */
  limits?: Partial<RouterLimits>;
  /** Told each time a command hits a bound (for metrics). */
  onLimit?: (limit: RouterLimit) => void;
  log?: Logger;
}

export interface RouterClientStats {
  /** Commands sent (login excluded). */
  commands: number;
  /** Batches of commands written together and awaited together; a single call is one. */
  roundTrips: number;
  /** Sessions opened (logins). */
  connects: number;
}

export interface ExecuteResult {
  /** Per op, the `.id` an `add` created; undefined for other ops. */
  ids: (string | undefined)[];
}

export interface RouterClient {
  print(menu: string, options?: PrintOptions): Promise<RouterEntry[]>;
  /** Adds an entry (before `placeBefore` when given) and returns its `.id`. */
  add(menu: string, props: Readonly<Record<string, string>>, placeBefore?: string): Promise<string>;
  set(menu: string, id: string, props: Readonly<Record<string, string>>): Promise<void>;
  remove(menu: string, ids: readonly string[]): Promise<void>;
  /** Moves `ids`, in order, before `destination` (to the end without it). */
  move(menu: string, ids: readonly string[], destination?: string): Promise<void>;
  /**
   * Sends planner ops all at once (one round trip) and waits for every reply. When some fail, the
   * first failure is thrown with its `opIndex`; later ops were already sent and may have applied.
   */
  execute(ops: readonly Op[]): Promise<ExecuteResult>;
  /** Prints several menus, each optionally narrowed by query words, in one round trip. */
  read(requests: readonly { menu: string; query?: readonly string[] }[]): Promise<Record<string, RouterEntry[]>>;
  /** Prints several menus in one round trip. */
  readMany(menus: readonly string[]): Promise<Record<string, RouterEntry[]>>;
  /** The RouterOS version, e.g. `7.19.1` (from `/system/resource`). */
  version(): Promise<string>;
  close(): Promise<void>;
  readonly stats: RouterClientStats;
}

const ConfigSchema = z.object({
  url: RouterUrlSchema,
  username: z.string().min(1, 'router user name is empty'),
  password: z.string(),
  caCert: z.string().includes('-----BEGIN CERTIFICATE-----', { message: 'router CA certificate must be PEM' }).optional(),
  timeoutMs: z.number().int().positive().default(10_000),
});

const VersionSchema = z.string().regex(/^\d+\.\d+(\.\d+)?/).transform((text) => text.split(' ')[0] ?? text);

const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 5_000;

/** Parses the configuration (throws a RouterError of kind `input` naming the problem) and returns a lazy client. */
export function connectRouter(config: RouterClientConfig): RouterClient {
  const parsed = ConfigSchema.safeParse(config);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((issue) => issue.message).join('; ');
    throw new RouterError({ kind: 'input', message: `invalid router configuration: ${detail}` });
  }
  const { url: target, username, password, caCert, timeoutMs } = parsed.data;
  const where = describeTarget(target);
  const log = (config.log ?? silentLogger()).child({ router: where });
  const stats: RouterClientStats = { commands: 0, roundTrips: 0, connects: 0 };
  const link = connectionManager({
    target, username, password, caCert, timeoutMs, where, log, stats,
    ...(config.limits === undefined ? {} : { limits: config.limits }), ...(config.onLimit === undefined ? {} : { onLimit: config.onLimit }),
  });

  async function run(commands: readonly (readonly string[])[]): Promise<Promise<CommandReply>[]> {
    const session = await link.session();
    stats.commands += commands.length;
    stats.roundTrips += 1;
    return session.send(commands);
  }
  const one = async (words: readonly string[]): Promise<CommandReply> => {
    const [reply] = await run([words]);
    if (reply === undefined) throw new RouterError({ kind: 'protocol', message: 'no reply slot for a command' });
    return reply;
  };

  return {
    print: async (menu, options) => (await one(printWords(menu, options))).items,
    async add(menu, props, placeBefore) {
      const ret = (await one(addWords(menu, props, placeBefore))).done.ret;
      if (ret === undefined || ret === '') throw new RouterError({ kind: 'protocol', message: `${menu}/add: router returned no id` });
      return ret;
    },
    async set(menu, id, props) {
      await one(setWords(menu, id, props));
    },
    async remove(menu, ids) {
      const words = removeWords(menu, ids);
      if (words !== null) await one(words);
    },
    async move(menu, ids, destination) {
      const words = moveWords(menu, ids, destination);
      if (words !== null) await one(words);
    },
    execute: (ops) => execute(ops, run),
    async read(requests) {
      if (requests.length === 0) return {};
      const replies = await Promise.all(await run(requests.map((r) => printWords(r.menu, r.query ? { query: r.query } : {}))));
      return Object.fromEntries(requests.map((r, i) => [r.menu, replies[i]?.items ?? []]));
    },
    async readMany(menus) {
      if (menus.length === 0) return {};
      const replies = await Promise.all(await run(menus.map((menu) => printWords(menu))));
      return Object.fromEntries(menus.map((menu, i) => [menu, replies[i]?.items ?? []]));
    },
    async version() {
      const [resource] = (await one(printWords('/system/resource', { proplist: ['version'] }))).items;
      const parsedVersion = VersionSchema.safeParse(resource?.version);
      if (!parsedVersion.success) throw new RouterError({ kind: 'protocol', message: `router ${where} reported no usable version` });
      return parsedVersion.data;
    },
    close: () => link.close(),
    get stats() {
      return { ...stats };
    },
  };
}

async function execute(ops: readonly Op[], run: (commands: string[][]) => Promise<Promise<CommandReply>[]>): Promise<ExecuteResult> {
  const planned = ops.map((op, index) => {
    try {
      return opWords(op);
    } catch (error) {
      throw isRouterError(error) ? forOp(error, index, describeOp(op)) : error;
    }
  });
  const sendable = planned.flatMap((words, index) => (words === null ? [] : [{ words, index }]));
  const settled = sendable.length === 0 ? [] : await Promise.allSettled(await run(sendable.map((entry) => entry.words)));
  const ids: (string | undefined)[] = ops.map(() => undefined);
  for (const [i, outcome] of settled.entries()) {
    const index = sendable[i]?.index ?? -1;
    const op = ops[index];
    if (op === undefined) continue;
    if (outcome.status === 'rejected') {
      const error: unknown = outcome.reason;
      throw isRouterError(error) ? forOp(error, index, describeOp(op)) : error;
    }
    if (op.op === 'add') ids[index] = outcome.value.done.ret;
  }
  return { ids };
}

interface ManagerOptions {
  target: RouterTarget;
  username: string;
  password: string;
  caCert: string | undefined;
  timeoutMs: number;
  limits?: Partial<RouterLimits>;
  onLimit?: (limit: RouterLimit) => void;
  where: string;
  log: Logger;
  stats: RouterClientStats;
}

/**
 * Keeps at most one session: opened on first use, shared by concurrent callers, reused while it
 * lives. After a failure (a failed connect, or a session that died) the next call reconnects,
 * first waiting out an exponential backoff that restarts after a successful login.
 */
function connectionManager(options: ManagerOptions): { session(): Promise<Session>; close(): Promise<void> } {
  const { log, where } = options;
  let current: Session | undefined;
  let opening: Promise<Session> | undefined;
  let failures = 0;
  let lastFailureAt = 0;
  let closed = false;

  const failed = (): void => {
    failures += 1;
    lastFailureAt = Date.now();
  };

  async function open(): Promise<Session> {
    const backoff = failures === 0 ? 0 : Math.min(BACKOFF_FIRST_MS * 2 ** (failures - 1), BACKOFF_MAX_MS, options.timeoutMs);
    const wait = lastFailureAt + backoff - Date.now();
    if (wait > 0) await new Promise((done) => setTimeout(done, wait));
    try {
      const { target, username, password, caCert, timeoutMs } = options;
      // node-routeros (behind login.js) is loaded on the first connect, not with this module:
      // a process that never talks to a router (serve allocate, the bridge) does not load it.
      const { openLoggedInSocket } = await import('./login.js');
      const socket = await openLoggedInSocket({ target, username, password, timeoutMs, ...(caCert === undefined ? {} : { caCert }) });
      const session = startSession(socket, {
        timeoutMs: options.timeoutMs, where, log,
        ...(options.limits === undefined ? {} : { limits: options.limits }), ...(options.onLimit === undefined ? {} : { onLimit: options.onLimit }),
      });
      options.stats.connects += 1;
      failures = 0;
      log.debug('Connected to the router', { tls: options.target.tls });
      void session.closed.then(() => {
        if (current === session) current = undefined;
        if (!closed) failed();
      });
      if (closed) session.close();
      return session;
    } catch (error) {
      failed();
      log.warn('Cannot connect to the router', { error: messageOf(error), failures });
      throw error;
    }
  }

  return {
    async session() {
      if (closed) throw new RouterError({ kind: 'connection', message: `the client for router ${where} is closed` });
      if (current?.open) return current;
      opening ??= open().finally(() => {
        opening = undefined;
      });
      const session = await opening;
      current = session;
      return session;
    },
    async close() {
      closed = true;
      const session = current ?? (await opening?.catch(() => undefined));
      current = undefined;
      if (session === undefined) return;
      session.close();
      await session.closed;
    },
  };
}

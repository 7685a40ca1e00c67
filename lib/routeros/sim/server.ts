import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { RouterStateSchema, type RouterState } from '../../router/state.js';
import { DEFAULT_MAX_WORD_SIZE } from '../wire/decoder.js';
import { createFaults, FaultState, type RouterSimFaults } from './faults.js';
import type { RouterSimUser } from './login.js';
import { attachSession, type SimContext, type SimCounters } from './session.js';
import { emptyRouter, storeFromState, type RouterStore } from './store.js';

export interface RouterSimOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Serve api-ssl with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Default: `admin` with an empty password, group full. */
  users?: RouterSimUser[];
  /** RouterOS version, e.g. `7.19.1`; decides `!empty` (7.18+). Default: the initial state's, else 7.19.1. */
  version?: string;
  /** Pre-6.43 login: `/login` answers an MD5 challenge. */
  legacyLogin?: boolean;
  /** Configuration to start with; without it the router has only its default interfaces. */
  initialState?: RouterState;
  /** Largest word accepted from clients (default 1 MiB); a larger one drops the connection. */
  maxWordSize?: number;
  /** Keep every command (secrets redacted) for `commandLog()` (default true; the log holds at most 100,000). */
  recordCommands?: boolean;
}

export interface RouterSimStats extends SimCounters {
  openConnections: number;
  commandsByPath: Record<string, number>;
}

export interface RouterSim {
  readonly host: string;
  readonly port: number;
  /** `api://host:port` or `api-ssl://host:port`, as ROUTEROS_URL takes it. */
  readonly url: string;
  readonly faults: RouterSimFaults;
  /** A snapshot of the counters since start (or the last `resetStats`). */
  readonly stats: RouterSimStats;
  resetStats(): void;
  /** Commands received, in order, as words (`=password=`/`=response=` values replaced by `***`). */
  commandLog(): string[][];
  /** The configuration in the RouterState format (deterministic). */
  state(): RouterState;
  /** Replaces the whole configuration (and the version); throws when the state cannot describe a router. */
  seed(state: RouterState): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

const DEFAULT_VERSION = '7.19.1';
const MAX_LOG = 100_000;

function buildStore(state: RouterState | undefined, version: string | undefined): RouterStore {
  if (state === undefined) return emptyRouter(version ?? DEFAULT_VERSION);
  const parsed = RouterStateSchema.safeParse(state);
  if (!parsed.success) throw new Error(`invalid router state: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  const seeded = storeFromState(parsed.data);
  if (!seeded.ok) throw new Error(`invalid router state: ${seeded.message}`);
  if (version !== undefined) seeded.store.version = version;
  return seeded.store;
}

const zeroCounters = (): SimCounters => ({
  connections: 0,
  commands: 0,
  sentencesReceived: 0,
  sentencesSent: 0,
  bytesReceived: 0,
  bytesSent: 0,
});

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

function stopListening(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Starts a RouterOS API simulator (plain TCP, or TLS when given a key and certificate). */
export async function startRouterSim(options: RouterSimOptions = {}): Promise<RouterSim> {
  const host = options.host ?? '127.0.0.1';
  const faultState = new FaultState();
  const counters = zeroCounters();
  let byPath = new Map<string, number>();
  let log: string[][] = [];
  const recording = options.recordCommands ?? true;
  const ctx: SimContext = {
    store: buildStore(options.initialState, options.version),
    users: options.users ?? [{ name: 'admin', password: '', group: 'full' }],
    legacyLogin: options.legacyLogin ?? false,
    faults: faultState,
    counters,
    maxWordSize: options.maxWordSize ?? DEFAULT_MAX_WORD_SIZE,
    record: (words) => {
      const path = words[0] ?? '';
      byPath.set(path, (byPath.get(path) ?? 0) + 1);
      if (recording && log.length < MAX_LOG) log.push(words);
    },
  };
  const sockets = new Set<Socket>();
  const server: Server = options.tls === undefined ? createTcpServer() : createTlsServer({ key: options.tls.key, cert: options.tls.cert });
  // 'connection' sees the raw TCP socket in both cases: refusing here skips the TLS handshake.
  server.on('connection', (raw: Socket) => {
    if (faultState.refuse !== false) {
      if (faultState.refuse === 'reset') raw.resetAndDestroy();
      else raw.destroy();
      return;
    }
    sockets.add(raw);
    // replies go out as they are ready: with Nagle's algorithm the reply to the second of two
    // pipelined commands waited for the client's (delayed) ACK of the first, up to ~40 ms
    raw.setNoDelay(true);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => raw.destroy());
    counters.connections += 1;
    if (options.tls === undefined) attachSession(raw, ctx);
  });
  if (options.tls !== undefined) server.on('secureConnection', (socket: Socket) => attachSession(socket, ctx));
  server.on('tlsClientError', (_error: Error, socket: Socket) => socket.destroy());

  let port = await listen(server, options.port ?? 0, host);
  const faults = createFaults(faultState, {
    goAway: () => stopListening(server, sockets),
    comeBack: async () => {
      if (!server.listening) port = await listen(server, port, host);
    },
  });
  const scheme = options.tls === undefined ? 'api' : 'api-ssl';

  return {
    host,
    get port() {
      return port;
    },
    get url() {
      return `${scheme}://${host}:${port}`;
    },
    faults,
    get stats(): RouterSimStats {
      return { ...counters, openConnections: sockets.size, commandsByPath: Object.fromEntries(byPath) };
    },
    resetStats: () => {
      Object.assign(counters, zeroCounters());
      byPath = new Map();
      log = [];
    },
    commandLog: () => log.map((words) => [...words]),
    state: () => ctx.store.dump(),
    seed: (state) => {
      ctx.store = buildStore(state, undefined);
    },
    close: async () => {
      faultState.clear();
      await stopListening(server, sockets);
    },
  };
}

import { Socket } from 'node:net';
import { Connector, RosException, RouterOSAPI } from './library.js';
import { RouterError } from '../../router/errors.js';
import { createSentenceDecoder } from '../wire/decoder.js';
import { guardReplyParser, neutraliseEmptyReplies } from './patch.js';
import { describeTarget, type RouterTarget } from './url.js';

export interface LoginOptions {
  target: RouterTarget;
  username: string;
  password: string;
  /** PEM; without it api-ssl trusts the system's CAs. */
  caCert?: string;
  timeoutMs: number;
}

type Phase = 'connect' | 'handshake' | 'login';

/**
 * Connects and logs in with routeros-client (node-routeros underneath), which does the TCP/TLS
 * connect and both login styles (>= 6.43, and the pre-6.43 MD5 challenge) reliably. Resolves with
 * the logged-in socket, detached from node-routeros (see `detach`), for the adapter's own command
 * session. Every failure is a RouterError within `timeoutMs`; nothing is left listening.
 */
export function openLoggedInSocket(options: LoginOptions): Promise<Socket> {
  neutraliseEmptyReplies();
  guardReplyParser();
  const { target } = options;
  const where = describeTarget(target);
  const api = new RouterOSAPI({
    host: target.host,
    port: target.port, // explicit: the package defaults to 8728 even with TLS
    user: options.username,
    password: options.password,
    // Its socket timeout is an idle timer; ours (below) decides, this one only backs it up.
    timeout: Math.ceil(options.timeoutMs / 1000) + 1,
    ...(target.tls ? { tls: options.caCert === undefined ? { rejectUnauthorized: true } : { ca: options.caCert, rejectUnauthorized: true } } : {}),
  });
  api.on('error', () => undefined); // an emitted 'error' without a listener would crash the process

  return new Promise<Socket>((resolve, reject) => {
    let phase: Phase = 'connect';
    let socketError: Error | undefined;
    let settled = false;
    const finish = (outcome: Socket | RouterError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (outcome instanceof RouterError) {
        socket?.destroy();
        reject(outcome);
      } else {
        resolve(outcome);
      }
    };
    const timer = setTimeout(
      () => finish(new RouterError({ kind: 'timeout', message: `router ${where} did not complete ${phase} within ${options.timeoutMs} ms` })),
      options.timeoutMs,
    );

    const connecting = api.connect();
    // node-routeros listens for its Connector's 'error' with once(): a second socket error (a TLS
    // failure followed by a reset, on a busy machine) would be emitted with no listener and crash
    // the process. The socket's own listener below records what happened.
    const connector = connectorOf(api);
    connector?.on('error', () => undefined);
    const socket = socketOf(api);
    if (socket === undefined) {
      connecting.catch(() => undefined);
      finish(new RouterError({ kind: 'protocol', message: 'routeros-client internals changed: no socket after connect()' }));
      return;
    }
    if (connector !== undefined) guardConnectorErrors(socket, connector);
    socket.on('error', (error: Error) => {
      socketError ??= error;
    });
    const fatal = fatalReason(socket);
    socket.once('connect', () => {
      phase = target.tls ? 'handshake' : 'login';
    });
    socket.once('secureConnect', () => {
      phase = 'login';
    });
    socket.once('close', () => {
      // Let a rejection from the package (e.g. wrong password) that is already on its way win.
      setImmediate(() => finish(failure(where, phase, socketError, undefined, fatal.reason())));
    });
    connecting.then(
      () => {
        fatal.stop();
        finish(detach(socket) ?? new RouterError({ kind: 'protocol', message: 'routeros-client internals changed: cannot take over the socket' }));
      },
      (error: unknown) => finish(failure(where, phase, socketError, error, fatal.reason())),
    );
  });
}

/**
 * node-routeros keeps its Connector and socket private. They are reached through `Reflect` and
 * checked with `instanceof` (no casts); the package is archived, so these fields will not move.
 */
function connectorOf(api: RouterOSAPI): Connector | undefined {
  const connector: unknown = Reflect.get(api, 'connector');
  return connector instanceof Connector ? connector : undefined;
}

function socketOf(api: RouterOSAPI): Socket | undefined {
  const connector = connectorOf(api);
  const socket: unknown = connector === undefined ? undefined : Reflect.get(connector, 'socket');
  return socket instanceof Socket ? socket : undefined;
}

/**
 * Removes node-routeros's listeners (its bound `onData`, `onEnd`, `onError`, `onTimeout`,
 * `onConnect`) and its idle timer, so its reply parser never sees the adapter's traffic. Node's
 * own listeners are left alone. Verified: a socket still feeding node-routeros is refused.
 */
function detach(socket: Socket): Socket | undefined {
  for (const event of socket.eventNames()) {
    for (const listener of socket.listeners(event)) {
      if (isListener(listener) && listener.name.startsWith('bound on')) socket.off(event, listener);
    }
  }
  socket.setTimeout(0);
  return socket.listenerCount('data') === 0 && socket.listenerCount('timeout') === 0 ? socket : undefined;
}

/**
 * node-routeros's `onError` re-emits a socket error on its Connector, and any `destroy()` of the
 * Connector (after an error, an end or a failed login) removes every Connector listener, ours too.
 * A later socket error (a reset after the server closed a failed TLS handshake) would then be
 * emitted with no listener and crash the process. Its socket listeners are wrapped so they only
 * forward while the Connector still listens; the socket's own listener records the error.
 */
function guardConnectorErrors(socket: Socket, connector: Connector): void {
  for (const event of ['error', 'tlsClientError']) {
    for (const listener of socket.listeners(event)) {
      if (!isListener(listener) || listener.name !== 'bound onError') continue;
      socket.off(event, listener);
      socket.on(event, (error: unknown) => {
        if (connector.listenerCount('error') > 0) listener(error);
      });
    }
  }
}

/**
 * The reason of a `!fatal` the router sends before the login completes (it ends the session,
 * e.g. when it takes no more API sessions): node-routeros only closes the connection on it, and
 * drops the reason. Reads the same bytes as node-routeros, until `stop` (before the socket is
 * handed over, which needs it to have no other 'data' listener).
 */
function fatalReason(socket: Socket): { reason(): string | undefined; stop(): void } {
  const decoder = createSentenceDecoder();
  let reason: string | undefined;
  const onData = (chunk: unknown): void => {
    if (!Buffer.isBuffer(chunk) || decoder.error !== null) return;
    for (const words of decoder.push(chunk).sentences) if (words[0] === '!fatal') reason ??= words.slice(1).join(' ');
  };
  socket.on('data', onData);
  return { reason: () => reason, stop: () => void socket.off('data', onData) };
}

function isListener(value: unknown): value is (...args: unknown[]) => void {
  return typeof value === 'function';
}

function failure(where: string, phase: Phase, socketError: Error | undefined, error: unknown, fatalReason: string | undefined): RouterError {
  const cause = socketError ?? error;
  if (fatalReason !== undefined) {
    return new RouterError({ kind: 'fatal', message: `router ${where} ended the session during ${phase}: ${fatalReason}`, routerMessage: fatalReason, cause });
  }
  if (error instanceof RosException && error.errno === 'CANTLOGIN') {
    return new RouterError({ kind: 'auth', message: `router ${where} refused the login: invalid user name or password`, cause: error });
  }
  if (error instanceof Error && /invalid user name or password|cannot log in/.test(error.message)) {
    return new RouterError({ kind: 'auth', message: `router ${where} refused the login: ${error.message}`, cause: error });
  }
  // any other answer the router gave to /login refuses it: a trap node-routeros passes on as a
  // plain Error (`not enough permissions (9)`: a user without the api policy), not a lost connection
  if (phase === 'login' && socketError === undefined && error instanceof Error && !(error instanceof RosException) && error.message !== '') {
    return new RouterError({ kind: 'auth', message: `router ${where} refused the login: ${error.message}`, cause: error });
  }
  if (phase === 'handshake') {
    const code = socketError !== undefined && 'code' in socketError && typeof socketError.code === 'string' ? ` (${socketError.code})` : '';
    const detail = socketError === undefined ? 'connection closed during the handshake' : `${socketError.message}${code}`;
    return new RouterError({ kind: 'tls', message: `TLS handshake with router ${where} failed: ${detail}`, cause });
  }
  if (error instanceof RosException && error.errno === 'SOCKTMOUT') {
    return new RouterError({ kind: 'timeout', message: `router ${where} did not answer during ${phase}`, cause: error });
  }
  const detail = socketError?.message ?? (error instanceof Error && error.message !== '' ? error.message : 'connection closed');
  const during = phase === 'login' ? 'during login' : 'while connecting';
  return new RouterError({ kind: 'connection', message: `cannot reach router ${where} (${during}): ${detail}`, cause });
}

/**
 * The one error a router reports through the port (`port.ts`): the RouterOS client adapter
 * throws it, the program and release steps recognise it with the predicates below, never by
 * message text or class checks of their own.
 */
export type RouterErrorKind =
  /** The router refused the command (`!trap`): `routerMessage` and `category` say why. */
  | 'trap'
  /** Refused before anything was sent: a non-ASCII word, a malformed id, a bad URL. */
  | 'input'
  /** Connection refused, reset, closed, unreachable. */
  | 'connection'
  /** The router stopped answering within the timeout. */
  | 'timeout'
  /** The router ended the session with `!fatal`. */
  | 'fatal'
  /** The TLS handshake failed (untrusted certificate, wrong hostname). */
  | 'tls'
  /** The router refused the user name or password. */
  | 'auth'
  /** The byte stream was not the RouterOS API protocol. */
  | 'protocol'
  /** A reply went over a bound (items, bytes, one sentence's size): the session was closed. */
  | 'limit';

export interface RouterErrorInit {
  kind: RouterErrorKind;
  message: string;
  /** The router's own text (trap message or `!fatal` reason). */
  routerMessage?: string;
  /** The trap category (0 missing item, 1 bad argument, 2 interrupted, ...), when the router sent one. */
  category?: number;
  /** The command word, e.g. `/ip/firewall/nat/set`. */
  command?: string;
  /** For `execute`: the index of the op that failed. */
  opIndex?: number;
  cause?: unknown;
}

export class RouterError extends Error {
  override readonly name = 'RouterError';
  readonly kind: RouterErrorKind;
  readonly routerMessage: string | undefined;
  readonly category: number | undefined;
  readonly command: string | undefined;
  readonly opIndex: number | undefined;

  constructor(init: RouterErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = init.kind;
    this.routerMessage = init.routerMessage;
    this.category = init.category;
    this.command = init.command;
    this.opIndex = init.opIndex;
  }
}

/** A `!trap` reply (its attributes) as a RouterError. */
export function trapError(command: string, attrs: Readonly<Record<string, string>>): RouterError {
  const routerMessage = attrs.message ?? 'unknown failure';
  const category = attrs.category !== undefined && /^\d+$/.test(attrs.category) ? Number(attrs.category) : undefined;
  return new RouterError({ kind: 'trap', message: `${command}: ${routerMessage}`, routerMessage, category, command });
}

/**
 * The same error, tagged with the `execute` op it belongs to. The message names the op by what
 * it does, not by its index (kept in `opIndex`): the index moves from one run to the next (a
 * retry plans fewer ops), and the message is what the ProgrammingFailed event and condition
 * say, so a repeat of the same failure must read the same to be counted as one.
 */
export function forOp(error: RouterError, opIndex: number, what: string): RouterError {
  return new RouterError({
    kind: error.kind,
    message: `${what} failed: ${error.message}`,
    routerMessage: error.routerMessage,
    category: error.category,
    command: error.command,
    opIndex,
    cause: error,
  });
}

export function isRouterError(error: unknown): error is RouterError {
  return error instanceof RouterError;
}

const trapMatching = (error: unknown, pattern: RegExp): boolean =>
  isRouterError(error) && error.kind === 'trap' && pattern.test(error.routerMessage ?? '');

/** The id named in a write does not exist (`no such item`). */
export function isNotFound(error: unknown): boolean {
  return trapMatching(error, /^no such item/);
}

/** `failure: already have such address` / `... such entry`. */
export function isAlreadyExists(error: unknown): boolean {
  return trapMatching(error, /^failure: already have/);
}

const BAD_ARGUMENT = /^(invalid value|input does not match|unknown parameter|missing value|invalid internal item number|value of .* out of range|expected end of command)/;

/** A value or parameter the router (or the adapter, before sending) does not accept. */
export function isBadArgument(error: unknown): boolean {
  if (!isRouterError(error)) return false;
  if (error.kind === 'input') return true;
  return error.kind === 'trap' && (error.category === 1 || BAD_ARGUMENT.test(error.routerMessage ?? ''));
}

/** The user may not do this (`not enough permissions`, e.g. a read-only group). */
export function isPermission(error: unknown): boolean {
  return trapMatching(error, /^not enough permissions/);
}

const CONNECTION_KINDS: ReadonlySet<RouterErrorKind> = new Set(['connection', 'timeout', 'fatal', 'tls', 'auth', 'protocol', 'limit']);

/** The command did not get an answer from a working session; the next call reconnects. */
export function isConnection(error: unknown): boolean {
  return isRouterError(error) && CONNECTION_KINDS.has(error.kind);
}

/** Login refused: wrong user name or password (a connection error that retrying will not fix). */
export function isAuth(error: unknown): boolean {
  return isRouterError(error) && error.kind === 'auth';
}

/** The router stopped answering. */
export function isTimeout(error: unknown): boolean {
  return isRouterError(error) && error.kind === 'timeout';
}

/** A reply was larger than the client accepts (see RouterLimits). */
export function isLimit(error: unknown): boolean {
  return isRouterError(error) && error.kind === 'limit';
}

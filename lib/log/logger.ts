/** Structured logging: one JSON object per line, Kubernetes-style capitalised messages. */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every entry (e.g. `{ function: 'allocate' }`). */
  child(fields: LogFields): Logger;
}

export interface LogEntry {
  level: LogLevel;
  msg: string;
  fields: LogFields;
}

export interface LogSink {
  write(line: string): unknown;
}

export interface LoggerOptions {
  /** Where lines go; standard error by default. */
  out?: LogSink;
  /** Entries below this level are dropped; `info` by default. */
  level?: LogLevel;
  /** Drop everything (tests, or `--quiet`). */
  silent?: boolean;
  now?: () => Date;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(opts: LoggerOptions = {}): Logger {
  if (opts.silent) return silentLogger();
  const out = opts.out ?? process.stderr;
  const min = RANK[opts.level ?? 'info'];
  const now = opts.now ?? (() => new Date());
  return fromWriter((entry) => {
    if (RANK[entry.level] < min) return;
    out.write(`${formatEntry(entry, now())}\n`);
  });
}

export function silentLogger(): Logger {
  return fromWriter(() => undefined);
}

/** Keeps entries in memory so tests can assert on what was logged. */
export function memoryLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return Object.assign(fromWriter((entry) => void entries.push(entry)), { entries });
}

function fromWriter(write: (entry: LogEntry) => void, base: LogFields = {}): Logger {
  const log = (level: LogLevel) => (msg: string, fields: LogFields = {}) =>
    write({ level, msg: capitalise(msg), fields: { ...base, ...fields } });
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (fields) => fromWriter(write, { ...base, ...fields }),
  };
}

const capitalise = (msg: string): string => msg.charAt(0).toUpperCase() + msg.slice(1);

/** `time`, `level` and `msg` first and never overwritten by a field of the same name. */
export function formatEntry(entry: LogEntry, time: Date): string {
  const head = { time: time.toISOString(), level: entry.level, msg: entry.msg };
  const record = Object.assign({ ...head }, entry.fields, head);
  try {
    return JSON.stringify(record, replaceUnserialisable);
  } catch {
    // A circular field must not take the process down with it.
    return JSON.stringify({ ...head, fields: '[unserialisable]' });
  }
}

function replaceUnserialisable(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

import type { Socket } from 'node:net';
import type { Logger } from '../../log/logger.js';
import type { RouterEntry } from '../../router/state.js';
import { createSentenceDecoder } from '../wire/decoder.js';
import { encodeSentences } from '../wire/sentence.js';
import { RouterError, trapError } from '../../router/errors.js';

/** What a command got back: its `!re` items and the attributes of `!done` (e.g. `ret`), raw strings. */
export interface CommandReply {
  items: RouterEntry[];
  done: Record<string, string>;
}

/** Bounds on what one command may cost; going over one fails the command and closes the session. */
export interface RouterLimits {
  /** From sending a command to its `!done`, however busy the connection (default 60 s). */
  commandTimeoutMs: number;
  /** `!re` items in one reply (default 500,000). */
  maxReplyItems: number;
  /** Bytes of words in one reply (default 64 MiB). */
  maxReplyBytes: number;
  /** Bytes of words in one sentence (default 4 MiB; one word at most 1 MiB). */
  maxSentenceBytes: number;
}

export const DEFAULT_LIMITS: RouterLimits = { commandTimeoutMs: 60_000, maxReplyItems: 500_000, maxReplyBytes: 64 << 20, maxSentenceBytes: 4 << 20 };

/** Which bound a session hit: counted in metrics (`mikrolb_router_limits_total`). */
export type RouterLimit = 'idle' | 'deadline' | 'items' | 'bytes' | 'sentence';

export interface SessionOptions {
  /** Fail every pending command when the router sends nothing for this long. */
  timeoutMs: number;
  limits?: Partial<RouterLimits>;
  /** Told each time a bound is hit (metrics). */
  onLimit?: (limit: RouterLimit) => void;
  /** `host:port`, for messages. */
  where: string;
  log: Logger;
}

/** One logged-in API connection carrying many tagged commands at once. */
export interface Session {
  /** Sends the commands (words, without `.tag`) in one write; one promise per command. */
  send(commands: readonly (readonly string[])[]): Promise<CommandReply>[];
  readonly open: boolean;
  /** Settles once the connection is gone, for whatever reason. */
  readonly closed: Promise<void>;
  close(): void;
}

interface Call {
  command: string;
  items: RouterEntry[];
  bytes: number;
  deadline: NodeJS.Timeout | undefined;
  trap: Record<string, string> | undefined;
  resolve(reply: CommandReply): void;
  reject(error: RouterError): void;
}

/** `=name=value` words as a record with the router's exact names; `.tag` and the reply word are skipped. */
export function attributes(words: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const word of words) {
    if (!word.startsWith('=')) continue;
    const eq = word.indexOf('=', 1);
    if (eq < 0) out[word.slice(1)] = '';
    else out[word.slice(1, eq)] = word.slice(eq + 1);
  }
  return out;
}

const tagOf = (words: readonly string[]): string | undefined => words.find((word) => word.startsWith('.tag='))?.slice(5);

/**
 * The command session over a logged-in socket, built on the wire codec: replies are matched by
 * `.tag` (in any position), `!empty` is skipped, a reply for a tag that is not pending is
 * dropped, `!fatal` and a lost connection fail every pending command at once, and a watchdog
 * fails them when the router goes silent for `timeoutMs` while commands are pending. The socket
 * is unref'd while idle so a kept connection never holds a process open.
 */
export function startSession(socket: Socket, options: SessionOptions): Session {
  const { log, where } = options;
  const limits: RouterLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const decoder = createSentenceDecoder({ maxWordSize: Math.min(1 << 20, limits.maxSentenceBytes), maxSentenceBytes: limits.maxSentenceBytes });
  const hit = (limit: RouterLimit): void => options.onLimit?.(limit);
  const pending = new Map<string, Call>();
  let sequence = 0;
  let corked = false;
  let ending: RouterError | undefined;
  let socketError: Error | undefined;
  let watchdog: NodeJS.Timeout | undefined;
  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((done) => {
    markClosed = done;
  });

  const idle = (): void => {
    if (watchdog !== undefined) clearTimeout(watchdog);
    watchdog = undefined;
    socket.unref();
  };

  const fail = (error: RouterError): void => {
    ending ??= error;
    idle();
    const calls = [...pending.values()];
    pending.clear();
    for (const call of calls) {
      clearTimeout(call.deadline);
      call.reject(error);
    }
    socket.destroy();
  };

  /** One reply went over a bound: it fails with that reason, the others with the closed session. */
  const overLimit = (call: Call, limit: RouterLimit, message: string): void => {
    hit(limit);
    log.warn('A router reply went over a limit; closing the session', { command: call.command, limit, router: where });
    for (const [tag, c] of pending) {
      if (c !== call) continue;
      pending.delete(tag);
      clearTimeout(c.deadline);
    }
    call.reject(new RouterError({ kind: limit === 'deadline' ? 'timeout' : 'limit', message: `router ${where}: ${call.command} ${message}`, command: call.command }));
    fail(new RouterError({ kind: 'connection', message: `the session with router ${where} was closed: another command's reply went over a limit (${limit})` }));
  };

  const onSentence = (words: string[]): void => {
    const reply = words[0];
    if (reply === '!fatal') {
      const reason = words.slice(1).join(' ');
      fail(new RouterError({ kind: 'fatal', message: `router ${where} ended the session: ${reason}`, routerMessage: reason }));
      return;
    }
    const tag = tagOf(words);
    const call = tag === undefined ? undefined : pending.get(tag);
    if (tag === undefined || call === undefined) {
      log.debug('Ignoring a reply for a command that is not pending', { reply, tag, router: where });
      return;
    }
    call.bytes += words.reduce((n, w) => n + w.length, 0);
    if (call.bytes > limits.maxReplyBytes) return overLimit(call, 'bytes', `sent a reply of more than ${limits.maxReplyBytes} bytes`);
    if (reply === '!re') {
      if (call.items.length >= limits.maxReplyItems) return overLimit(call, 'items', `sent more than ${limits.maxReplyItems} items`);
      call.items.push(attributes(words));
    }
    else if (reply === '!trap') call.trap ??= attributes(words);
    else if (reply === '!done') {
      pending.delete(tag);
      clearTimeout(call.deadline);
      if (pending.size === 0) idle();
      if (call.trap === undefined) call.resolve({ items: call.items, done: attributes(words) });
      else call.reject(trapError(call.command, call.trap));
    }
    // `!empty` (RouterOS 7.18+) and any reply word this code does not know: wait for `!done`.
  };

  socket.setNoDelay(true);
  socket.setKeepAlive(true, 30_000);
  socket.on('data', (chunk: Buffer) => {
    watchdog?.refresh();
    const result = decoder.push(chunk);
    for (const words of result.sentences) {
      if (ending !== undefined) return;
      onSentence(words);
    }
    if (result.error !== null) {
      const tooBig = result.error.code === 'SentenceTooLarge' || result.error.code === 'WordTooLarge';
      if (tooBig) hit('sentence');
      fail(new RouterError({ kind: tooBig ? 'limit' : 'protocol', message: `router ${where} sent a ${tooBig ? 'reply over the limit' : 'malformed reply'}: ${result.error.message}` }));
    }
  });
  socket.on('error', (error: Error) => {
    socketError ??= error;
  });
  socket.once('close', () => {
    const detail = socketError === undefined ? 'connection closed' : socketError.message;
    fail(new RouterError({ kind: 'connection', message: `lost the connection to router ${where}: ${detail}`, cause: socketError }));
    markClosed();
  });
  idle();

  const rejected = (command: string, error: RouterError): Promise<CommandReply> => {
    log.debug('Not sending a command', { command, reason: error.message });
    return Promise.reject(error);
  };

  return {
    send(commands) {
      if (ending !== undefined || socket.destroyed) {
        const error = ending ?? new RouterError({ kind: 'connection', message: `the connection to router ${where} is closed` });
        return commands.map((words) => rejected(words[0] ?? '', error));
      }
      const tags = commands.map(() => String(++sequence));
      let bytes: Buffer;
      try {
        bytes = encodeSentences(commands.map((words, i) => [...words, `.tag=${tags[i] ?? ''}`]));
      } catch (error) {
        const refused = new RouterError({ kind: 'input', message: `cannot encode a command for router ${where}: ${String(error)}`, cause: error });
        return commands.map((words) => rejected(words[0] ?? '', refused));
      }
      const replies = commands.map(
        (words, i) =>
          new Promise<CommandReply>((resolve, reject) => {
            const call: Call = { command: words[0] ?? '', items: [], bytes: 0, deadline: undefined, trap: undefined, resolve, reject };
            call.deadline = setTimeout(() => overLimit(call, 'deadline', `did not finish within ${limits.commandTimeoutMs} ms`), limits.commandTimeoutMs);
            pending.set(tags[i] ?? '', call);
          }),
      );
      if (commands.length === 0) return replies;
      socket.ref();
      watchdog ??= setTimeout(() => {
        hit('idle');
        fail(new RouterError({ kind: 'timeout', message: `router ${where} did not answer within ${options.timeoutMs} ms` }));
      }, options.timeoutMs);
      // Commands sent in the same tick (concurrent invocations resuming on one reply) leave in
      // one write: one segment for the router to read instead of one per caller.
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(() => {
          corked = false;
          socket.uncork();
        });
      }
      socket.write(bytes);
      return replies;
    },
    get open() {
      return ending === undefined && !socket.destroyed;
    },
    closed,
    close() {
      fail(new RouterError({ kind: 'connection', message: `the connection to router ${where} was closed by the client` }));
    },
  };
}

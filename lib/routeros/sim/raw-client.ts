import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { createSentenceDecoder } from '../wire/decoder.js';
import { encodeSentence } from '../wire/sentence.js';

/**
 * A deliberately plain API client for tests and diagnostics: it shows replies exactly as sent
 * (words, tags, `!empty`), which the product's adapter hides. Not for production use.
 */
export interface RawReply {
  /** Every sentence of the reply, `.tag` words included. */
  sentences: string[][];
  /** `!re` attributes, one record per item. */
  items: Record<string, string>[];
  /** Attributes of `!done` (e.g. `ret`). */
  done: Record<string, string>;
  trap: { message: string; category?: string } | null;
  empty: boolean;
}

export interface RawClient {
  /** Sends one sentence as is. */
  send(words: readonly string[]): void;
  /** Sends a command with a fresh `.tag` and resolves at its `!done`; rejects on `!fatal` or close. */
  command(words: readonly string[]): Promise<RawReply>;
  /** The next sentence received (in arrival order, whether or not `command` also consumed it). */
  next(): Promise<string[]>;
  login(name: string, password: string): Promise<RawReply>;
  /** Every sentence received so far. */
  readonly received: readonly string[][];
  readonly socket: Socket;
  /** Settles when the server closes the connection. */
  readonly closed: Promise<void>;
  close(): void;
}

export interface RawClientOptions {
  host?: string;
  port: number;
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
}

export function attributes(words: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const word of words) {
    if (!word.startsWith('=')) continue;
    const eq = word.indexOf('=', 1);
    out[eq < 0 ? word.slice(1) : word.slice(1, eq)] = eq < 0 ? '' : word.slice(eq + 1);
  }
  return out;
}

const tagOf = (words: readonly string[]): string | undefined => words.find((w) => w.startsWith('.tag='))?.slice(5);

interface Waiting {
  sentences: string[][];
  resolve(reply: RawReply): void;
  reject(error: Error): void;
}

function toReply(sentences: string[][]): RawReply {
  const trapWords = sentences.find((s) => s[0] === '!trap');
  const trapAttrs = trapWords === undefined ? undefined : attributes(trapWords);
  return {
    sentences,
    items: sentences.filter((s) => s[0] === '!re').map(attributes),
    done: attributes(sentences.find((s) => s[0] === '!done') ?? []),
    trap: trapAttrs === undefined ? null : { message: trapAttrs.message ?? '', ...(trapAttrs.category === undefined ? {} : { category: trapAttrs.category }) },
    empty: sentences.some((s) => s[0] === '!empty'),
  };
}

export function connectRawClient(options: RawClientOptions): Promise<RawClient> {
  const host = options.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const socket: Socket =
      options.tls === undefined
        ? connectTcp({ host, port: options.port })
        : connectTls({ host, port: options.port, ca: options.tls.ca, rejectUnauthorized: options.tls.rejectUnauthorized ?? true, servername: 'localhost' });
    const decoder = createSentenceDecoder({ maxWordSize: 64 << 20 });
    const received: string[][] = [];
    const inbox: string[][] = [];
    const readers: { resolve(words: string[]): void; reject(error: Error): void }[] = [];
    const waiting = new Map<string, Waiting>();
    let sequence = 0;
    let ended = false;

    const failAll = (error: Error): void => {
      for (const entry of waiting.values()) entry.reject(error);
      waiting.clear();
      for (const reader of readers.splice(0)) reader.reject(error);
    };
    const closed = new Promise<void>((done) => socket.once('close', () => {
      ended = true;
      failAll(new Error('connection closed'));
      done();
    }));

    socket.on('data', (chunk: Buffer) => {
      const result = decoder.push(chunk);
      for (const words of result.sentences) {
        received.push(words);
        const reader = readers.shift();
        if (reader === undefined) inbox.push(words);
        else reader.resolve(words);
        if (words[0] === '!fatal') failAll(new Error(`!fatal ${words[1] ?? ''}`));
        const tag = tagOf(words);
        const entry = tag === undefined ? undefined : waiting.get(tag);
        if (tag === undefined || entry === undefined) continue;
        entry.sentences.push(words);
        if (words[0] === '!done') {
          waiting.delete(tag);
          entry.resolve(toReply(entry.sentences));
        }
      }
      if (result.error !== null) socket.destroy(new Error(result.error.message));
    });
    socket.on('error', (error) => failAll(error));

    const client: RawClient = {
      send: (words) => {
        socket.write(encodeSentence(words));
      },
      command: (words) =>
        new Promise((done, fail) => {
          if (ended) return fail(new Error('connection closed'));
          const tag = `t${++sequence}`;
          waiting.set(tag, { sentences: [], resolve: done, reject: fail });
          socket.write(encodeSentence([...words, `.tag=${tag}`]));
        }),
      next: () => {
        const ready = inbox.shift();
        if (ready !== undefined) return Promise.resolve(ready);
        return new Promise((done, fail) => {
          if (ended) fail(new Error('connection closed'));
          else readers.push({ resolve: done, reject: fail });
        });
      },
      login: (name, password) => client.command(['/login', `=name=${name}`, `=password=${password}`]),
      received,
      socket,
      closed,
      close: () => socket.destroy(),
    };
    const ready = options.tls === undefined ? 'connect' : 'secureConnect';
    socket.once(ready, () => resolve(client));
    socket.once('error', reject);
  });
}

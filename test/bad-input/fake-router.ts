import { createServer, type Server, type Socket } from 'node:net';
import { createSentenceDecoder, encodeSentence } from '../../lib/routeros/wire/index.js';

/**
 * A small RouterOS API server on loopback for feeding the client adapter bad replies: it logs
 * everyone in (echoing the login's `.tag`) and answers each command with `misbehave` until
 * `heal()`, then like a router would (`version` 7.19.1), on old and new connections alike.
 */

/** What a misbehaving router does with one command: write bytes, close, or both. */
export type Misbehaviour = (reply: Reply, command: { words: string[]; tag: string }) => void;

export interface Reply {
  /** Writes words as one sentence. */
  sentence(words: readonly string[]): void;
  /** Writes raw bytes. */
  bytes(data: Uint8Array): void;
  /** Ends the connection after what was written. */
  close(): void;
}

export interface FakeRouter {
  url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** The first word of every command received after login, in order. */
  readonly commands: readonly string[];
  /** From now on, answer like a router. */
  heal(): void;
  close(): Promise<void>;
}

export const GOOD_VERSION = '7.19.1';

export interface FakeRouterOptions {
  misbehave: Misbehaviour;
  /** Replaces the login's answer (default: `!done` with the login's tag). */
  login?: Misbehaviour;
}

export async function startFakeRouter(options: FakeRouterOptions): Promise<FakeRouter> {
  const sockets = new Set<Socket>();
  const commands: string[] = [];
  let connections = 0;
  let bad = true;
  const server: Server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined); // the client may reset the connection on purpose
    const reply: Reply = {
      sentence: (words) => void (socket.writable && socket.write(encodeSentence(words))),
      bytes: (data) => void (socket.writable && socket.write(data)),
      close: () => void socket.end(),
    };
    const decoder = createSentenceDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const words of decoder.push(chunk).sentences) {
        const tag = words.find((w) => w.startsWith('.tag='))?.slice(5) ?? '';
        const command = { words, tag };
        if (words[0] === '/login') {
          if (bad && options.login) options.login(reply, command);
          else reply.sentence(tag === '' ? ['!done'] : ['!done', `.tag=${tag}`]);
          continue;
        }
        commands.push(words[0] ?? '');
        if (bad) {
          options.misbehave(reply, command);
        } else {
          behave(reply, command);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `api://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    commands,
    heal() {
      bad = false;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A well-behaved answer: the version for `/system/resource/print`, an empty `!done` otherwise. */
function behave(reply: Reply, { words, tag }: { words: string[]; tag: string }): void {
  if (words[0] === '/system/resource/print') reply.sentence(['!re', `.tag=${tag}`, `=version=${GOOD_VERSION}`]);
  reply.sentence(['!done', `.tag=${tag}`]);
}

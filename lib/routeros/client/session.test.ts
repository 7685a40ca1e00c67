import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { memoryLogger } from '../../log/logger.js';
import { createSentenceDecoder } from '../wire/decoder.js';
import { encodeSentences } from '../wire/sentence.js';
import { isRouterError } from '../../router/errors.js';
import { startSession, type Session } from './session.js';

/** The session against a scripted peer that answers each command with the sentences a test gives. */
interface Peer {
  session: Session;
  /** Commands received so far. */
  received: string[][];
  /** The client's end of the connection. */
  socket: Socket;
  /** Sends raw sentences to the client. */
  reply(sentences: string[][]): void;
  raw(bytes: Buffer): void;
}

const cleanup: (() => void)[] = [];
afterEach(() => cleanup.splice(0).forEach((close) => close()));

async function scripted(timeoutMs = 1_000): Promise<Peer> {
  let peer: Socket | undefined;
  const received: string[][] = [];
  const decoder = createSentenceDecoder();
  const server: Server = createServer((socket) => {
    peer = socket;
    socket.on('data', (chunk: Buffer) => received.push(...decoder.push(chunk).sentences));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const socket = connect({ port, host: '127.0.0.1' });
  await new Promise<void>((done) => socket.once('connect', done));
  while (peer === undefined) await new Promise((done) => setTimeout(done, 5));
  const log = memoryLogger();
  const session = startSession(socket, { timeoutMs, where: 'peer', log });
  cleanup.push(() => {
    socket.destroy();
    peer?.destroy();
    server.close();
  });
  const connected = peer;
  return {
    session,
    received,
    socket,
    reply: (sentences) => connected.write(encodeSentences(sentences)),
    raw: (bytes) => connected.write(bytes),
  };
}

const settle = <T>(promise: Promise<T> | undefined): Promise<T> => promise ?? Promise.reject(new Error('no promise'));

describe('the command session', () => {
  it('tags every command and matches replies by tag in any position and any order', async () => {
    const peer = await scripted();
    const [first, second] = peer.session.send([['/a/print'], ['/b/print', '?x=1']]);
    peer.reply([
      ['!re', '=name=b', '.tag=2'],
      ['!re', '.tag=1', '=name=a', '=comment=x=y', '=empty='],
      ['!done', '.tag=2'],
      ['!done', '.tag=1'],
    ]);
    expect(await settle(first)).toEqual({ items: [{ name: 'a', comment: 'x=y', empty: '' }], done: {} });
    expect(await settle(second)).toEqual({ items: [{ name: 'b' }], done: {} });
    await vi.waitFor(() => expect(peer.received).toEqual([['/a/print', '.tag=1'], ['/b/print', '?x=1', '.tag=2']]));
  });

  it('sends the commands of callers in the same tick in one write, each still answered by its tag', async () => {
    const peer = await scripted();
    const [a] = peer.session.send([['/a/print']]);
    const [b, c] = peer.session.send([['/b/print'], ['/c/print']]);
    expect(peer.socket.writableCorked).toBe(1); // held until the tick ends, then written together
    await new Promise<void>((done) => process.nextTick(done));
    expect(peer.socket.writableCorked).toBe(0);
    await vi.waitFor(() => expect(peer.received.map((w) => w[0])).toEqual(['/a/print', '/b/print', '/c/print']));
    peer.reply([['!re', '=name=c', '.tag=3'], ['!done', '.tag=3'], ['!done', '.tag=1'], ['!re', '=name=b', '.tag=2'], ['!done', '.tag=2']]);
    expect((await settle(a)).items).toEqual([]);
    expect((await settle(b)).items).toEqual([{ name: 'b' }]);
    expect((await settle(c)).items).toEqual([{ name: 'c' }]);
  });

  it('skips !empty and ignores replies for tags that are not pending (no UNREGISTEREDTAG crash)', async () => {
    const peer = await scripted();
    const [call] = peer.session.send([['/ip/address/print']]);
    peer.reply([
      ['!re', '.tag=99', '=stray=yes'],
      ['!done', '.tag=99'],
      ['!done'],
      ['!empty', '.tag=1'],
      ['!done', '.tag=1'],
      ['!trap', '.tag=1', '=message=late'],
    ]);
    expect(await settle(call)).toEqual({ items: [], done: {} });
    const [next] = peer.session.send([['/system/resource/print']]);
    peer.reply([['!done', '.tag=2', '=ret=ok']]);
    expect((await settle(next)).done).toEqual({ ret: 'ok' });
  });

  it('turns a trap into a RouterError after its !done', async () => {
    const peer = await scripted();
    const [call] = peer.session.send([['/ip/address/add', '=address=x']]);
    peer.reply([['!trap', '.tag=1', '=category=1', '=message=invalid value for argument address'], ['!done', '.tag=1']]);
    await expect(settle(call)).rejects.toMatchObject({
      kind: 'trap', category: 1, routerMessage: 'invalid value for argument address', command: '/ip/address/add',
    });
    expect(peer.session.open).toBe(true);
  });

  it('fails every pending command on !fatal, a malformed stream, or silence', async () => {
    const fatal = await scripted();
    const calls = fatal.session.send([['/a/print'], ['/b/print']]);
    fatal.reply([['!fatal', 'too many commands']]);
    for (const call of calls) await expect(settle(call)).rejects.toMatchObject({ kind: 'fatal', routerMessage: 'too many commands' });
    expect(fatal.session.open).toBe(false);
    await expect(settle(fatal.session.send([['/a/print']])[0])).rejects.toMatchObject({ kind: 'fatal' });

    const garbled = await scripted();
    const [call] = garbled.session.send([['/a/print']]);
    garbled.raw(Buffer.from([0xf8, 1, 2, 3]));
    await expect(settle(call)).rejects.toMatchObject({ kind: 'protocol' });

    const silent = await scripted(200);
    const started = performance.now();
    const [waiting] = silent.session.send([['/a/print']]);
    const error: unknown = await settle(waiting).catch((reason: unknown) => reason);
    expect(isRouterError(error) && error.kind).toBe('timeout');
    expect(performance.now() - started).toBeLessThan(600);
    await silent.session.closed;
  });
});

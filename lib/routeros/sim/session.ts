import type { Socket } from 'node:net';
import { createSentenceDecoder } from '../wire/decoder.js';
import { encodeSentence } from '../wire/sentence.js';
import { parseCommand, redactedWords, type ParsedCommand } from './command.js';
import { runMenuCommand } from './commands.js';
import type { FaultState } from './faults.js';
import { login, type RouterSimUser } from './login.js';
import type { Reply } from './print.js';
import type { RouterStore } from './store.js';
import { traps, trapSentence } from './traps.js';

export interface SimCounters {
  connections: number;
  commands: number;
  sentencesReceived: number;
  sentencesSent: number;
  bytesReceived: number;
  bytesSent: number;
}

/** What every connection of one simulator shares. `store` is replaced when the router is re-seeded. */
export interface SimContext {
  store: RouterStore;
  readonly users: readonly RouterSimUser[];
  readonly legacyLogin: boolean;
  readonly faults: FaultState;
  readonly counters: SimCounters;
  readonly maxWordSize: number;
  record(words: string[]): void;
}

interface Pending {
  command: ParsedCommand;
  words: string[];
  readyAt: number;
  cancelled: boolean;
}

const QUIT_REASON = 'session terminated on request';

/**
 * One API connection. Commands run in arrival order (a delay fault postpones each to `readyAt`);
 * `/cancel` runs on arrival so it can interrupt queued or hanging commands. Every reply sentence of
 * a tagged command carries its `.tag`, placed right after the reply word.
 */
export function attachSession(socket: Socket, ctx: SimContext): void {
  const decoder = createSentenceDecoder({ maxWordSize: ctx.maxWordSize });
  const queue: Pending[] = [];
  let parked: Pending[] = [];
  let user: RouterSimUser | undefined;
  let challenge: Buffer | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const shut = (): void => {
    closed = true;
    queue.length = 0;
    parked = [];
    if (timer !== undefined) clearTimeout(timer);
  };

  let dripping: { bytes: Buffer[]; timer: NodeJS.Timeout } | undefined;

  /** The drip fault: one byte every `dripMs`, so the connection is never idle and never done. */
  function drip(data: Buffer): void {
    if (dripping !== undefined) {
      dripping.bytes.push(data);
      return;
    }
    const state = { bytes: [data], timer: setInterval(() => {
      const head = state.bytes[0];
      if (closed || head === undefined) {
        clearInterval(state.timer);
        dripping = undefined;
        return;
      }
      socket.write(head.subarray(0, 1));
      if (head.length > 1) state.bytes[0] = head.subarray(1);
      else state.bytes.shift();
    }, ctx.faults.dripMs) };
    dripping = state;
  }

  let corked = false;

  /**
   * Replies written in one turn of the event loop (the answers to commands a client pipelined)
   * leave in one segment: the socket has no Nagle delay (see server.ts), so without this each
   * reply would be a packet of its own.
   */
  function write(data: Buffer, then?: () => void): void {
    ctx.counters.bytesSent += data.length;
    if (ctx.faults.dripMs > 0 && then === undefined) return drip(data);
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(() => {
        corked = false;
        socket.uncork();
      });
    }
    socket.write(data, then);
  }

  /** The flood fault: `!re` sentences for `tag` until the connection closes or the command is cancelled. */
  function flood(pending: Pending): void {
    const sentence = encodeSentence(['!re', ...(pending.command.tag === undefined ? [] : [`.tag=${pending.command.tag}`]), `=.id=*1`, `=comment=${'f'.repeat(80)}`]);
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => sentence));
    const next = (): void => {
      if (closed || pending.cancelled) return;
      ctx.counters.bytesSent += batch.length;
      if (socket.write(batch)) setImmediate(next);
      else socket.once('drain', next);
    };
    parked.push(pending);
    next();
  }

  function send(reply: Reply, tag: string | undefined): void {
    const chunks: Buffer[] = [];
    for (const sentence of reply) {
      if (closed) return;
      const words = tag === undefined ? sentence : [sentence[0] ?? '', `.tag=${tag}`, ...sentence.slice(1)];
      const encoded = encodeSentence(words);
      const cut = ctx.faults.beforeSentence();
      if (cut !== null) {
        if (cut.partial) chunks.push(encoded.subarray(0, Math.max(1, encoded.length >> 1)));
        shut();
        write(Buffer.concat(chunks), () => socket.destroy());
        return;
      }
      chunks.push(encoded);
      ctx.counters.sentencesSent += 1;
    }
    if (chunks.length > 0) write(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks));
  }

  function fatal(reason: string): void {
    if (closed) return;
    ctx.counters.sentencesSent += 1;
    shut();
    write(encodeSentence(['!fatal', reason]));
    socket.end();
  }

  /**
   * Interrupts the commands `=tag=` names (all without it). A running command's reply comes in
   * a real router's order: its `!trap` (interrupted), `/cancel`'s `!done`, then its own `!done`.
   */
  function cancel(command: ParsedCommand): null {
    const tag = command.attrs.get('tag');
    const hit = (pending: Pending): boolean => tag === undefined || pending.command.tag === tag;
    for (const pending of queue) if (hit(pending)) pending.cancelled = true;
    for (const pending of parked) if (hit(pending)) pending.cancelled = true;
    const interrupted = parked.filter(hit);
    parked = parked.filter((pending) => !hit(pending));
    for (const pending of interrupted) send([trapSentence(traps.interrupted)], pending.command.tag);
    send([['!done']], command.tag);
    for (const pending of interrupted) send([['!done']], pending.command.tag);
    return null;
  }

  function reply(pending: Pending): Reply | null {
    const { command } = pending;
    if (pending.cancelled) return [trapSentence(traps.interrupted), ['!done']];
    const injected = ctx.faults.takeTrap(command.path);
    if (injected !== null) return [trapSentence(injected), ['!done']];
    if (ctx.faults.takeHang(command.path)) {
      parked.push(pending);
      return null;
    }
    if (ctx.faults.takeFlood(command.path)) {
      flood(pending);
      return null;
    }
    const huge = ctx.faults.takeHuge(command.path);
    if (huge !== null) return [['!re', ...Array.from({ length: huge.words }, (_, i) => `=w${i}=${'h'.repeat(Math.max(0, huge.wordBytes - 4 - String(i).length))}`)], ['!done']];
    if (command.path === '/login') {
      const outcome = login(command, ctx.users, ctx.legacyLogin, challenge);
      challenge = outcome.challenge;
      if (outcome.user !== undefined) user = outcome.user;
      return outcome.reply;
    }
    if (user === undefined) return [trapSentence(traps.notLoggedIn), ['!done']];
    if (command.path === '/cancel') return cancel(command);
    return runMenuCommand(command, ctx.store, user.group ?? 'full');
  }

  function execute(pending: Pending): void {
    ctx.counters.commands += 1;
    ctx.record(redactedWords(pending.words));
    const reason = ctx.faults.takeFatal();
    if (reason !== null) return fatal(reason);
    if (pending.command.path === '/quit') return fatal(QUIT_REASON);
    const answer = reply(pending);
    if (answer !== null) send(answer, pending.command.tag);
  }

  function pump(): void {
    if (timer !== undefined) return;
    socket.cork();
    while (!closed && queue.length > 0) {
      const head = queue[0];
      if (head === undefined) break;
      const wait = head.readyAt - Date.now();
      if (wait > 0) {
        timer = setTimeout(() => {
          timer = undefined;
          pump();
        }, wait);
        break;
      }
      queue.shift();
      execute(head);
    }
    process.nextTick(() => socket.uncork());
  }

  function receive(words: string[]): void {
    ctx.counters.sentencesReceived += 1;
    if (words.length === 0 || closed) return; // an empty sentence is a keep-alive
    const pending: Pending = { command: parseCommand(words), words, readyAt: Date.now() + ctx.faults.delayMs, cancelled: false };
    if (pending.command.path === '/cancel') {
      pump();
      execute(pending);
      return;
    }
    queue.push(pending);
    pump();
  }

  socket.on('data', (chunk: Buffer) => {
    if (closed) return;
    ctx.counters.bytesReceived += chunk.length;
    const result = decoder.push(chunk);
    for (const words of result.sentences) receive(words);
    if (result.error !== null && !closed) {
      // A stream that is not the API protocol: a router just drops the connection.
      shut();
      socket.destroy();
    }
  });
  socket.on('close', shut);
  socket.on('error', shut);
}

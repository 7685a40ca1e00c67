import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { untilStopped } from './runtime.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('untilStopped', () => {
  it('resolves on the first SIGINT and takes a repeat right after for the same Ctrl-C', async () => {
    const source = new EventEmitter();
    let stopped = false;
    const done = untilStopped(undefined, { source, sameWithinMs: 100 }).then(() => (stopped = true));
    expect(source.listenerCount('SIGINT')).toBe(1);
    source.emit('SIGINT');
    await done;
    expect(stopped).toBe(true);
    // the copy a launcher relays finds a listener: Node's default would end the process mid-stop
    expect([source.listenerCount('SIGINT'), source.listenerCount('SIGTERM')]).toEqual([1, 1]);
    source.emit('SIGINT');
    // later, a Ctrl-C is a second one: nothing of ours handles it (Node's default leaves at once)
    await pause(200);
    expect([source.listenerCount('SIGINT'), source.listenerCount('SIGTERM')]).toEqual([0, 0]);
  });

  it('never leaves a signal without a listener while it swaps stopping for ignoring (Node would take its default then)', async () => {
    const source = new EventEmitter();
    const emptied: string[] = [];
    source.on('removeListener', (name: string | symbol) => {
      if (typeof name === 'string' && source.listenerCount(name) === 0) emptied.push(name);
    });
    const done = untilStopped(undefined, { source, sameWithinMs: 20 });
    source.emit('SIGINT');
    await done;
    expect(emptied).toEqual([]);
    await pause(60);
    expect(emptied.sort()).toEqual(['SIGINT', 'SIGTERM']);
  });

  it('resolves on SIGTERM too, and on an abort signal without touching the process', async () => {
    const source = new EventEmitter();
    const termed = untilStopped(undefined, { source, sameWithinMs: 10 });
    source.emit('SIGTERM');
    await termed;
    const quiet = new EventEmitter();
    const ac = new AbortController();
    const aborted = untilStopped(ac.signal, { source: quiet });
    expect([quiet.listenerCount('SIGINT'), quiet.listenerCount('SIGTERM')]).toEqual([0, 0]);
    ac.abort();
    await aborted;
  });
});

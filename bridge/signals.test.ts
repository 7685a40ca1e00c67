import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../lib/log/logger.js';
import { stopOnSignals } from './signals.js';

describe('graceful shutdown on signals', () => {
  it('stops the bridge on SIGTERM, then reports, once', async () => {
    const source = new EventEmitter();
    const log = memoryLogger();
    const events: string[] = [];
    const target = { stop: async () => void events.push('stopped') };
    const done = new Promise<NodeJS.Signals>((resolve) => stopOnSignals(target, { log, source, onStopped: resolve }));
    source.emit('SIGTERM');
    expect(await done).toBe('SIGTERM');
    expect(events).toEqual(['stopped']);
    expect(log.entries).toContainEqual(expect.objectContaining({ msg: 'Received signal; shutting down', fields: { signal: 'SIGTERM' } }));
  });

  it('can be removed', () => {
    const source = new EventEmitter();
    const remove = stopOnSignals({ stop: () => Promise.resolve() }, { log: memoryLogger(), source, onStopped: () => undefined });
    expect(source.listenerCount('SIGTERM')).toBe(1);
    remove();
    expect(source.listenerCount('SIGTERM') + source.listenerCount('SIGINT')).toBe(0);
  });
});

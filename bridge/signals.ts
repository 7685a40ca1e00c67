import type { Logger } from '../lib/log/logger.js';

export interface SignalSource {
  once(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
}

/**
 * Stops `target` on SIGTERM or SIGINT (graceful shutdown for the entry points), then calls
 * `onStopped`. Returns a function that removes the handlers.
 */
export function stopOnSignals(
  target: { stop(): Promise<void> },
  opts: { log: Logger; onStopped: (signal: NodeJS.Signals) => void; source?: SignalSource; signals?: readonly NodeJS.Signals[] },
): () => void {
  const source = opts.source ?? process;
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  const handlers = signals.map((signal) => {
    const handler = (): void => {
      opts.log.info('Received signal; shutting down', { signal });
      void target.stop().finally(() => opts.onStopped(signal));
    };
    source.once(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) source.off(signal, handler);
  };
}

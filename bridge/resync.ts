import { resyncInvocation } from '../lib/events/encode.js';
import type { Invocation } from '../lib/events/invocation.js';
import type { Cancel, Clock } from './clock.js';
import type { FunctionName } from './routing.js';

/** Every `intervalMs`, each function gets one `de.mikrolb.resync` event, so drift heals. */
export function startResync(opts: {
  intervalMs: number;
  functions: readonly FunctionName[];
  clock: Clock;
  enqueue: (fn: FunctionName, invocation: Invocation) => void;
}): { stop(): void } {
  let cancel: Cancel | undefined;
  const arm = (): void => {
    cancel = opts.clock.schedule(opts.intervalMs, () => {
      for (const fn of opts.functions) opts.enqueue(fn, resyncInvocation());
      arm();
    });
  };
  arm();
  return { stop: () => cancel?.() };
}

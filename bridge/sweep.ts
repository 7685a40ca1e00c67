import type { Cancel, Clock } from './clock.js';
import type { DispatchResult } from './invoker.js';

/** The least time between two collections asked for by program's lost answers. */
export const SWEEP_INTERVAL_MS = 30_000;
/**
 * How long after a lost answer the collection starts: a command the dead process sent may
 * still be on its way to the router, and a collection that read the router before it landed
 * would leave its entries to the periodic resync.
 */
export const SWEEP_DELAY_MS = 2_000;

/**
 * Program writes the router, then reads the cluster again to take back what it wrote for a
 * Service released meanwhile. A program process that dies between the two leaves those entries
 * behind, and its retried invocation finds the Service gone, with no uid to act on: only
 * release's garbage collection (a resync) finds them. So an invocation of program that gets no
 * answer (the connection lost, the process gone) or a gateway's `502` (Knative's queue-proxy
 * when the container died) asks release for a resync: `delayMs` later, and at most once per
 * `intervalMs` (a crash-looping program is not followed by a collection per invocation; the
 * last one within an interval is covered at its end).
 */
export function crashSweeper(opts: { clock: Clock; intervalMs?: number; delayMs?: number; sweep: () => void }): { lost(): void; stop(): void } {
  const interval = opts.intervalMs ?? SWEEP_INTERVAL_MS;
  const delay = opts.delayMs ?? SWEEP_DELAY_MS;
  let last = -Infinity;
  let pending: Cancel | undefined;
  let stopped = false;
  const run = (): void => {
    pending = undefined;
    last = opts.clock.now();
    opts.sweep();
  };
  return {
    lost() {
      if (pending || stopped) return;
      pending = opts.clock.schedule(Math.max(delay, last + interval - opts.clock.now()), run);
    },
    stop() {
      stopped = true;
      pending?.();
      pending = undefined;
    },
  };
}

/** Whether an answer (or its absence) says the function may have died mid-run. */
export const answerLost = (result: DispatchResult | undefined): boolean => result === undefined || result.status === 502;

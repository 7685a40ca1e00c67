import type { Invocation } from '../lib/events/invocation.js';
import type { Cancel, Clock } from './clock.js';
import type { DispatchResult } from './invoker.js';
import type { FunctionName } from './routing.js';

export interface FakeClock extends Clock {
  /** Moves time forward, firing due timers in order and letting promises settle between. */
  advance(ms: number): Promise<void>;
  /** Lets pending promise callbacks run without moving time. */
  flush(): Promise<void>;
  timers(): number;
}

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

export function fakeClock(start = Date.UTC(2025, 0, 1)): FakeClock {
  let now = start;
  let seq = 0;
  const timers = new Set<Timer>();
  const flush = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  };
  const earliest = (until: number): Timer | undefined => {
    let best: Timer | undefined;
    for (const t of timers) if (t.at <= until && (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq))) best = t;
    return best;
  };
  return {
    now: () => now,
    schedule(ms, fn): Cancel {
      const timer = { at: now + Math.max(0, ms), seq: seq++, fn };
      timers.add(timer);
      return () => void timers.delete(timer);
    },
    async advance(ms) {
      const target = now + ms;
      await flush();
      for (let t = earliest(target); t; t = earliest(target)) {
        timers.delete(t);
        now = Math.max(now, t.at);
        t.fn();
        await flush();
      }
      now = target;
      await flush();
    },
    flush,
    timers: () => timers.size,
  };
}

export interface Call {
  fn: FunctionName;
  invocation: Invocation;
  at: number;
}

export type Script = (call: Call, calls: readonly Call[]) => DispatchResult | Error;

/**
 * A fake set of functions on a fake clock: each call takes `durationMs` of fake time and answers
 * what `script` says (an Error is a network failure).
 */
export function fakeFunctions(clock: Clock, script: Script = () => ({ status: 200 }), durationMs = 10) {
  const calls: Call[] = [];
  let running = 0;
  let maxRunning = 0;
  const dispatch = (fn: FunctionName, invocation: Invocation): Promise<DispatchResult> => {
    const call = { fn, invocation, at: clock.now() };
    calls.push(call);
    running++;
    maxRunning = Math.max(maxRunning, running);
    return new Promise((resolve, reject) => {
      clock.schedule(durationMs, () => {
        running--;
        const answer = script(call, calls);
        if (answer instanceof Error) reject(answer);
        else resolve(answer);
      });
    });
  };
  return { dispatch, calls, maxRunning: () => maxRunning };
}

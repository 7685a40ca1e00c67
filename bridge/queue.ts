import { setMaxListeners } from 'node:events';
import { objectKey } from '../lib/events/identity.js';
import type { Invocation } from '../lib/events/invocation.js';
import type { Logger } from '../lib/log/logger.js';
import { sleep, type Cancel, type Clock } from './clock.js';
import type { DispatchResult } from './invoker.js';
import { FUNCTION_NAMES, type FunctionName } from './routing.js';
import { backoffDelay, deliveryOf, isRefusedCaller, type BackoffPolicy, type Delivery } from './retry.js';

/** How an invocation ended: what its answer means for delivery, or `error` when no answer came. */
export type Settlement = Delivery | 'error';

/** Hooks for metrics; the queue itself knows nothing about exposition. */
export interface QueueObserver {
  coalesced(fn: FunctionName): void;
  /** `hopMs`: event seen → request sent, for first attempts only. */
  dispatched(fn: FunctionName, hopMs: number | undefined): void;
  /** `deliveredMs`: event seen → answer received, for first attempts only. */
  settled(fn: FunctionName, how: Settlement, durationMs: number, deliveredMs: number | undefined): void;
  retried(fn: FunctionName, delayMs: number): void;
  /** An invocation that had found a dependency down succeeded: `woken` others that waited on it are retried now. */
  recovered(fn: FunctionName, woken: number): void;
}

export interface WorkQueueOptions {
  dispatch: (fn: FunctionName, invocation: Invocation, signal: AbortSignal) => Promise<DispatchResult>;
  /** Invocations in flight at once, per function. */
  concurrency: number;
  /** Per-function limits that override `concurrency`. */
  limits?: Partial<Record<FunctionName, number>>;
  retry: BackoffPolicy;
  /** Follow-ups for one object wait this long after the previous start, so bursts coalesce. */
  perObjectIntervalMs: number;
  clock: Clock;
  random: () => number;
  log: Logger;
  observer?: QueueObserver;
  /** Starts paused (a leader elector resumes it). */
  paused?: boolean;
}

export interface LaneStats {
  /** Objects with work not yet in flight (ready, backing off, or waiting to coalesce). */
  depth: number;
  inFlight: number;
}

export interface WorkQueue {
  /**
   * Queues `invocation` for `fn`; coalesces with work already queued for the same object.
   * `delayMs`: not before then, unless work for the object is due sooner (queued already, or
   * added meanwhile with a shorter delay or none: that brings the wait's end forward).
   */
  add(fn: FunctionName, invocation: Invocation, seenAt?: number, delayMs?: number): void;
  /**
   * Drops the work queued for an object (of every function) that is not in flight: a paused
   * queue (a standby replica's) would otherwise keep every object it ever heard of.
   */
  forget(key: string): void;
  pause(): void;
  resume(): void;
  stats(fn: FunctionName): LaneStats;
  /** Stops dispatching; waits up to `deadlineMs` for in-flight work, then aborts it. */
  stop(deadlineMs: number): Promise<{ handedBack: number }>;
}

interface Lane {
  fn: FunctionName;
  items: Map<string, Item>;
  /** Insertion-ordered: first in, first out. */
  ready: Set<Item>;
  inFlight: number;
  /** Items whose last attempt found a dependency down (see isOutage), backing off. */
  outage: Set<Item>;
  /** The one item of `outage` that retries at most every PROBE_MAX_MS, so a recovery is noticed. */
  probe: Item | undefined;
}

interface Item {
  lane: Lane;
  key: string;
  pending: Invocation | undefined;
  seenAt: number | undefined;
  running: boolean;
  attempts: number;
  lastStart: number;
  cancelTimer: Cancel | undefined;
  /** The timer is only a delivery's delay (not the per-object interval, not a retry's backoff). */
  delayed: boolean;
  /** When a delivery's delay ends (while `delayed`). */
  dueAt: number;
  /** While running: the earliest time what arrived meanwhile asked to run (its delay's end). */
  pendingDue: number;
  /** The timer is the per-object interval after a run that left nothing pending: when it ends. */
  idleUntil: number | undefined;
}

type Answer = { ok: true; result: DispatchResult } | { ok: false; error: unknown };

const keyOf = (invocation: Invocation): string => (invocation.type === 'resync' ? 'resync' : objectKey(invocation.ref));

const noObserver: QueueObserver = { coalesced() {}, dispatched() {}, settled() {}, retried() {}, recovered() {} };

/**
 * The longest a lane's probe waits between attempts while a dependency is down. The others
 * waiting on it back off as far as the retry policy allows (RETRY_MAX_DELAY), and are retried
 * at once when the probe, or any of them, gets through.
 */
export const PROBE_MAX_MS = 5_000;

/**
 * An answer that says a dependency is down rather than that this object's work failed: the
 * function (or its gateway) answered 502, 503 or 504 (the router or the API server is
 * unreachable, the function is scaling from zero), did not answer at all, or refused the
 * bridge as a caller (401, 403: every invocation fails alike until the configuration is fixed).
 */
function isOutage(answer: Answer): boolean {
  if (!answer.ok) return true;
  const { status } = answer.result;
  return status === 502 || status === 503 || status === 504 || isRefusedCaller(status);
}

/**
 * One invocation at a time per (function, object); events arriving meanwhile coalesce into one
 * follow-up; at most `concurrency` in flight per function; failures come back with backoff.
 */
export function createWorkQueue(opts: WorkQueueOptions): WorkQueue {
  const { clock, log } = opts;
  const observer = opts.observer ?? noObserver;
  const lanes = new Map<FunctionName, Lane>(FUNCTION_NAMES.map((fn) => [fn, { fn, items: new Map(), ready: new Set(), inFlight: 0, outage: new Set(), probe: undefined }]));
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one listener per invocation in flight, removed when it ends
  let paused = opts.paused ?? false;
  let stopping = false;
  let onIdle: (() => void) | undefined;

  const laneOf = (fn: FunctionName): Lane => {
    const lane = lanes.get(fn);
    if (!lane) throw new Error(`no lane for function ${fn}`);
    return lane;
  };

  function add(fn: FunctionName, invocation: Invocation, seenAt = clock.now(), delayMs = 0): void {
    if (stopping) return;
    const lane = laneOf(fn);
    const key = keyOf(invocation);
    const item = lane.items.get(key) ?? newItem(lane, key);
    if (item.pending) observer.coalesced(fn);
    item.pending = invocation;
    item.seenAt ??= seenAt;
    if (item.running) item.pendingDue = Math.min(item.pendingDue, clock.now() + delayMs);
    if (item.running || lane.ready.has(item)) return;
    if (item.cancelTimer) {
      // never before the per-object interval after the last run ends
      const due = Math.max(clock.now() + delayMs, item.lastStart + opts.perObjectIntervalMs);
      // that interval, with nothing pending: a delivery's delay holds beyond it
      const idle = item.idleUntil !== undefined && due > item.idleUntil;
      // work that may wait less brings a delay's end forward (a backoff it joins)
      if (idle || (item.delayed && due < item.dueAt)) {
        item.cancelTimer();
        delay(item, due);
      }
      return;
    }
    if (delayMs > 0) {
      delay(item, clock.now() + delayMs);
    } else {
      lane.ready.add(item);
      pump(lane);
    }
  }

  /** Holds the item's delivery until `due`. */
  function delay(item: Item, due: number): void {
    item.idleUntil = undefined;
    wakeAt(item, due);
    if (!item.cancelTimer) return; // due already: woken
    item.delayed = true;
    item.dueAt = due;
  }

  function newItem(lane: Lane, key: string): Item {
    const item: Item = { lane, key, pending: undefined, seenAt: undefined, running: false, attempts: 0, lastStart: -Infinity, cancelTimer: undefined, delayed: false, dueAt: Infinity, pendingDue: Infinity, idleUntil: undefined };
    lane.items.set(key, item);
    return item;
  }

  function pump(lane: Lane): void {
    while (!paused && !stopping && lane.inFlight < (opts.limits?.[lane.fn] ?? opts.concurrency)) {
      const next = lane.ready.values().next();
      if (next.done) return;
      lane.ready.delete(next.value);
      start(next.value);
    }
  }

  function start(item: Item): void {
    const { pending: invocation, seenAt, lane } = item;
    if (!invocation) return wake(item);
    const firstAttempt = item.attempts === 0;
    item.pending = undefined;
    item.seenAt = undefined;
    item.pendingDue = Infinity;
    item.running = true;
    lane.inFlight++;
    const started = clock.now();
    item.lastStart = started;
    const since = firstAttempt ? seenAt : undefined;
    observer.dispatched(lane.fn, since === undefined ? undefined : started - since);
    void invoke(lane.fn, invocation).then((answer) => settle(item, invocation, answer, started, since));
  }

  async function invoke(fn: FunctionName, invocation: Invocation): Promise<Answer> {
    let onAbort = (): void => undefined;
    const aborted = new Promise<Answer>((resolve) => {
      onAbort = () => resolve({ ok: false, error: new Error('aborted at shutdown') });
      abort.signal.addEventListener('abort', onAbort, { once: true });
    });
    // Through a promise, so a dispatcher that throws at once is a failure like any other.
    const answered = Promise.resolve()
      .then(() => opts.dispatch(fn, invocation, abort.signal))
      .then(
      (result): Answer => ({ ok: true, result }),
      (error: unknown): Answer => ({ ok: false, error }),
    );
    try {
      return await Promise.race([answered, aborted]);
    } finally {
      abort.signal.removeEventListener('abort', onAbort);
    }
  }

  function settle(item: Item, invocation: Invocation, answer: Answer, started: number, seenAt: number | undefined): void {
    const { lane } = item;
    lane.inFlight--;
    item.running = false;
    const now = clock.now();
    const how: Settlement = answer.ok ? deliveryOf(answer.result.status) : 'error';
    observer.settled(lane.fn, how, now - started, seenAt === undefined ? undefined : now - seenAt);
    const fields = { function: lane.fn, object: item.key, eventId: invocation.id, attempt: item.attempts + 1, ...describe(answer) };
    const waitedOnOutage = leaveOutage(item);
    if (stopping) {
      if (how === 'retry' || how === 'error') item.pending ??= invocation;
    } else if (how === 'retry' || how === 'error') {
      retryLater(item, invocation, answer, fields);
    } else {
      if (how === 'success' && waitedOnOutage) recover(lane);
      if (how === 'reject') log.error('Dropped invocation the function rejected', fields);
      else log.debug('Invoked function', { ...fields, durationMs: now - started });
      item.attempts = 0;
      // what arrived meanwhile keeps its delay (a burst of taken claims stays one count per
      // COUNT_DELAY_MS, not one per invocation's length); the per-object interval in any case
      const interval = item.lastStart + opts.perObjectIntervalMs;
      if (item.pending && item.pendingDue > Math.max(interval, now)) delay(item, item.pendingDue);
      else {
        wakeAt(item, interval);
        if (item.cancelTimer && !item.pending) item.idleUntil = interval;
      }
      item.pendingDue = Infinity;
    }
    pump(lane);
    if (onIdle && inFlight() === 0) onIdle();
  }

  function retryLater(item: Item, invocation: Invocation, answer: Answer, fields: Record<string, unknown>): void {
    item.attempts++;
    item.pending ??= invocation; // a newer event supersedes the failed one
    const retryAfter = answer.ok ? answer.result.retryAfterSeconds : undefined;
    let policy = opts.retry;
    if (isOutage(answer)) {
      const { lane } = item;
      lane.outage.add(item);
      lane.probe ??= item;
      // the probe's backoff stops at PROBE_MAX_MS; a longer Retry-After still holds
      const floorMs = retryAfter !== undefined && Number.isFinite(retryAfter) ? retryAfter * 1000 : 0;
      if (lane.probe === item) policy = { ...policy, maxMs: Math.min(policy.maxMs, Math.max(PROBE_MAX_MS, floorMs)) };
    }
    const delayMs = backoffDelay(item.attempts, policy, opts.random, retryAfter);
    observer.retried(item.lane.fn, delayMs);
    // a function that answered logged why itself (in the controller, in this very log): the
    // bridge's line adds when it tries again; an invocation that got no answer, or whose caller
    // (this bridge) the function refused, is the bridge's to warn of
    const ours = !answer.ok || isRefusedCaller(answer.result.status);
    log[ours ? 'warn' : 'info']('Invoking again after a delay', { ...fields, delayMs });
    wakeAt(item, clock.now() + delayMs);
  }

  /** Whether the item had found a dependency down; it no longer counts as waiting on it. */
  function leaveOutage(item: Item): boolean {
    const { lane } = item;
    if (lane.probe === item) lane.probe = undefined;
    return lane.outage.delete(item);
  }

  /**
   * A dependency that was down answers again: what waits on it is retried now rather than at
   * the end of its backoff (up to RETRY_MAX_DELAY). Each keeps its attempt count, so were the
   * success not the dependency's (an invocation that had nothing to do), each costs one retry
   * and backs off as far as before.
   */
  function recover(lane: Lane): void {
    const waiting = [...lane.outage].filter((i) => !i.running && i.cancelTimer);
    lane.outage.clear();
    lane.probe = undefined;
    if (waiting.length === 0) return;
    observer.recovered(lane.fn, waiting.length);
    log.info('A dependency answered again: retrying the invocations that waited on it now', { function: lane.fn, retrying: waiting.length });
    for (const i of waiting) {
      i.cancelTimer?.();
      wake(i);
    }
  }

  function wakeAt(item: Item, at: number): void {
    const delay = at - clock.now();
    if (delay <= 0) return wake(item);
    item.cancelTimer = clock.schedule(delay, () => {
      item.cancelTimer = undefined;
      wake(item);
    });
  }

  function wake(item: Item): void {
    item.cancelTimer = undefined;
    item.idleUntil = undefined;
    item.delayed = false;
    item.dueAt = Infinity;
    if (!item.pending) {
      item.lane.items.delete(item.key);
      return;
    }
    item.lane.ready.add(item);
    pump(item.lane);
  }

  const inFlight = (): number => [...lanes.values()].reduce((n, lane) => n + lane.inFlight, 0);

  async function stop(deadlineMs: number): Promise<{ handedBack: number }> {
    stopping = true;
    for (const lane of lanes.values()) for (const item of lane.items.values()) item.cancelTimer?.();
    const drained = new Promise<void>((resolve) => {
      onIdle = resolve;
      if (inFlight() === 0) resolve();
    });
    const deadline = new AbortController();
    const timedOut = await Promise.race([drained.then(() => false), sleep(clock, deadlineMs, deadline.signal).then(() => true)]);
    deadline.abort();
    if (timedOut) {
      abort.abort();
      await drained;
    }
    const handedBack = [...lanes.values()].reduce((n, lane) => n + [...lane.items.values()].filter((i) => i.pending).length, 0);
    return { handedBack };
  }

  return {
    add,
    forget(key) {
      for (const lane of lanes.values()) {
        const item = lane.items.get(key);
        if (!item || item.running) continue;
        item.cancelTimer?.();
        item.cancelTimer = undefined;
        lane.ready.delete(item);
        leaveOutage(item);
        lane.items.delete(key);
      }
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const lane of lanes.values()) pump(lane);
    },
    stats(fn) {
      const lane = laneOf(fn);
      let depth = 0;
      for (const item of lane.items.values()) if (item.pending) depth++;
      return { depth, inFlight: lane.inFlight };
    },
    stop,
  };
}

function describe(answer: Answer): Record<string, unknown> {
  if (!answer.ok) return { error: answer.error instanceof Error ? answer.error.message : String(answer.error) };
  const { status, detail } = answer.result;
  return { status, ...(detail === undefined ? {} : { detail }) };
}

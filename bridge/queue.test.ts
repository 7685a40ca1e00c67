import { describe, expect, it } from 'vitest';
import { objectInvocation, resyncInvocation } from '../lib/events/cloudevent.js';
import type { ObjectRef } from '../lib/events/invocation.js';
import { memoryLogger } from '../lib/log/logger.js';
import { createWorkQueue, PROBE_MAX_MS, type WorkQueueOptions } from './queue.js';
import { fakeClock, fakeFunctions, type Call, type Script } from './test-support.js';

const web: ObjectRef = { kind: 'Service', namespace: 'shop', name: 'web' };
const svc = (name: string): ObjectRef => ({ kind: 'Service', namespace: 'shop', name });

function setup(script?: Script, overrides: Partial<WorkQueueOptions> = {}, durationMs = 10) {
  const clock = fakeClock();
  const fns = fakeFunctions(clock, script, durationMs);
  const log = memoryLogger();
  const queue = createWorkQueue({
    dispatch: fns.dispatch,
    concurrency: 8,
    retry: { baseMs: 100, maxMs: 10_000 },
    perObjectIntervalMs: 0,
    clock,
    random: () => 0.5,
    log,
    ...overrides,
  });
  return { clock, fns, log, queue };
}

describe('coalescing', () => {
  it('turns 1,000 events for one object within a second into a handful of invocations', async () => {
    const { clock, fns, queue } = setup(undefined, { perObjectIntervalMs: 250 }, 30);
    for (let i = 0; i < 1000; i++) {
      queue.add('program', objectInvocation('update', web));
      await clock.advance(1);
    }
    await clock.advance(1000);
    expect(fns.calls.length).toBeGreaterThanOrEqual(2);
    expect(fns.calls.length).toBeLessThanOrEqual(6);
  });

  it('sends the latest change once the running invocation is done', async () => {
    const { clock, fns, queue } = setup();
    queue.add('release', objectInvocation('add', web, { id: 'a' }));
    queue.add('release', objectInvocation('update', web, { id: 'b' }));
    queue.add('release', objectInvocation('delete', web, { id: 'c' }));
    await clock.advance(100);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['a', 'c']);
  });

  it('keeps functions apart: the same object goes to each function once', async () => {
    const { clock, fns, queue } = setup();
    for (const fn of ['allocate', 'program', 'release'] as const) queue.add(fn, objectInvocation('add', web));
    await clock.advance(100);
    expect(fns.calls.map((c) => c.fn).sort()).toEqual(['allocate', 'program', 'release']);
  });
  it('holds a delayed change until its time, coalescing what arrives meanwhile into one invocation', async () => {
    const { clock, fns, queue } = setup();
    const lan: ObjectRef = { kind: 'IPPool', name: 'lan' };
    for (let i = 0; i < 5; i++) {
      queue.add('allocate', objectInvocation('update', lan, { id: `c${i}` }), undefined, 1000);
      await clock.advance(100);
    }
    expect(fns.calls).toEqual([]);
    await clock.advance(499);
    expect(fns.calls).toEqual([]);
    await clock.advance(100);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['c4']);
  });

  it('runs a delayed change at once when work for the object is already due', async () => {
    const { clock, fns, queue } = setup(undefined, { paused: true });
    queue.add('allocate', objectInvocation('update', web, { id: 'now' }));
    queue.add('allocate', objectInvocation('update', web, { id: 'later' }), undefined, 1000);
    queue.resume();
    await clock.advance(20);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['later']);
  });

  it('ends a delay when a change that may not wait arrives', async () => {
    const { clock, fns, queue } = setup();
    const lan: ObjectRef = { kind: 'IPPool', name: 'lan' };
    queue.add('allocate', objectInvocation('update', lan, { id: 'claim' }), undefined, 1000);
    await clock.advance(100);
    expect(fns.calls).toEqual([]);
    queue.add('allocate', objectInvocation('update', lan, { id: 'spec' }));
    await clock.advance(20);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['spec']);
    await clock.advance(2000);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['spec']);
  });

  it('brings a delay\'s end forward when a change that may wait less arrives, and never pushes it back', async () => {
    const { clock, fns, queue } = setup();
    const lan: ObjectRef = { kind: 'IPPool', name: 'lan' };
    queue.add('allocate', objectInvocation('update', lan, { id: 'taken' }), undefined, 5000);
    await clock.advance(1000);
    queue.add('allocate', objectInvocation('update', lan, { id: 'freed' }), undefined, 1000);
    await clock.advance(900);
    expect(fns.calls).toEqual([]);
    await clock.advance(200);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['freed']);
    // a longer delay joins a shorter one already running
    queue.add('allocate', objectInvocation('update', lan, { id: 'freed-2' }), undefined, 1000);
    await clock.advance(100);
    queue.add('allocate', objectInvocation('update', lan, { id: 'taken-2' }), undefined, 5000);
    await clock.advance(1000);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['freed', 'taken-2']);
    await clock.advance(10_000);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['freed', 'taken-2']);
  });

  it('keeps the delay of a change that arrives while the object\'s invocation runs', async () => {
    const { clock, fns, queue } = setup(undefined, { perObjectIntervalMs: 250 }, 500);
    const lan: ObjectRef = { kind: 'IPPool', name: 'lan' };
    queue.add('allocate', objectInvocation('update', lan, { id: 'first' }));
    await clock.advance(100);
    // taken claims while the first invocation runs (500 ms): not before 5 s from now
    queue.add('allocate', objectInvocation('update', lan, { id: 'count' }), undefined, 5000);
    await clock.advance(4800);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['first']);
    await clock.advance(300);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['first', 'count']);
    // a freed claim while it runs brings the follow-up forward again
    queue.add('allocate', objectInvocation('update', lan, { id: 'count-2' }), undefined, 5000);
    await clock.advance(100);
    queue.add('allocate', objectInvocation('update', lan, { id: 'freed' }), undefined, 1000);
    await clock.advance(1000);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['first', 'count', 'freed']);
  });

  it('keeps the delay of a change that arrives in the per-object interval after a run', async () => {
    const { clock, fns, queue } = setup(undefined, { perObjectIntervalMs: 250 }, 10);
    const lan: ObjectRef = { kind: 'IPPool', name: 'lan' };
    queue.add('allocate', objectInvocation('update', lan, { id: 'first' }));
    await clock.advance(50); // the run ended; its interval has 200 ms to go
    queue.add('allocate', objectInvocation('update', lan, { id: 'count' }), undefined, 5000);
    await clock.advance(4900);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['first']);
    await clock.advance(100);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['first', 'count']);
    // a change that may not wait, in the interval, still waits for the interval only
    await clock.advance(50);
    queue.add('allocate', objectInvocation('update', lan, { id: 'spec' }));
    await clock.advance(150);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['first', 'count']);
    await clock.advance(60);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['first', 'count', 'spec']);
    // nor does one that arrives after a delayed one in the interval: it ends the delay, not the interval
    await clock.advance(20);
    queue.add('allocate', objectInvocation('update', lan, { id: 'count-2' }), undefined, 5000);
    queue.add('allocate', objectInvocation('update', lan, { id: 'spec-2' }));
    await clock.advance(150);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['first', 'count', 'spec']);
    await clock.advance(100);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['first', 'count', 'spec', 'spec-2']);
  });

  it('keeps a per-object interval even for a change that may not wait', async () => {
    const { clock, fns, queue } = setup(undefined, { perObjectIntervalMs: 250 });
    queue.add('allocate', objectInvocation('update', web, { id: 'first' }));
    await clock.advance(20);
    queue.add('allocate', objectInvocation('update', web, { id: 'second' }));
    await clock.advance(100);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['first']);
    await clock.advance(200);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['first', 'second']);
  });

  it('coalesces resync events like any other', async () => {
    const { clock, fns, queue } = setup(undefined, {}, 100);
    for (let i = 0; i < 10; i++) queue.add('allocate', resyncInvocation());
    await clock.advance(1_000);
    expect(fns.calls.map((c) => c.invocation.type)).toEqual(['resync', 'resync']);
  });
});

describe('serialization and concurrency', () => {
  it('never runs two invocations for one object at once', async () => {
    const { clock, fns, queue } = setup(undefined, {}, 50);
    queue.add('allocate', objectInvocation('add', web));
    await clock.advance(10);
    queue.add('allocate', objectInvocation('update', web));
    await clock.advance(10);
    expect(fns.calls).toHaveLength(1);
    await clock.advance(100);
    expect(fns.calls).toHaveLength(2);
    expect(fns.calls[1]!.at - fns.calls[0]!.at).toBeGreaterThanOrEqual(50);
  });

  it('holds at most `concurrency` invocations in flight per function', async () => {
    const { clock, fns, queue } = setup(undefined, { concurrency: 3 }, 20);
    for (let i = 0; i < 30; i++) queue.add('program', objectInvocation('add', svc(`s${i}`)));
    await clock.advance(10);
    expect(queue.stats('program')).toEqual({ depth: 27, inFlight: 3 });
    await clock.advance(1000);
    expect(fns.calls).toHaveLength(30);
    expect(fns.maxRunning()).toBe(3);
  });

  it('dispatches nothing while paused and everything queued once resumed', async () => {
    const { clock, fns, queue } = setup(undefined, { paused: true });
    for (let i = 0; i < 5; i++) queue.add('allocate', objectInvocation('add', svc(`s${i}`)));
    await clock.advance(1000);
    expect(fns.calls).toHaveLength(0);
    queue.resume();
    await clock.advance(100);
    expect(fns.calls).toHaveLength(5);
  });

  it('forgets what is queued for an object, of every function, whether ready or delayed, but not what is in flight', async () => {
    const { clock, fns, queue } = setup(undefined, { paused: true }, 50);
    queue.add('allocate', objectInvocation('update', svc('gone')));
    queue.add('program', objectInvocation('update', svc('gone')), undefined, 5_000);
    queue.add('program', objectInvocation('update', svc('kept')));
    queue.forget('Service/shop/gone');
    expect([queue.stats('allocate').depth, queue.stats('program').depth]).toEqual([0, 1]);
    queue.resume();
    await clock.advance(10_000);
    expect(fns.calls.map((c) => `${c.fn} ${c.invocation.type === 'object' ? c.invocation.ref.name : ''}`)).toEqual(['program kept']);

    queue.add('release', objectInvocation('update', svc('busy')));
    await clock.advance(10); // in flight for 50 ms
    queue.forget('Service/shop/busy');
    await clock.advance(100);
    expect(queue.stats('release')).toEqual({ depth: 0, inFlight: 0 });
    expect(fns.calls.filter((c) => c.fn === 'release')).toHaveLength(1);
  });
});

describe('retries', () => {
  it('retries a 503 with growing delays until it succeeds', async () => {
    const { clock, fns, queue } = setup((_, calls) => ({ status: calls.length <= 5 ? 503 : 200 }));
    queue.add('program', objectInvocation('update', web));
    await clock.advance(60_000);
    expect(fns.calls).toHaveLength(6);
    const gaps = fns.calls.slice(1).map((c, i) => c.at - fns.calls[i]!.at);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThan(gaps[i - 1]!);
  });

  it('honours Retry-After as the least delay', async () => {
    const { clock, fns, queue } = setup((_, calls) => (calls.length === 1 ? { status: 429, retryAfterSeconds: 7 } : { status: 200 }));
    queue.add('allocate', objectInvocation('update', web));
    await clock.advance(30_000);
    expect(fns.calls).toHaveLength(2);
    expect(fns.calls[1]!.at - fns.calls[0]!.at).toBeGreaterThanOrEqual(7_000);
  });

  it.each([404, 408, 409, 429, 500, 502, 503])('retries status %i', async (status) => {
    const { clock, fns, queue } = setup((_, calls) => ({ status: calls.length === 1 ? status : 200 }));
    queue.add('allocate', objectInvocation('update', web));
    await clock.advance(10_000);
    expect(fns.calls).toHaveLength(2);
  });

  it('a retry the function answered is logged at info (the function warned of it itself, in the same log in the controller); one that got no answer warns', async () => {
    const answered = setup((_, calls) => (calls.length === 1 ? { status: 503, detail: '{"error":"router away"}' } : { status: 200 }));
    answered.queue.add('program', objectInvocation('update', web));
    await answered.clock.advance(10_000);
    const retried = (entries: typeof answered.log.entries) => entries.filter((e) => e.msg === 'Invoking again after a delay').map((e) => e.level);
    expect(retried(answered.log.entries)).toEqual(['info']);
    const lost = setup((_, calls) => (calls.length === 1 ? new Error('socket hang up') : { status: 200 }));
    lost.queue.add('program', objectInvocation('update', web));
    await lost.clock.advance(10_000);
    expect(retried(lost.log.entries)).toEqual(['warn']);
    expect(lost.log.entries.find((e) => e.msg === 'Invoking again after a delay')?.fields).toMatchObject({ error: 'socket hang up', attempt: 1 });
  });

  it.each([400, 410, 413, 422])('logs and drops status %i', async (status) => {
    const { clock, fns, queue, log } = setup(() => ({ status, detail: '{"error":"bad event"}' }));
    queue.add('allocate', objectInvocation('update', web));
    await clock.advance(60_000);
    expect(fns.calls).toHaveLength(1);
    expect(log.entries).toContainEqual(expect.objectContaining({ level: 'error', fields: expect.objectContaining({ status, object: 'Service/shop/web' }) }));
    expect(queue.stats('allocate').depth).toBe(0);
  });

  it('retries a network error', async () => {
    const { clock, fns, queue } = setup((_, calls) => (calls.length < 3 ? new Error('ECONNREFUSED') : { status: 200 }));
    queue.add('release', objectInvocation('delete', web));
    await clock.advance(10_000);
    expect(fns.calls).toHaveLength(3);
  });

  it('retries a dispatcher that throws instead of rejecting', async () => {
    const clock = fakeClock();
    let calls = 0;
    const queue = createWorkQueue({
      dispatch: () => {
        if (++calls === 1) throw new Error('synchronous failure');
        return Promise.resolve({ status: 200 });
      },
      concurrency: 1, retry: { baseMs: 100, maxMs: 1_000 }, perObjectIntervalMs: 0, clock, random: () => 0.5, log: memoryLogger(),
    });
    queue.add('program', objectInvocation('update', web));
    await clock.advance(1_000);
    expect(calls).toBe(2);
    expect(queue.stats('program')).toEqual({ depth: 0, inFlight: 0 });
  });

  it('retries the newest event when one arrived during a failed attempt', async () => {
    const { clock, fns, queue } = setup((_, calls) => ({ status: calls.length === 1 ? 503 : 200 }), {}, 50);
    queue.add('program', objectInvocation('update', web, { id: 'old' }));
    await clock.advance(10);
    queue.add('program', objectInvocation('update', web, { id: 'new' }));
    await clock.advance(10_000);
    expect(fns.calls.map((c) => c.invocation.id)).toEqual(['old', 'new']);
  });
});

describe('a dependency that comes back', () => {
  const LONG = { retry: { baseMs: 100, maxMs: 60_000 } };
  const UP = 10 * 60_000; // the router answers again ten minutes in
  const byObject = (calls: readonly Call[]) => {
    const at = new Map<string, number[]>();
    for (const c of calls) if (c.invocation.type === 'object') at.set(c.invocation.ref.name, [...(at.get(c.invocation.ref.name) ?? []), c.at]);
    return at;
  };

  it('retries what waited on it within the probe interval of its return, not at the end of each backoff', async () => {
    const { clock, fns, queue, log } = setup((call) => ({ status: call.at - START < UP ? 503 : 200 }), LONG);
    const START = clock.now();
    for (let i = 0; i < 20; i++) queue.add('program', objectInvocation('update', svc(`s${i}`)));
    await clock.advance(UP + 60_000);
    const answered = [...byObject(fns.calls).values()].map((at) => at.at(-1)! - START);
    expect(answered).toHaveLength(20);
    // without the probe the first retry after UP would come 22.5–45 s later (the backoff at its cap)
    for (const t of answered) expect(t).toBeGreaterThanOrEqual(UP);
    for (const t of answered) expect(t).toBeLessThanOrEqual(UP + PROBE_MAX_MS + 100);
    expect(queue.stats('program')).toEqual({ depth: 0, inFlight: 0 });
    expect(log.entries).toContainEqual(expect.objectContaining({ level: 'info', fields: expect.objectContaining({ function: 'program', retrying: 19 }) }));
  });

  it('lets one invocation per function probe while the others back off to RETRY_MAX_DELAY', async () => {
    const { clock, fns, queue } = setup(() => ({ status: 503 }), LONG);
    for (let i = 0; i < 20; i++) queue.add('program', objectInvocation('update', svc(`s${i}`)));
    await clock.advance(UP);
    const gaps = [...byObject(fns.calls).values()].map((at) => at.at(-1)! - at.at(-2)!);
    expect(gaps.filter((g) => g <= PROBE_MAX_MS)).toHaveLength(1);
    expect(gaps.filter((g) => g >= 45_000 - 20)).toHaveLength(19);
    // ten minutes: each object's backoff alone is ~22 attempts (440 for 20), the probe ~160 more;
    // were every object probing, it would be 20 × 160
    expect(fns.calls.length).toBeLessThan(20 * 25 + UP / (PROBE_MAX_MS / 2));
  });

  it('counts a function refusing the bridge (401, 403) as one: warned of, probed, and all retried within seconds of the fix', async () => {
    for (const status of [401, 403]) {
      const { clock, fns, queue, log } = setup((call) => ({ status: call.at - START < UP ? status : 200 }), LONG);
      const START = clock.now();
      for (let i = 0; i < 20; i++) queue.add('allocate', objectInvocation('update', svc(`s${i}`)));
      await clock.advance(UP + 60_000);
      const answered = [...byObject(fns.calls).values()].map((at) => at.at(-1)! - START);
      expect(answered).toHaveLength(20);
      for (const t of answered) expect(t).toBeGreaterThanOrEqual(UP);
      for (const t of answered) expect(t).toBeLessThanOrEqual(UP + PROBE_MAX_MS + 100);
      expect(queue.stats('allocate')).toEqual({ depth: 0, inFlight: 0 });
      expect(log.entries.filter((e) => e.msg === 'Invoking again after a delay').every((e) => e.level === 'warn')).toBe(true);
      expect(log.entries.filter((e) => e.level === 'error')).toEqual([]);
    }
  });

  it('still honours a Retry-After longer than the probe interval', async () => {
    const { clock, fns, queue } = setup(() => ({ status: 503, retryAfterSeconds: 20 }), LONG);
    queue.add('program', objectInvocation('update', web));
    await clock.advance(100_000);
    const gaps = fns.calls.slice(1).map((c, i) => c.at - fns.calls[i]!.at);
    expect(gaps.length).toBeGreaterThanOrEqual(3);
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(20_000);
  });

  it('does not count a conflict or a failure as an outage: those keep their backoff', async () => {
    const { clock, fns, queue } = setup((call) => {
      if (call.invocation.type === 'object' && call.invocation.ref.name === 'busy') return { status: 409 };
      return { status: call.at - START < 60_000 ? 503 : 200 };
    }, LONG);
    const START = clock.now();
    queue.add('program', objectInvocation('update', svc('busy')));
    queue.add('program', objectInvocation('update', svc('down')));
    await clock.advance(5 * 60_000);
    const busy = byObject(fns.calls).get('busy')!;
    const gaps = busy.slice(1).map((t, i) => t - busy[i]!);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThanOrEqual(gaps[i - 1]!);
  });

  it('keeps each woken invocation\'s attempts: a success that was not the dependency\'s costs one retry each', async () => {
    // "idle" found the router down once, then had nothing to do; the router never came back
    const { clock, fns, queue, log } = setup((call, calls) => {
      const idle = call.invocation.type === 'object' && call.invocation.ref.name === 'idle';
      return { status: idle && calls.filter((c) => c.invocation.type === 'object' && c.invocation.ref.name === 'idle').length > 1 ? 200 : 503 };
    }, LONG);
    for (let i = 0; i < 5; i++) queue.add('program', objectInvocation('update', svc(`s${i}`)));
    await clock.advance(5 * 60_000);
    const before = fns.calls.length;
    queue.add('program', objectInvocation('update', svc('idle')));
    await clock.advance(10_000);
    expect(log.entries).toContainEqual(expect.objectContaining({ fields: expect.objectContaining({ retrying: expect.any(Number) }) }));
    const woken = fns.calls.slice(before).filter((c) => c.invocation.type === 'object' && c.invocation.ref.name !== 'idle');
    // the probe among the five may have retried meanwhile; the others once each, on the wake
    expect(woken.length).toBeGreaterThanOrEqual(4);
    expect(woken.length).toBeLessThanOrEqual(7);
    const after = fns.calls.length;
    await clock.advance(20_000);
    // back at their long backoff: only the (new) probe retries in the next 20 s
    const next = fns.calls.slice(after).map((c) => (c.invocation.type === 'object' ? c.invocation.ref.name : ''));
    expect(new Set(next).size).toBeLessThanOrEqual(1);
  });
});

describe('shutdown', () => {
  it('finishes in-flight work within the deadline', async () => {
    const { clock, fns, queue } = setup(undefined, {}, 100);
    queue.add('allocate', objectInvocation('add', web));
    await clock.advance(10);
    const stopped = queue.stop(5_000);
    await clock.advance(200);
    await expect(stopped).resolves.toEqual({ handedBack: 0 });
    expect(fns.calls).toHaveLength(1);
  });

  it('hands back what did not finish by the deadline', async () => {
    const { clock, queue } = setup(undefined, { concurrency: 1 }, 60_000);
    queue.add('allocate', objectInvocation('add', svc('a')));
    queue.add('allocate', objectInvocation('add', svc('b')));
    await clock.advance(10);
    const stopped = queue.stop(1_000);
    await clock.advance(1_000);
    await expect(stopped).resolves.toEqual({ handedBack: 2 });
  });
});

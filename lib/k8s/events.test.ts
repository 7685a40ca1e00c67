import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { isConflict, isInvalid, isNotFound, KubeError } from './errors.js';
import { EVENT_HEARTBEAT_MS, eventName, eventObject, recordEventIn, SERIES_ATTEMPTS, type EventStore } from './events.js';
import { memoryEvents } from './memory-events.js';
import { memoryPort } from './memory.js';
import type { EventRecord } from './port.js';

const T0 = new Date('2026-02-01T10:00:00.123Z');
const MINUTE = 60_000;

/** A clock the test moves. */
function clock(start = T0) {
  let t = start.getTime();
  return { now: () => new Date(t), advance: (ms: number) => void (t += ms) };
}

const regarding = { kind: 'IPAllocation' as const, name: 'ip-013a2986c760', uid: 'u1' };
const programmed: EventRecord = { regarding, type: 'Normal', reason: 'Programmed', note: 'Address 192.0.2.6 is advertised on interface ether1.', action: 'Program', occurs: 'onChange' };
const failed: EventRecord = { regarding, type: 'Warning', reason: 'ProgrammingFailed', note: 'The router refused or did not answer: x', action: 'Program', occurs: 'onChange' };
const invalidAnnotation: EventRecord = { regarding: { kind: 'Service', name: 'web', namespace: 'shop', uid: 'u2' }, type: 'Warning', reason: 'AnnotationInvalid', note: 'mikrolb.de/snat-ips: "x" is not a valid IP address; ignoring it', action: 'Allocate' };

const Stored = z.object({
  metadata: z.object({ name: z.string(), namespace: z.string(), resourceVersion: z.string() }).loose(),
  eventTime: z.string(),
  note: z.string(),
  series: z.object({ count: z.number(), lastObservedTime: z.string() }).optional(),
}).loose();

function setup() {
  const c = clock();
  const mem = memoryEvents(c.now);
  const calls = { replace: 0 };
  const store: EventStore = { ...mem.store, replace: (ev) => (calls.replace++, mem.store.replace(ev)) };
  const record = (e: EventRecord) => recordEventIn(store, e, { now: c.now, instance: 'mikrolb' });
  const stored = async (e: EventRecord) => Stored.parse(await mem.store.get(e.regarding.namespace ?? 'default', eventName(e)));
  return { ...c, mem, store, calls, record, stored };
}

describe('recordEventIn: a repeat is counted on the event (its series)', () => {
  it('Programmed, ProgrammingFailed, Programmed again: the second Programmed counts, observed last', async () => {
    const s = setup();
    await s.record(programmed);
    s.advance(35 * MINUTE);
    await s.record(failed);
    s.advance(4 * MINUTE);
    await s.record(programmed);
    const p = await s.stored(programmed);
    expect(p.series).toEqual({ count: 2, lastObservedTime: '2026-02-01T10:39:00.123000Z' });
    expect(p.eventTime).toBe('2026-02-01T10:00:00.123000Z'); // the first observation stays
    expect((await s.stored(failed)).series).toBeUndefined();
    expect(s.mem.events.map((e) => [e.reason, e.count])).toEqual([['Programmed', 2], ['ProgrammingFailed', undefined]]);
  });

  it('an onChange event counts every repeat, however soon', async () => {
    const s = setup();
    await s.record(programmed);
    await s.record(programmed);
    s.advance(1);
    await s.record(programmed);
    expect((await s.stored(programmed)).series).toEqual({ count: 3, lastObservedTime: '2026-02-01T10:00:00.124000Z' });
  });

  it('an everyRun event (the default) moves its series at most once per heartbeat: a resync soon after writes nothing', async () => {
    const s = setup();
    await s.record(invalidAnnotation);
    const first = (await s.stored(invalidAnnotation)).metadata.resourceVersion;
    s.advance(EVENT_HEARTBEAT_MS - 1);
    await s.record(invalidAnnotation);
    expect(s.calls.replace).toBe(0);
    expect((await s.stored(invalidAnnotation)).metadata.resourceVersion).toBe(first);
    s.advance(1);
    await s.record(invalidAnnotation);
    expect((await s.stored(invalidAnnotation)).series).toEqual({ count: 2, lastObservedTime: '2026-02-01T10:05:00.123000Z' });
    s.advance(MINUTE);
    await s.record(invalidAnnotation); // within the heartbeat of the last observation, not of the first
    s.advance(4 * MINUTE);
    await s.record(invalidAnnotation);
    expect((await s.stored(invalidAnnotation)).series).toEqual({ count: 3, lastObservedTime: '2026-02-01T10:10:00.123000Z' });
    expect(s.calls.replace).toBe(2);
  });

  it('a concurrent writer moved the event meanwhile: re-reads and counts on top of it', async () => {
    const s = setup();
    await s.record(programmed);
    let raced = false;
    const racing: EventStore = {
      ...s.store,
      async replace(ev) {
        if (!raced) {
          raced = true;
          await recordEventIn(s.mem.store, programmed, { now: s.now, instance: 'other' });
        }
        return s.store.replace(ev);
      },
    };
    await recordEventIn(racing, programmed, { now: s.now, instance: 'mikrolb' });
    expect(s.calls.replace).toBe(2); // the first refused (stale resourceVersion), the second on the fresh read
    expect((await s.stored(programmed)).series?.count).toBe(3);
  });

  it('gives up quietly after a few conflicts: the winners moved the series themselves', async () => {
    const s = setup();
    await s.record(programmed);
    let tries = 0;
    const losing: EventStore = { ...s.store, replace: async () => { tries++; throw new KubeError('the object has been modified', 409, 'Conflict'); } };
    await expect(recordEventIn(losing, programmed, { now: s.now, instance: 'mikrolb' })).resolves.toBeUndefined();
    expect(tries).toBe(SERIES_ATTEMPTS);
  });

  it('the event expired between the read and the write: this occurrence is a new event', async () => {
    const s = setup();
    await s.record(programmed);
    s.advance(2 * MINUTE);
    const expiring: EventStore = { ...s.store, replace: async (ev) => { s.mem.expire('default', eventName(programmed)); return s.store.replace(ev); } };
    await recordEventIn(expiring, programmed, { now: s.now, instance: 'mikrolb' });
    const again = await s.stored(programmed);
    expect(again.series).toBeUndefined();
    expect(again.eventTime).toBe('2026-02-01T10:02:00.123000Z');
  });

  it('a repeat an earlier version\'s RBAC may not count (events: create only) goes uncounted, failing nothing', async () => {
    const s = setup();
    await s.record(programmed);
    for (const where of ['get', 'replace'] as const) {
      const forbidden: EventStore = { ...s.store, [where]: async () => { throw new KubeError('events.events.k8s.io is forbidden', 403, 'Forbidden'); } };
      await expect(recordEventIn(forbidden, programmed, { now: s.now, instance: 'mikrolb' })).resolves.toBeUndefined();
    }
    expect((await s.stored(programmed)).series).toBeUndefined();
  });

  it('other errors are the caller\'s', async () => {
    const s = setup();
    await s.record(programmed);
    const down: EventStore = { ...s.store, get: async () => { throw new KubeError('connect ECONNREFUSED', 0, 'NetworkError'); } };
    await expect(recordEventIn(down, programmed, { now: s.now, instance: 'mikrolb' })).rejects.toMatchObject({ reason: 'NetworkError' });
  });
});

describe('memoryEvents: the API server\'s rules for an event update', () => {
  async function recorded() {
    const s = setup();
    await s.record(programmed);
    const raw = await s.mem.store.get('default', eventName(programmed));
    const ev = Stored.parse(raw);
    return { s, ev };
  }
  const series = { count: 2, lastObservedTime: '2026-02-01T10:01:00.000000Z' };

  it('refuses a stale resourceVersion (409) and an expired event (404)', async () => {
    const { s, ev } = await recorded();
    await s.mem.store.replace({ ...ev, series });
    expect(isConflict(await s.mem.store.replace({ ...ev, series: { ...series, count: 3 } }).catch((e: unknown) => e))).toBe(true);
    s.mem.expire('default', eventName(programmed));
    expect(isNotFound(await s.mem.store.replace({ ...ev, series }).catch((e: unknown) => e))).toBe(true);
  });

  it('refuses a series with a count under 2 or without lastObservedTime, and a changed note (422)', async () => {
    const { s, ev } = await recorded();
    for (const bad of [{ ...ev, series: { ...series, count: 1 } }, { ...ev, series: { count: 2 } }, { ...ev, note: 'another note', series }]) {
      expect(isInvalid(await s.mem.store.replace(bad).catch((e: unknown) => e))).toBe(true);
    }
  });

  it('answers AlreadyExists to a second create of the same name', async () => {
    const { s } = await recorded();
    await expect(s.mem.store.create(eventObject(programmed, s.now(), 'mikrolb'))).rejects.toMatchObject({ status: 409, reason: 'AlreadyExists' });
  });
});

describe('memoryPort: events', () => {
  it('reports a repeated change with its count; writes of events are not among the writes', async () => {
    const c = clock();
    const m = memoryPort({ now: c.now });
    await m.port.recordEvent(programmed);
    c.advance(MINUTE);
    await m.port.recordEvent(failed);
    c.advance(MINUTE);
    await m.port.recordEvent(programmed);
    await m.port.recordEvent(invalidAnnotation);
    await m.port.recordEvent(invalidAnnotation);
    expect(m.events).toEqual([
      { type: 'Normal', reason: 'Programmed', note: programmed.note, regarding: { kind: 'IPAllocation', name: 'ip-013a2986c760' }, count: 2 },
      { type: 'Warning', reason: 'ProgrammingFailed', note: failed.note, regarding: { kind: 'IPAllocation', name: 'ip-013a2986c760' } },
      { type: 'Warning', reason: 'AnnotationInvalid', note: invalidAnnotation.note, regarding: { kind: 'Service', name: 'web', namespace: 'shop' } },
    ]);
    expect(m.writes).toEqual([]);
  });
});

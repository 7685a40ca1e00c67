import { createHash } from 'node:crypto';
import * as z from 'zod';
import { isAlreadyExists, isConflict, isForbidden, isNotFound } from './errors.js';
import type { EventRecord, KubeObject } from './port.js';
import { apiVersionOf, RESOURCES } from './resources.js';

export const REPORTING_CONTROLLER = 'mikrolb.de/controller';
/** Events about cluster-scoped objects (pools, allocations) live in this namespace. */
export const CLUSTER_EVENT_NAMESPACE = 'default';
/**
 * A repeat of an event recorded on every run (`occurs: 'everyRun'`) moves its series only when
 * the last observation is at least this old: a heartbeat that shows the condition still holds
 * (and keeps the event from expiring, its TTL counts from the last write) without a write per
 * run — a resync right after another writes nothing.
 */
export const EVENT_HEARTBEAT_MS = 5 * 60_000;
/** Reads and writes of one repeat while other writers keep moving the same event. */
export const SERIES_ATTEMPTS = 5;

/**
 * A deterministic event name: the same subject, reason and note map to the same name, so a
 * re-run of an idempotent function cannot spam events (the second create is AlreadyExists, and
 * the repeat is counted in the event's `series` instead, see recordEventIn).
 */
export function eventName(e: EventRecord): string {
  const digest = createHash('sha256')
    .update([e.regarding.kind, e.regarding.namespace ?? '', e.regarding.name, e.regarding.uid ?? '', e.type, e.reason, e.note].join('\u0000'))
    .digest('hex')
    .slice(0, 16);
  return `${e.regarding.name.slice(0, 200)}.${digest}`;
}

export function eventNamespace(e: EventRecord): string {
  return e.regarding.namespace ?? CLUSTER_EVENT_NAMESPACE;
}

/** A MicroTime (`eventTime`, `series.lastObservedTime`): RFC 3339 with microseconds. */
export const microTime = (d: Date): string => d.toISOString().replace('Z', '000Z');

/**
 * An event note as the API server accepts it: at most 1024 bytes (Go counts bytes, so 1000
 * characters of a multi-byte value are refused with 422, which would fail the invocation).
 */
export function noteText(note: string): string {
  let out = '';
  let bytes = 0;
  for (const ch of note) {
    bytes += Buffer.byteLength(ch);
    if (out.length + ch.length > 1000 || bytes > 1024) break;
    out += ch;
  }
  return out;
}

/** The events.k8s.io/v1 Event first recorded for `e` at `at`. */
export function eventObject(e: EventRecord, at: Date, instance: string): KubeObject {
  const type = RESOURCES[e.regarding.kind];
  return {
    apiVersion: 'events.k8s.io/v1', kind: 'Event',
    metadata: { name: eventName(e), namespace: eventNamespace(e) },
    eventTime: microTime(at),
    reportingController: REPORTING_CONTROLLER,
    reportingInstance: instance,
    action: e.action, reason: e.reason, note: noteText(e.note), type: e.type,
    regarding: { apiVersion: apiVersionOf(type), kind: type.kind, name: e.regarding.name, namespace: e.regarding.namespace, uid: e.regarding.uid },
  };
}

/** The three requests recording an event takes, on events.k8s.io/v1 events. */
export interface EventStore {
  create(event: KubeObject): Promise<unknown>;
  /** The stored event, undefined when there is none (never recorded, or expired). */
  get(namespace: string, name: string): Promise<unknown>;
  /** PUT; conflicts when the event's resourceVersion is stale, NotFound when it expired. */
  replace(event: KubeObject): Promise<unknown>;
}

/** What a repeat reads of the stored event; everything else is written back as read. */
const StoredEventSchema = z.object({
  metadata: z.object({ name: z.string(), namespace: z.string().optional(), resourceVersion: z.string() }).loose(),
  eventTime: z.string().nullish(),
  series: z.object({ count: z.number().int(), lastObservedTime: z.string() }).loose().nullish(),
}).loose();
type StoredEvent = z.infer<typeof StoredEventSchema>;

/** When the event was last observed (ms), or undefined when it does not say. */
function lastObserved(ev: StoredEvent): number | undefined {
  const t = Date.parse(ev.series?.lastObservedTime ?? ev.eventTime ?? '');
  return Number.isNaN(t) ? undefined : t;
}

async function created(store: EventStore, event: KubeObject): Promise<boolean> {
  try {
    await store.create(event);
    return true;
  } catch (err) {
    if (isAlreadyExists(err)) return false;
    throw err;
  }
}

/**
 * Records an event as client-go's events.k8s.io recorder does: the first occurrence is created;
 * a repeat (same name: subject, type, reason and note) is counted on the stored event as an
 * EventSeries — `count` (2 for the first repeat) and `lastObservedTime` — written with the
 * resourceVersion read, re-read on a conflict, and created anew when it expired meanwhile.
 * An `everyRun` event's repeat is counted only once the last observation is EVENT_HEARTBEAT_MS
 * old; an `onChange` event's at once (each call is a change of its own). After SERIES_ATTEMPTS
 * conflicts it gives up: the writers that won moved the series to about now themselves.
 */
export async function recordEventIn(store: EventStore, e: EventRecord, opts: { now: () => Date; instance: string }): Promise<void> {
  if (await created(store, eventObject(e, opts.now(), opts.instance))) return;
  try {
    await countRepeat(store, e, opts);
  } catch (err) {
    // RBAC of an earlier version (events: create only): the repeat goes uncounted, as it did
    // then, rather than failing the invocation that recorded it (and retrying it for ever)
    if (!isForbidden(err)) throw err;
  }
}

async function countRepeat(store: EventStore, e: EventRecord, opts: { now: () => Date; instance: string }): Promise<void> {
  const namespace = eventNamespace(e);
  const name = eventName(e);
  for (let attempt = 1; attempt <= SERIES_ATTEMPTS; attempt++) {
    const raw = await store.get(namespace, name);
    if (raw === undefined) {
      // expired (or deleted) since: this occurrence starts a new event
      if (await created(store, eventObject(e, opts.now(), opts.instance))) return;
      continue;
    }
    const ev = StoredEventSchema.parse(raw);
    const at = opts.now();
    const last = lastObserved(ev);
    if (e.occurs !== 'onChange' && last !== undefined && at.getTime() - last < EVENT_HEARTBEAT_MS) return;
    try {
      await store.replace({ ...ev, series: { count: (ev.series?.count ?? 1) + 1, lastObservedTime: microTime(at) } });
      return;
    } catch (err) {
      if (!isConflict(err) && !isNotFound(err)) throw err;
    }
  }
}

import * as z from 'zod';
import type { EventStore } from './events.js';
import type { EventRecord } from './port.js';
import { alreadyExists, canonical, conflict, invalid, isKind, notFound, rfc3339, toStored, type StoredObject } from './memory-object.js';
import type { Kind } from './resources.js';

/** One event as `mikrolb invoke` reports it; `count` once it was observed again (its series). */
export interface EventRecordOut {
  type: EventRecord['type'];
  reason: string;
  note: string;
  regarding: { kind: Kind; name: string; namespace?: string };
  count?: number;
}

/** What the API server checks of an events.k8s.io/v1 Event that the recording relies on. */
const EventSchema = z.object({
  type: z.enum(['Normal', 'Warning']),
  reason: z.string().min(1),
  note: z.string().max(1024),
  eventTime: z.string().min(1),
  regarding: z.object({ kind: z.custom<Kind>(isKind), name: z.string(), namespace: z.string().optional() }).loose(),
  series: z.object({ count: z.number().int(), lastObservedTime: z.string().optional() }).loose().optional(),
}).loose();
type EventContent = z.infer<typeof EventSchema>;

/** Fields an events.k8s.io/v1 update may not change (the API server's ValidateEventUpdate). */
const IMMUTABLE = ['regarding', 'related', 'reason', 'note', 'type', 'eventTime', 'action', 'reportingController', 'reportingInstance', 'deprecatedSource', 'deprecatedFirstTimestamp', 'deprecatedLastTimestamp', 'deprecatedCount'] as const;

interface Entry {
  obj: StoredObject;
  out: EventRecordOut;
}

/**
 * events.k8s.io/v1 events in memory, kept apart from the objects (they are reported, not part
 * of the state): create answers AlreadyExists for a name it holds, a replace checks the
 * resourceVersion (Conflict), that the event exists (NotFound), the series (count at least 2,
 * lastObservedTime required) and that nothing else changed, as the API server does.
 */
export function memoryEvents(now: () => Date): { store: EventStore; events: EventRecordOut[]; expire: (namespace: string, name: string) => void } {
  const stored = new Map<string, Entry>();
  const events: EventRecordOut[] = [];
  let version = 0;
  const keyOf = (namespace: string | undefined, name: string): string => `${namespace ?? ''}/${name}`;

  function validate(obj: StoredObject): EventContent {
    const parsed = EventSchema.safeParse(obj);
    const name = obj.metadata.name ?? '';
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw invalid('Event', name, issue ? `${issue.path.join('.')}: ${issue.message}` : 'malformed');
    }
    const { series } = parsed.data;
    if (series && series.count < 2) throw invalid('Event', name, `series.count: Invalid value: "": should be at least 2`);
    if (series && !series.lastObservedTime) throw invalid('Event', name, 'series.lastObservedTime: Required value');
    return parsed.data;
  }

  const store: EventStore = {
    async create(body) {
      const obj = toStored(body, 'Event');
      const name = obj.metadata.name ?? '';
      const key = keyOf(obj.metadata.namespace, name);
      if (stored.has(key)) throw alreadyExists('Event', name);
      const ev = validate(obj);
      obj.metadata = { ...obj.metadata, resourceVersion: String(++version), creationTimestamp: rfc3339(now()) };
      const { kind, name: subject, namespace } = ev.regarding;
      const out: EventRecordOut = { type: ev.type, reason: ev.reason, note: ev.note, regarding: { kind, name: subject, ...(namespace !== undefined ? { namespace } : {}) } };
      if (ev.series) out.count = ev.series.count;
      stored.set(key, { obj, out });
      events.push(out);
      return toStored(obj);
    },
    async get(namespace, name) {
      const entry = stored.get(keyOf(namespace, name));
      return entry ? toStored(entry.obj) : undefined;
    },
    async replace(body) {
      const obj = toStored(body, 'Event');
      const name = obj.metadata.name ?? '';
      const entry = stored.get(keyOf(obj.metadata.namespace, name));
      if (!entry) throw notFound('Event', name);
      const cur = entry.obj;
      if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== cur.metadata.resourceVersion) throw conflict('Event', name);
      const ev = validate(obj);
      for (const field of IMMUTABLE) {
        if (canonical(obj[field]) !== canonical(cur[field])) throw invalid('Event', name, `${field}: Invalid value: field is immutable`);
      }
      entry.obj = toStored({ ...obj, metadata: { ...obj.metadata, creationTimestamp: cur.metadata.creationTimestamp, resourceVersion: String(++version) } });
      if (ev.series) entry.out.count = ev.series.count;
      else delete entry.out.count;
      return toStored(entry.obj);
    },
  };
  /** What the API server's event TTL does: the stored event is gone (the report keeps it). */
  const expire = (namespace: string, name: string): void => void stored.delete(keyOf(namespace, name));
  return { store, events, expire };
}

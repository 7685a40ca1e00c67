import type { Kind } from './resources.js';

/** What a function knows about one object it may write back: name, namespace, version. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; [field: string]: unknown };
  [field: string]: unknown;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  /** Terms `field=value` or `field!=value`, comma-separated (all must hold), on the kind's selectable fields (RESOURCES). */
  fieldSelector?: string;
}

export interface Preconditions {
  uid?: string;
  resourceVersion?: string;
}

/** A reference to the object an event is about (events.k8s.io/v1 `regarding`). */
export interface EventSubject {
  kind: Kind;
  name: string;
  namespace?: string;
  uid?: string;
}

export interface EventRecord {
  regarding: EventSubject;
  type: 'Normal' | 'Warning';
  reason: string;
  note: string;
  action: string;
  /**
   * When the caller records it, which decides how a repeat counts (see recordEventIn):
   * `everyRun` (the default) while a condition holds, on every run that meets it (a resync
   * included): a repeat moves the event's series at most once per EVENT_HEARTBEAT_MS;
   * `onChange` only when something changed (a status the run wrote): every repeat is counted.
   */
  occurs?: 'everyRun' | 'onChange';
}

/**
 * The Kubernetes access port the functions use. Reads return raw JSON for the caller to parse
 * with zod (the boundary); writes carry the resourceVersion they read, so a concurrent change
 * answers with a conflict (see errors.ts predicates). Two implementations: the API server
 * (client.ts) and memory (memory.ts, behind `mikrolb invoke`).
 */
export interface KubePort {
  get(kind: Kind, name: string, namespace?: string): Promise<unknown>;
  list(kind: Kind, opts?: ListOptions): Promise<unknown[]>;
  create(kind: Kind, obj: KubeObject): Promise<unknown>;
  /** PUT of the whole object (spec/metadata); conflicts when its resourceVersion is stale. */
  replace(kind: Kind, obj: KubeObject): Promise<unknown>;
  /** PUT of the status subresource; conflicts when its resourceVersion is stale. */
  replaceStatus(kind: Kind, obj: KubeObject): Promise<unknown>;
  /** Deletes; an object already gone is not an error. */
  remove(kind: Kind, name: string, namespace?: string, preconditions?: Preconditions): Promise<void>;
  /**
   * Records an event; one with the same subject, type, reason and note is one event, whose
   * repeats are counted in its `series` (count, lastObservedTime) as `occurs` says.
   */
  recordEvent(event: EventRecord): Promise<void>;
}

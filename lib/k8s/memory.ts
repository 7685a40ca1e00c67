import { createHash } from 'node:crypto';
import { isKubeError, isNotFound, KubeError } from './errors.js';
import { recordEventIn } from './events.js';
import { memoryEvents, type EventRecordOut } from './memory-events.js';
import type { KubePort, ListOptions, Preconditions } from './port.js';
import { apiVersionOf, hasGeneration, RESOURCES, selectableFieldsOf, type Kind } from './resources.js';
import { matchesFields, matchesSelector, parseFieldSelector, parseSelector } from './memory-selector.js';
import {
  alreadyExists, badRequest, canonical, conflict, invalid, isKind, notFound, rfc3339, specOf,
  STATUS_SUBRESOURCE, toStored, validateContent, type StoredObject,
} from './memory-object.js';

/** One write the port accepted, as `mikrolb invoke` reports it. */
export interface WriteRecord {
  verb: 'create' | 'update' | 'delete' | 'patch';
  kind: Kind;
  namespace?: string;
  name: string;
  subresource?: 'status';
}

/** A write the API server refused (status 0 when the fault hook threw something else). */
export interface FailedWriteRecord extends WriteRecord {
  status: number;
  reason: string;
}

export type { EventRecordOut } from './memory-events.js';

export interface MemoryPortOptions {
  /** The initial state; missing uid/resourceVersion/creationTimestamp are filled, and generation on the kinds that have one (hasGeneration). */
  objects?: unknown[];
  now?: () => Date;
  /**
   * Uids for objects that have none. By default a seeded object without one gets the next of a
   * sequence (`00000000-0000-4000-8000-000000000001`, …) and a created object one derived from a
   * hash of the seeded uids, its kind, namespace, name and resourceVersion, so runs repeat and a
   * state chained from an earlier run's output never hands out a uid it already holds. Either
   * way a uid already in use (seeded or handed out) is never given again.
   */
  uid?: () => string;
  /**
   * Called before each write is applied; throwing (e.g. a KubeError 409 or 503) refuses it. An
   * async hook may itself write through the port to stage a race the write then loses.
   */
  beforeWrite?: (w: WriteRecord) => void | Promise<void>;
}

export interface MemoryPort {
  port: KubePort;
  /** The final state, ordered by kind, namespace, name. */
  objects(): unknown[];
  writes: WriteRecord[];
  failedWrites: FailedWriteRecord[];
  events: EventRecordOut[];
}

interface Entry {
  kind: Kind;
  ns: string | undefined;
  name: string;
  obj: StoredObject;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const specField = (obj: StoredObject, field: string): unknown => {
  const spec = obj['spec'];
  return isRecord(spec) ? spec[field] : undefined;
};

/**
 * What the API server does to a Service that stops being a LoadBalancer: it drops the
 * load-balancer status (the ingress) and, unless the same update changed it, the class.
 */
function leaveLoadBalancer(cur: StoredObject, next: StoredObject): void {
  if (specField(cur, 'type') !== 'LoadBalancer' || specField(next, 'type') === 'LoadBalancer') return;
  const spec = next['spec'];
  if (isRecord(spec) && spec['loadBalancerClass'] === specField(cur, 'loadBalancerClass')) {
    const { loadBalancerClass: _, ...rest } = spec;
    next['spec'] = rest;
  }
  const status = next['status'];
  if (isRecord(status)) next['status'] = { ...status, loadBalancer: {} };
}

/**
 * What the API server refuses in a Service's status write: an ingress while the Service (its
 * stored spec: a status write cannot change the spec) is not a LoadBalancer.
 */
function ingressOnlyOnLoadBalancer(name: string, cur: StoredObject, next: StoredObject): void {
  const status = next['status'];
  const lb = isRecord(status) ? status['loadBalancer'] : undefined;
  const ingress = isRecord(lb) ? lb['ingress'] : undefined;
  if (specField(cur, 'type') === 'LoadBalancer' || !Array.isArray(ingress) || ingress.length === 0) return;
  throw new KubeError(`Service "${name}" is invalid: status.loadBalancer.ingress: Forbidden: may only be used when \`spec.type\` is 'LoadBalancer'`, 422, 'Invalid');
}

const scope = (kind: Kind, namespace: string | undefined): string | undefined =>
  (RESOURCES[kind].namespaced && namespace ? namespace : undefined);
const keyOf = (kind: Kind, ns: string | undefined, name: string): string => `${kind}\u0000${ns ?? ''}\u0000${name}`;
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byKey = (a: Entry, b: Entry): number =>
  compare(a.kind, b.kind) || compare(a.ns ?? '', b.ns ?? '') || compare(a.name, b.name);
const sequentialUid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
/** A version-4-shaped uid from a hash (deterministic, so `mikrolb invoke` runs repeat). */
function hashedUid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  const variant = ((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
/** How many times a uid source may repeat a taken uid before the port gives up. */
const UID_ATTEMPTS = 1000;
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function record(verb: WriteRecord['verb'], kind: Kind, ns: string | undefined, name: string, status?: boolean): WriteRecord {
  return { verb, kind, ...(ns !== undefined ? { namespace: ns } : {}), name, ...(status ? { subresource: 'status' as const } : {}) };
}

/** Optimistic concurrency: a given uid or resourceVersion must match the stored one. */
function checkPreconditions(kind: Kind, name: string, cur: StoredObject, pre: Preconditions, forDelete: boolean): void {
  const { uid, resourceVersion } = cur.metadata;
  if (pre.uid && pre.uid !== uid) {
    throw conflict(kind, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${uid ?? ''}`);
  }
  if (pre.resourceVersion && pre.resourceVersion !== resourceVersion) {
    throw forDelete
      ? conflict(kind, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${resourceVersion ?? ''}`)
      : conflict(kind, name);
  }
}

/** While an object is being deleted, finalizers may only be removed. */
function checkFinalizers(kind: Kind, name: string, cur: StoredObject, next: StoredObject): void {
  if (!cur.metadata.deletionTimestamp) return;
  const before = new Set(cur.metadata.finalizers ?? []);
  if ((next.metadata.finalizers ?? []).some((f) => !before.has(f))) {
    throw invalid(kind, name, 'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted');
  }
}

/**
 * An in-memory API server behind the KubePort, faithful to what the functions rely on:
 * resourceVersion conflicts, status subresources, generation, finalizers, and events recorded
 * as the API server port records them (memory-events.ts: kept apart from the objects, reported,
 * not part of the state, their writes not among `writes`).
 */
export function memoryPort(opts: MemoryPortOptions = {}): MemoryPort {
  const store = new Map<string, Entry>();
  const writes: WriteRecord[] = [];
  const failedWrites: FailedWriteRecord[] = [];
  const { store: eventStore, events } = memoryEvents(() => opts.now?.() ?? new Date());
  let version = 0;
  let uids = 0;
  let generated = 0;
  const now = (): string => rfc3339(opts.now?.() ?? new Date());
  const nextVersion = (): string => String(++version);
  const seeds = opts.objects ?? [];
  // Every uid the port has seen or handed out: a new one must differ from all of them.
  const usedUids = new Set(seeds.flatMap((o) => toStored(o).metadata.uid ?? []));
  const seedSalt = createHash('sha256').update([...usedUids].sort().join(',')).digest('hex');
  function freshUid(candidate: (attempt: number) => string): string {
    for (let attempt = 0; attempt < UID_ATTEMPTS; attempt++) {
      const uid = candidate(attempt);
      if (!usedUids.has(uid)) {
        usedUids.add(uid);
        return uid;
      }
    }
    throw new Error(`memoryPort: no unused uid after ${UID_ATTEMPTS} attempts`);
  }
  const custom = opts.uid;
  const seedUid = (): string => freshUid(custom ?? ((): string => sequentialUid(++uids)));
  const createdUid = (kind: Kind, ns: string | undefined, name: string, resourceVersion: string): string =>
    freshUid(custom ?? ((attempt): string => hashedUid(seedSalt, kind, ns ?? '', name, resourceVersion, String(attempt))));

  function seed(raw: unknown): void {
    const obj = toStored(raw);
    const kind = obj.kind;
    const name = obj.metadata.name;
    if (!isKind(kind)) throw new Error(`memoryPort: cannot hold an object of kind ${String(kind)}`);
    if (!name) throw new Error(`memoryPort: a ${kind} has no metadata.name`);
    const ns = RESOURCES[kind].namespaced ? obj.metadata.namespace || 'default' : undefined;
    const key = keyOf(kind, ns, name);
    if (store.has(key)) throw new Error(`memoryPort: ${kind} ${ns ? `${ns}/` : ''}${name} is given twice`);
    const m = obj.metadata;
    m.namespace = ns;
    m.uid ??= seedUid();
    m.resourceVersion ??= nextVersion();
    m.creationTimestamp ??= now();
    if (m.deletionTimestamp === null) delete m.deletionTimestamp;
    if (hasGeneration(kind)) m.generation ??= 1;
    store.set(key, { kind, ns, name, obj: toStored({ ...obj, apiVersion: apiVersionOf(RESOURCES[kind]) }) });
  }

  version = seeds.map((o) => Number(toStored(o).metadata.resourceVersion)).filter(Number.isSafeInteger).reduce((a, b) => Math.max(a, b), 0);
  seeds.forEach(seed);

  async function write<T>(w: WriteRecord, apply: () => T): Promise<T> {
    try {
      await opts.beforeWrite?.(w);
      const out = apply();
      writes.push(w);
      return out;
    } catch (e) {
      failedWrites.push({ ...w, status: isKubeError(e) ? e.status : 0, reason: isKubeError(e) ? e.reason : 'Error' });
      throw e;
    }
  }

  function target(kind: Kind, meta: StoredObject['metadata'], creating = false): { ns: string | undefined; name: string } {
    const ns = scope(kind, meta.namespace);
    if (RESOURCES[kind].namespaced && !ns) throw badRequest(`a ${kind} needs metadata.namespace`);
    const name = meta.name || (creating ? generateName(kind, ns, meta.generateName) : undefined);
    if (!name) throw invalid(kind, '', 'metadata.name: Required value: name or generateName is required');
    return { ns, name };
  }

  function generateName(kind: Kind, ns: string | undefined, prefix: string | undefined): string | undefined {
    if (!prefix) return undefined;
    for (;;) {
      const digest = createHash('sha256').update(`${kind}/${ns ?? ''}/${prefix}/${++generated}`).digest();
      const suffix = [...digest.subarray(0, 5)].map((b) => SUFFIX_ALPHABET[b % SUFFIX_ALPHABET.length]).join('');
      if (!store.has(keyOf(kind, ns, prefix + suffix))) return prefix + suffix;
    }
  }

  function current(kind: Kind, ns: string | undefined, name: string): StoredObject {
    const entry = store.get(keyOf(kind, ns, name));
    if (!entry) throw notFound(kind, name);
    return toStored(entry.obj);
  }

  /** Stores `draft` over `cur`; a write that changes nothing keeps the version, as etcd does. */
  function commit(kind: Kind, ns: string | undefined, name: string, cur: StoredObject, draft: StoredObject): StoredObject {
    const next = toStored({ ...draft, metadata: { ...draft.metadata, resourceVersion: cur.metadata.resourceVersion } });
    if (canonical(next) === canonical(cur)) return cur;
    next.metadata.resourceVersion = nextVersion();
    const key = keyOf(kind, ns, name);
    if (next.metadata.deletionTimestamp && !next.metadata.finalizers?.length) store.delete(key);
    else store.set(key, { kind, ns, name, obj: next });
    return toStored(next);
  }

  const sorted = (entries: Iterable<Entry>): unknown[] => [...entries].sort(byKey).map((e) => toStored(e.obj));

  const port: KubePort = {
    async get(kind, name, namespace) {
      const entry = store.get(keyOf(kind, scope(kind, namespace), name));
      return entry ? toStored(entry.obj) : undefined;
    },
    async list(kind, o: ListOptions = {}) {
      const selector = parseSelector(o.labelSelector ?? '');
      if (!selector.ok) throw badRequest(selector.message);
      const fields = parseFieldSelector(o.fieldSelector ?? '', selectableFieldsOf(kind));
      if (!fields.ok) throw badRequest(fields.message);
      const ns = scope(kind, o.namespace);
      return sorted([...store.values()].filter((e) =>
        e.kind === kind && (ns === undefined || e.ns === ns) && matchesSelector(selector.requirements, e.obj.metadata.labels) && matchesFields(fields.requirements, e.obj)));
    },
    async create(kind, body) {
      const obj = toStored(body, kind);
      const { ns, name } = target(kind, obj.metadata, true);
      return write(record('create', kind, ns, name), () => {
        const key = keyOf(kind, ns, name);
        if (store.has(key)) throw alreadyExists(kind, name);
        validateContent(kind, obj, 'spec');
        const { deletionTimestamp: _d, deletionGracePeriodSeconds: _g, ...meta } = obj.metadata;
        const resourceVersion = nextVersion();
        const stored = toStored({
          ...obj, apiVersion: apiVersionOf(RESOURCES[kind]), kind: RESOURCES[kind].kind,
          metadata: { ...meta, name, namespace: ns, uid: createdUid(kind, ns, name, resourceVersion), resourceVersion, creationTimestamp: now(), ...(hasGeneration(kind) ? { generation: 1 } : {}) },
        });
        // create cannot set a status that has its own subresource
        if (kind === 'Service') stored.status = { loadBalancer: {} };
        else if (STATUS_SUBRESOURCE.has(kind)) delete stored.status;
        store.set(key, { kind, ns, name, obj: stored });
        return toStored(stored);
      });
    },
    async replace(kind, body) {
      const obj = toStored(body, kind);
      const { ns, name } = target(kind, obj.metadata);
      return write(record('update', kind, ns, name), () => {
        const cur = current(kind, ns, name);
        checkPreconditions(kind, name, cur, obj.metadata, false);
        validateContent(kind, obj, 'spec');
        const m = cur.metadata;
        const next = toStored({
          ...obj, apiVersion: cur.apiVersion, kind: cur.kind,
          metadata: { ...obj.metadata, name, namespace: ns, uid: m.uid, creationTimestamp: m.creationTimestamp, deletionTimestamp: m.deletionTimestamp, deletionGracePeriodSeconds: m.deletionGracePeriodSeconds, generation: m.generation },
        });
        if (STATUS_SUBRESOURCE.has(kind)) next.status = cur.status;
        if (kind === 'Service') leaveLoadBalancer(cur, next);
        checkFinalizers(kind, name, cur, next);
        if (m.generation !== undefined && specOf(next) !== specOf(cur)) next.metadata.generation = m.generation + 1;
        return commit(kind, ns, name, cur, next);
      });
    },
    async replaceStatus(kind, body) {
      const obj = toStored(body, kind);
      const { ns, name } = target(kind, obj.metadata);
      return write(record('update', kind, ns, name, true), () => {
        if (!STATUS_SUBRESOURCE.has(kind)) throw new KubeError('the server could not find the requested resource', 404, 'NotFound');
        const cur = current(kind, ns, name);
        checkPreconditions(kind, name, cur, obj.metadata, false);
        validateContent(kind, obj, 'status');
        if (kind === 'Service') ingressOnlyOnLoadBalancer(name, cur, obj);
        return commit(kind, ns, name, cur, { ...cur, status: obj.status });
      });
    },
    async remove(kind, name, namespace, preconditions = {}) {
      const ns = scope(kind, namespace);
      try {
        await write(record('delete', kind, ns, name), () => {
          const cur = current(kind, ns, name);
          checkPreconditions(kind, name, cur, preconditions, true);
          if (!cur.metadata.finalizers?.length) store.delete(keyOf(kind, ns, name));
          else if (!cur.metadata.deletionTimestamp) {
            // finalizers hold the object; the API server marks it and bumps the generation
            const m = cur.metadata;
            const generation = m.generation ? m.generation + 1 : m.generation;
            commit(kind, ns, name, cur, { ...cur, metadata: { ...m, deletionTimestamp: now(), deletionGracePeriodSeconds: 0, generation } });
          }
        });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    },
    recordEvent: (e) => recordEventIn(eventStore, e, { now: () => opts.now?.() ?? new Date(), instance: 'mikrolb' }),
  };

  return { port, objects: () => sorted(store.values()), writes, failedWrites, events };
}

import { z } from 'zod';
import { objectKey } from '../lib/events/identity.js';
import type { ObjectKind, ObjectRef } from '../lib/events/invocation.js';
import { RESOURCES } from '../lib/k8s/resources.js';
import type { Emission, Facet } from './routing.js';
import { LABEL_SLICE_SERVICE_NAME } from '../lib/k8s/keys.js';


const MetaSchema = z.object({
  metadata: z.object({
    name: z.string().min(1),
    namespace: z.string().optional(),
    resourceVersion: z.string().default(''),
    generation: z.number().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    finalizers: z.array(z.string()).optional(),
    deletionTimestamp: z.string().optional(),
  }),
  status: z.unknown().optional(),
});

/** 32-bit FNV-1a: a few bytes per object instead of a copy of it. */
function fingerprint(value: unknown): number {
  const text = JSON.stringify(value) ?? '';
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

interface Facets {
  /** generation, or (kinds without one) a fingerprint of the whole object */
  spec: number;
  meta: number;
  status: number;
}

function facetsOf(obj: unknown, parsed: z.infer<typeof MetaSchema>): Facets {
  const m = parsed.metadata;
  return {
    spec: m.generation ?? fingerprint(obj),
    meta: fingerprint([m.labels, m.annotations, m.finalizers, m.deletionTimestamp]),
    status: fingerprint(parsed.status),
  };
}

const EMPTY_STATUS = [fingerprint(undefined), fingerprint({})];

function changedFacets(before: Facets | undefined, after: Facets): Facet[] | undefined {
  if (!before) return EMPTY_STATUS.includes(after.status) ? ['spec', 'meta'] : ['spec', 'meta', 'status'];
  return (['spec', 'meta', 'status'] as const).filter((f) => before[f] !== after[f]);
}
type Meta = z.infer<typeof MetaSchema>['metadata'];

interface Known {
  ref: ObjectRef;
  rv: string;
  service: ObjectRef | undefined;
  facets: Facets;
}

/**
 * What the bridge remembers of one kind: key → resourceVersion of every object it told the
 * functions about, nothing more. That is enough to tell add from update, to drop replays, and
 * to notice after a re-list what was deleted while the watch was down.
 */
export interface Tracker {
  readonly kind: ObjectKind;
  has(key: string): boolean;
  size(): number;
  /** An ADDED or MODIFIED object. */
  seen(obj: unknown): Emission | undefined;
  /** A DELETED object (its last state). */
  gone(obj: unknown): Emission | undefined;
  /** A full list: changes since what was known, including deletions. */
  relist(items: readonly unknown[]): Emission[];
  /** The same, page by page, so a large list need not be held at once. */
  startRelist(): Relist;
}

export interface Relist {
  page(items: readonly unknown[]): Emission[];
  /** Deletions: what was known but not listed. */
  finish(): Emission[];
}

/** `interesting`: objects outside it are not tracked, unless they were (their change is news). */
export function createTracker(kind: ObjectKind, interesting: (obj: unknown) => boolean = () => true): Tracker {
  const known = new Map<string, Known>();
  const namespaced = RESOURCES[kind].namespaced;

  const identify = (obj: unknown): { key: string; meta: Meta; ref: ObjectRef; facets: Facets } | undefined => {
    const parsed = MetaSchema.safeParse(obj);
    if (!parsed.success) return undefined;
    const meta = parsed.data.metadata;
    const ref: ObjectRef = namespaced && meta.namespace ? { kind, namespace: meta.namespace, name: meta.name } : { kind, name: meta.name };
    return { key: objectKey(ref), meta, ref, facets: facetsOf(obj, parsed.data) };
  };

  const serviceOf = (meta: Meta): ObjectRef | undefined => {
    const name = kind === 'EndpointSlice' ? meta.labels?.[LABEL_SLICE_SERVICE_NAME] : undefined;
    return name && meta.namespace ? { kind: 'Service', namespace: meta.namespace, name } : undefined;
  };

  function seen(obj: unknown): Emission | undefined {
    const id = identify(obj);
    if (!id) return undefined;
    const before = known.get(id.key);
    const wanted = interesting(obj);
    if (!wanted && !before) return undefined;
    const service = serviceOf(id.meta);
    if (wanted) known.set(id.key, { ref: id.ref, rv: id.meta.resourceVersion, service, facets: id.facets });
    else known.delete(id.key);
    if (before && before.rv === id.meta.resourceVersion) return undefined;
    const changed = wanted ? changedFacets(before?.facets, id.facets) : undefined;
    return { change: before ? 'update' : 'add', ref: id.ref, ...(service ? { service } : {}), ...(changed ? { changed } : {}) };
  }

  function gone(obj: unknown): Emission | undefined {
    const id = identify(obj);
    if (!id) return undefined;
    const before = known.get(id.key);
    if (!before && !interesting(obj)) return undefined;
    known.delete(id.key);
    const service = serviceOf(id.meta) ?? before?.service;
    return { change: 'delete', ref: id.ref, ...(service ? { service } : {}) };
  }

  function startRelist(): Relist {
    const listed = new Set<string>();
    return {
      page(items) {
        const emissions: Emission[] = [];
        for (const item of items) {
          const id = identify(item);
          if (id) listed.add(id.key);
          const emission = seen(item);
          if (emission) emissions.push(emission);
        }
        return emissions;
      },
      finish() {
        const emissions: Emission[] = [];
        for (const [key, entry] of known) {
          if (listed.has(key)) continue;
          known.delete(key);
          emissions.push({ change: 'delete', ref: entry.ref, ...(entry.service ? { service: entry.service } : {}) });
        }
        return emissions;
      },
    };
  }

  const relist = (items: readonly unknown[]): Emission[] => {
    const run = startRelist();
    return [...run.page(items), ...run.finish()];
  };

  return { kind, has: (key) => known.has(key), size: () => known.size, seen, gone, relist, startRelist };
}

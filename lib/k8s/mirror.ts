import { EndpointSliceSchema, type EndpointSlice } from './core-objects.js';
import { LABEL_SLICE_SERVICE_NAME, slicesOfService } from './keys.js';
import type { KubePort } from './port.js';
import { IPPoolSchema, type IPPool } from './schemas.js';
import { listEndpointSlices, listPools, schemaProblem, type InvalidObject, type Listed } from './typed.js';

/**
 * What the watch of one kind tells a copy kept in the same process (the all-in-one
 * controller's): every object an event brings, before the bridge routes the event, and each
 * (re-)list. A function reading such a copy sees at least what the event that woke it saw.
 * Such a copy is only a hint, like any read: the functions' writes carry their own
 * preconditions (resourceVersion, create-if-absent). Until the first list finishes, and during
 * each re-list, a copy answers nothing (`undefined`), and the reader asks the API server.
 */
export interface WatchMirror {
  seen(obj: unknown): void;
  gone(obj: unknown): void;
  /** A (re-)list begins: the copy is incomplete until `finish`. */
  relist(): { page(items: readonly unknown[]): void; finish(): void };
}

/** A mirror that keeps nothing of re-lists (it follows events only). */
export const eventsOnly = (mirror: Pick<WatchMirror, 'seen' | 'gone'>): WatchMirror => ({
  seen: (obj) => mirror.seen(obj),
  gone: (obj) => mirror.gone(obj),
  relist: () => ({ page: () => undefined, finish: () => undefined }),
});

function metaOf(raw: unknown): { name?: unknown; namespace?: unknown } | undefined {
  if (typeof raw !== 'object' || raw === null || !('metadata' in raw)) return undefined;
  const m = raw.metadata;
  return typeof m === 'object' && m !== null ? m : undefined;
}

/** IPPools as the watch last saw them (see WatchMirror). */
export interface PoolMirror extends WatchMirror {
  /** Every pool, as `listPools` answers; undefined until listed and while re-listing. */
  current(): Listed<IPPool> | undefined;
}

type Kept<T> = { ok: true; value: T } | { ok: false; invalid: InvalidObject };

export function poolMirror(): PoolMirror {
  let pools = new Map<string, Kept<IPPool>>();
  let synced = false;
  let pending: Map<string, Kept<IPPool>> | undefined;
  let memo: Listed<IPPool> | undefined;
  const keep = (raw: unknown): { name: string; kept: Kept<IPPool> } | undefined => {
    const name = metaOf(raw)?.name;
    if (typeof name !== 'string') return undefined;
    const r = IPPoolSchema.safeParse(raw);
    return { name, kept: r.success ? { ok: true, value: r.data } : { ok: false, invalid: { kind: 'IPPool', name, message: schemaProblem(r.error.issues) } } };
  };
  return {
    seen(obj) {
      const k = keep(obj);
      if (!k) return;
      pools.set(k.name, k.kept);
      memo = undefined;
    },
    gone(obj) {
      const k = keep(obj);
      if (k && pools.delete(k.name)) memo = undefined;
    },
    relist() {
      synced = false;
      memo = undefined;
      const mine = new Map<string, Kept<IPPool>>();
      pending = mine;
      return {
        page: (items) => {
          for (const raw of items) {
            const k = keep(raw);
            if (k) mine.set(k.name, k.kept);
          }
        },
        finish: () => {
          if (pending !== mine) return; // a later re-list took over
          pools = mine;
          pending = undefined;
          synced = true;
          memo = undefined;
        },
      };
    },
    current() {
      if (!synced) return undefined;
      if (!memo) {
        memo = { items: [], invalid: [] };
        for (const k of pools.values()) {
          if (k.ok) memo.items.push(k.value);
          else memo.invalid.push(k.invalid);
        }
      }
      return { items: [...memo.items], invalid: [...memo.invalid] };
    },
  };
}

/** EndpointSlices as the watch last saw them, by the Service they name (see WatchMirror). */
export interface SliceMirror extends WatchMirror {
  /** A Service's slices, as listing them by its label answers; undefined until listed and while re-listing. */
  ofService(namespace: string, name: string): EndpointSlice[] | undefined;
}

/** What program reads of a slice, nothing more (a large cluster has many, most of them not ours). */
function compactSlice(s: EndpointSlice, service: string): EndpointSlice {
  return {
    metadata: {
      name: s.metadata.name,
      ...(s.metadata.namespace !== undefined ? { namespace: s.metadata.namespace } : {}),
      ...(s.metadata.resourceVersion !== undefined ? { resourceVersion: s.metadata.resourceVersion } : {}),
      labels: { [LABEL_SLICE_SERVICE_NAME]: service },
    },
    addressType: s.addressType,
    endpoints: s.endpoints.map((e) => ({
      addresses: e.addresses,
      ...(e.conditions ? { conditions: { ready: e.conditions.ready, serving: e.conditions.serving, terminating: e.conditions.terminating } } : {}),
    })),
    ports: s.ports.map((p) => ({ ...(p.name !== undefined ? { name: p.name } : {}), ...(p.protocol ? { protocol: p.protocol } : {}), ...(p.port !== undefined ? { port: p.port } : {}) })),
  };
}

/** Slices by their Service (namespace/name), each by its own name. */
class SliceIndex {
  private readonly byService = new Map<string, Map<string, EndpointSlice>>();
  /** Which Service each slice (namespace/name) was filed under: its label may change. */
  private readonly serviceOf = new Map<string, string>();

  put(raw: unknown): void {
    const m = metaOf(raw);
    if (typeof m?.name !== 'string') return;
    const namespace = typeof m.namespace === 'string' ? m.namespace : 'default';
    const key = `${namespace}/${m.name}`;
    this.remove(key);
    // a slice our schema rejects is skipped, as a listing of the Service's slices skips it
    const r = EndpointSliceSchema.safeParse(raw);
    const service = r.success ? r.data.metadata.labels?.[LABEL_SLICE_SERVICE_NAME] : undefined;
    if (!r.success || service === undefined) return;
    const owner = `${namespace}/${service}`;
    let slices = this.byService.get(owner);
    if (!slices) this.byService.set(owner, (slices = new Map()));
    slices.set(m.name, compactSlice(r.data, service));
    this.serviceOf.set(key, owner);
  }

  drop(raw: unknown): void {
    const m = metaOf(raw);
    if (typeof m?.name === 'string') this.remove(`${typeof m.namespace === 'string' ? m.namespace : 'default'}/${m.name}`);
  }

  private remove(key: string): void {
    const owner = this.serviceOf.get(key);
    if (owner === undefined) return;
    this.serviceOf.delete(key);
    const slices = this.byService.get(owner);
    slices?.delete(key.slice(key.indexOf('/') + 1));
    if (slices?.size === 0) this.byService.delete(owner);
  }

  of(namespace: string, name: string): EndpointSlice[] {
    return [...(this.byService.get(`${namespace}/${name}`)?.values() ?? [])];
  }
}

export function sliceMirror(): SliceMirror {
  let index = new SliceIndex();
  let synced = false;
  let pending: SliceIndex | undefined;
  return {
    seen: (obj) => index.put(obj),
    gone: (obj) => index.drop(obj),
    relist() {
      synced = false;
      const mine = new SliceIndex();
      pending = mine;
      return {
        page: (items) => {
          for (const raw of items) mine.put(raw);
        },
        finish: () => {
          if (pending !== mine) return;
          index = mine;
          pending = undefined;
          synced = true;
        },
      };
    },
    ofService: (namespace, name) => (synced ? index.of(namespace, name) : undefined),
  };
}

/** What the functions read of the mirrors. */
export type PoolsView = Pick<PoolMirror, 'current'>;
export type SlicesView = Pick<SliceMirror, 'ofService'>;

/** One pool as the mirror sees it (undefined: not there, or the mirror is incomplete). */
export const mirroredPool = (view: PoolsView | undefined, name: string): IPPool | undefined =>
  view?.current()?.items.find((p) => p.metadata.name === name);

/** Every pool: from the mirror when it has them, else listed. */
export const readPools = async (kube: KubePort, view?: PoolsView): Promise<Listed<IPPool>> => view?.current() ?? await listPools(kube);

/** A Service's slices: from the mirror when it has them, else listed by its label. */
export async function readSlicesOf(kube: KubePort, view: SlicesView | undefined, namespace: string, name: string): Promise<EndpointSlice[]> {
  return view?.ofService(namespace, name) ?? (await listEndpointSlices(kube, namespace, slicesOfService(name))).items;
}

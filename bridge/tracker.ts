import * as z from 'zod';
import { objectKey } from '../lib/events/identity.js';
import type { ObjectKind, ObjectRef } from '../lib/events/invocation.js';
import { RESOURCES } from '../lib/k8s/resources.js';
import { addressName, parseAddress } from '../lib/ip/index.js';
import type { Emission, Facet } from './routing.js';
import { FINALIZER, LABEL_CLAIM_POOL, LABEL_SLICE_SERVICE_NAME, serviceOfLabels } from '../lib/k8s/keys.js';
import { COND_PROGRAMMED, REASON_ADDRESS_IN_USE_BY_ROUTER, REASON_BACKEND_ERROR } from '../lib/core/allocation-status.js';

const MetaSchema = z.object({
  metadata: z.object({
    name: z.string().min(1),
    namespace: z.string().optional(),
    resourceVersion: z.string().default(''),
    generation: z.number().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    deletionTimestamp: z.string().optional(),
    finalizers: z.array(z.string()).optional(),
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

/**
 * One number per facet (see Facet): what is needed to tell which parts an update changed; and
 * whether an allocation's address is already programmed (see changedFacets).
 */
type Facets = Record<Facet, number> & { programmed: boolean };

const HeldSchema = z.object({
  address: z.string().optional(),
  phase: z.string().optional(),
  conditions: z.array(z.object({ type: z.string(), reason: z.string().optional() })).optional(),
});

/**
 * What program acts on in an IPAllocation's status: what allocate decided — the address its
 * status says it holds (as `holdsAddress` in lib/core/pools.ts), or why it failed (program
 * writes that reason on the Service's LoadBalancerReady condition); '' for neither — and
 * whether the router failed on that address (`Programmed` False, `BackendError`). A router
 * failure is a standing request to program again: whoever invoked the program that recorded
 * it may not retry (a duplicated or forged event's sender, an invocation whose deliveries ran
 * out), so the bridge hears of it and retries it until the router answers.
 * `refused`: the held address program refused as the router's own (`AddressInUseByRouter`),
 * '' for none: what allocate acts on in the status (it moves the allocation if it may).
 */
function heldAddress(status: unknown): { address: string; programmed: boolean; refused: string } {
  const s = HeldSchema.safeParse(status);
  if (!s.success) return { address: '', programmed: false, refused: '' };
  const { phase, address = '', conditions = [] } = s.data;
  if (phase === 'Failed') return { address: `failed:${conditions.find((c) => c.type === 'Allocated')?.reason ?? ''}`, programmed: false, refused: '' };
  const held = phase === 'Allocated' || phase === 'Programmed' ? address : '';
  const programReason = held === '' ? undefined : conditions.find((c) => c.type === COND_PROGRAMMED)?.reason;
  return {
    address: programReason === REASON_BACKEND_ERROR ? `${held} router-failed` : held,
    programmed: held !== '' && phase === 'Programmed',
    refused: programReason === REASON_ADDRESS_IN_USE_BY_ROUTER ? held : '',
  };
}

const NO_ADDRESS = fingerprint('');

const StatusAddressSchema = z.object({ status: z.object({ address: z.string() }) });

/** The IPAddressClaim of the address an IPAllocation's status names, if any (see Emission.held). */
function claimOfStatus(obj: unknown): ObjectRef | undefined {
  const s = StatusAddressSchema.safeParse(obj);
  const address = s.success ? parseAddress(s.data.status.address) : undefined;
  // named as claimNameOf (lib/k8s/claims.ts) names it
  return address?.ok ? { kind: 'IPAddressClaim', name: addressName(address.family, address.value) } : undefined;
}

const ClaimSharingSchema = z.object({ spec: z.object({ sharingKey: z.string().optional() }) });

/** An IPAddressClaim's sharing key, if it is shared ('' if not): what program acts on in a claim (see routing.ts). */
function sharingKeyOfClaim(obj: unknown): string {
  const c = ClaimSharingSchema.safeParse(obj);
  return c.success ? c.data.spec.sharingKey ?? '' : '';
}

const ClaimHoldersSchema = z.object({
  spec: z.object({ allocationName: z.string().min(1), holders: z.array(z.object({ allocationName: z.string().min(1) })).optional() }),
});

/** The IPAllocations an IPAddressClaim names as its holders (see Emission.holders). */
function holdersOfClaim(obj: unknown): ObjectRef[] | undefined {
  const c = ClaimHoldersSchema.safeParse(obj);
  if (!c.success) return undefined;
  const names = new Set([c.data.spec.allocationName, ...(c.data.spec.holders ?? []).map((h) => h.allocationName)]);
  return [...names].map((name) => ({ kind: 'IPAllocation', name }));
}

/** Not the object's data: list items come without apiVersion and kind, watch objects with them. */
const NOT_DATA = new Set(['apiVersion', 'kind', 'metadata', 'status']);

function withoutMetaAndStatus(obj: unknown): unknown {
  if (typeof obj !== 'object' || obj === null) return obj;
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !NOT_DATA.has(k)));
}

function facetsOf(kind: ObjectKind, obj: unknown, parsed: z.infer<typeof MetaSchema>): Facets {
  const m = parsed.metadata;
  const held = kind === 'IPAllocation' ? heldAddress(parsed.status) : { address: kind === 'IPAddressClaim' ? sharingKeyOfClaim(obj) : '', programmed: false, refused: '' };
  return {
    // a kind without generation (Service, EndpointSlice, IPAddressClaim): everything but its
    // metadata and status, or a status write (program's ingress) or a finalizer would count as spec
    spec: m.generation ?? fingerprint(withoutMetaAndStatus(obj)),
    // finalizers are left out: MikroLB's own are the only ones its functions act on, and adding
    // or removing them is their own write's echo (deletion shows in deletionTimestamp)
    meta: fingerprint([m.labels, m.annotations, m.deletionTimestamp]),
    address: fingerprint(held.address),
    refused: fingerprint(held.refused),
    programmed: held.programmed,
  };
}

const FACETS: readonly Facet[] = ['spec', 'meta', 'address', 'refused'];

/**
 * For an update, the facets that differ; for an add, those the object has (spec and meta
 * always). An address that arrives already Programmed is no news to program: only program
 * writes that phase, in the all-in-one controller together with allocate's first write of a
 * new Service's address (see programHandoff), so that update is the echo of its own work.
 */
function changedFacets(before: Facets | undefined, after: Facets): Facet[] {
  if (!before) return FACETS.filter((f) => (f !== 'address' || after.address !== NO_ADDRESS) && (f !== 'refused' || after.refused !== NO_ADDRESS));
  return FACETS.filter((f) => before[f] !== after[f] && (f !== 'address' || !after.programmed));
}
type Meta = z.infer<typeof MetaSchema>['metadata'];

/** Flat, not nested: one small object per tracked object (there may be tens of thousands). */
interface Known extends Facets {
  ref: ObjectRef;
  rv: string;
  owner: ObjectRef | undefined;
  /** Its last state seen has a deletionTimestamp (a deletion cannot be taken back). */
  deleting: boolean;
  /** An IPAllocation: the claim of the address its last state seen named (Emission.held), for a deletion only a re-list notices. */
  held: ObjectRef | undefined;
  /** An IPAddressClaim: the allocations its last state seen named (Emission.holders), for a deletion only a re-list notices. */
  holders: readonly ObjectRef[] | undefined;
}

/**
 * What the bridge remembers of one kind: for every object it told the functions about, its
 * resourceVersion, one number per facet and its owner (a slice's Service, a claim's pool),
 * nothing more. That is enough to tell add from update, to drop replays, to route an update by
 * what it changed, and to notice after a re-list what was deleted while the watch was down (and
 * whose change that is).
 */
export interface Tracker {
  readonly kind: ObjectKind;
  has(key: string): boolean;
  /** Known and not being deleted, as last seen. */
  live(key: string): boolean;
  size(): number;
  /** The key of an object of this kind (as objectKey names it), tracked or not. */
  keyOf(obj: unknown): string | undefined;
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
  /**
   * After finish: the keys of objects that stopped concerning the tracker (see `seen`) and were
   * not listed, deleted while the watch was down. They have no emission, yet what was queued
   * for them while they concerned the bridge may still wait (see SourceOptions.deleted).
   */
  vanished(): string[];
}

/** `interesting`: objects outside it are not tracked, unless they were (their change is news). */
export function createTracker(kind: ObjectKind, interesting: (obj: unknown) => boolean = () => true): Tracker {
  const known = new Map<string, Known>();
  /**
   * The keys of objects it tracked that stopped concerning it and still exist, as last seen: a
   * re-list tells of their deletion (Relist.vanished), which no emission does. As large as
   * what lives of them.
   */
  const dropped = new Set<string>();
  const namespaced = RESOURCES[kind].namespaced;
  /** A claim whose facets say it is shared (its `address` facet is its sharing key). */
  const sharedClaim = (f: Facets): boolean => kind === 'IPAddressClaim' && f.address !== NO_ADDRESS;

  const identify = (obj: unknown): { key: string; meta: Meta; ref: ObjectRef; facets: Facets } | undefined => {
    const parsed = MetaSchema.safeParse(obj);
    if (!parsed.success) return undefined;
    const meta = parsed.data.metadata;
    const ref: ObjectRef = namespaced && meta.namespace ? { kind, namespace: meta.namespace, name: meta.name } : { kind, name: meta.name };
    return { key: objectKey(ref), meta, ref, facets: facetsOf(kind, obj, parsed.data) };
  };

  /** What the object belongs to (see Subject in routing.ts): a slice's or an allocation's Service, a claim's pool. */
  const ownerOf = (meta: Meta): ObjectRef | undefined => {
    if (kind === 'IPAddressClaim') {
      const pool = meta.labels?.[LABEL_CLAIM_POOL];
      return pool ? { kind: 'IPPool', name: pool } : undefined;
    }
    if (kind === 'IPAllocation') {
      const svc = serviceOfLabels(meta.labels);
      return svc ? { kind: 'Service', ...svc } : undefined;
    }
    const name = kind === 'EndpointSlice' ? meta.labels?.[LABEL_SLICE_SERVICE_NAME] : undefined;
    return name && meta.namespace ? { kind: 'Service', namespace: meta.namespace, name } : undefined;
  };

  function seen(obj: unknown): Emission | undefined {
    const id = identify(obj);
    if (!id) return undefined;
    const before = known.get(id.key);
    const wanted = interesting(obj);
    if (!wanted && !before) return undefined;
    const owner = ownerOf(id.meta);
    const deleting = id.meta.deletionTimestamp !== undefined;
    const held = kind === 'IPAllocation' ? claimOfStatus(obj) : undefined;
    const holders = kind === 'IPAddressClaim' ? holdersOfClaim(obj) : undefined;
    if (wanted) {
      known.set(id.key, { ref: id.ref, rv: id.meta.resourceVersion, owner, deleting, held, holders, ...id.facets });
      dropped.delete(id.key);
    } else {
      known.delete(id.key);
      dropped.add(id.key);
    }
    if (before && before.rv === id.meta.resourceVersion) return undefined;
    const changed = wanted ? changedFacets(before, id.facets) : undefined;
    // First seen already being deleted (the bridge started, or re-listed, after the deletion
    // began): an update, so that release hears of it as it would have of the deletion itself.
    // So is a Service first seen with MikroLB's finalizer: it was ours when a bridge last watched
    // it, and may have stopped being ours since (or a release was still being retried when that
    // bridge stopped). A new Service has no finalizer yet: allocate adds it.
    const wasOurs = kind === 'Service' && (id.meta.finalizers ?? []).includes(FINALIZER);
    const change = before || deleting || wasOurs ? 'update' : 'add';
    // its owner's label changed (a slice relabelled by hand): the owner it left changed too
    const formerOwner = before?.owner && (!owner || objectKey(before.owner) !== objectKey(owner)) ? before.owner : undefined;
    return {
      change, ref: id.ref, ...(owner ? { owner } : {}), ...(formerOwner ? { formerOwner } : {}), ...(changed ? { changed } : {}),
      ...(deleting ? { deleting } : {}), ...(sharedClaim(id.facets) ? { shared: true } : {}),
    };
  }

  function gone(obj: unknown): Emission | undefined {
    const id = identify(obj);
    if (!id) return undefined;
    const before = known.get(id.key);
    dropped.delete(id.key);
    if (!before && !interesting(obj)) return undefined;
    known.delete(id.key);
    const owner = ownerOf(id.meta) ?? before?.owner;
    const shared = sharedClaim(id.facets) || (before !== undefined && sharedClaim(before));
    const held = kind === 'IPAllocation' ? claimOfStatus(obj) ?? before?.held : undefined;
    const holders = kind === 'IPAddressClaim' ? holdersOfClaim(obj) ?? before?.holders : undefined;
    return { change: 'delete', ref: id.ref, ...(owner ? { owner } : {}), ...(shared ? { shared } : {}), ...(held ? { held } : {}), ...(holders ? { holders } : {}) };
  }

  function startRelist(): Relist {
    const listed = new Set<string>();
    const vanished: string[] = [];
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
          emissions.push({ change: 'delete', ref: entry.ref, ...(entry.owner ? { owner: entry.owner } : {}), ...(sharedClaim(entry) ? { shared: true } : {}), ...(entry.held ? { held: entry.held } : {}), ...(entry.holders ? { holders: entry.holders } : {}) });
        }
        for (const key of dropped) {
          if (listed.has(key)) continue;
          dropped.delete(key);
          vanished.push(key);
        }
        return emissions;
      },
      vanished: () => vanished,
    };
  }

  const relist = (items: readonly unknown[]): Emission[] => {
    const run = startRelist();
    return [...run.page(items), ...run.finish()];
  };

  const live = (key: string): boolean => {
    const entry = known.get(key);
    return entry !== undefined && !entry.deleting;
  };
  return { kind, has: (key) => known.has(key), live, size: () => known.size, keyOf: (obj) => identify(obj)?.key, seen, gone, relist, startRelist };
}

import { objectKey } from '../lib/events/identity.js';
import { FUNCTION_NAMES, type Change, type FunctionName, type ObjectKind, type ObjectRef } from '../lib/events/invocation.js';

/** The bridge's routing table speaks of the functions the event contract names. */
export { FUNCTION_NAMES, type FunctionName };

/**
 * Whom an event is about: the object itself, or the object it belongs to (`Emission.owner`): an
 * EndpointSlice's or an IPAllocation's Service, an IPAddressClaim's pool. A slice matters only
 * as a change of its Service (a deleted one could no longer be read to find it), and so do the
 * changes of a Service's slices coalesce; a claim matters only as a change of its pool, and as
 * that, a burst of claims coalesces into a few invocations per pool.
 * `service-or-object`: the owning Service if the object names one, else the object (an address
 * program acts on is its Service's: the function need not read the allocation to find it, and
 * the addresses of a dual-stack Service coalesce into one invocation).
 * `claim`: the IPAddressClaim of the address a deleted allocation held (Emission.held), while
 * the bridge still sees that claim.
 * `holders`: the IPAllocations a deleted IPAddressClaim named (Emission.holders) that the bridge
 * still sees live.
 */
export type Subject = 'object' | 'service' | 'pool' | 'service-or-object' | 'claim' | 'holders';

const OWNER_KIND: Record<'service' | 'pool', ObjectKind> = { service: 'Service', pool: 'IPPool' };

/**
 * Which part of an object an update changed: `spec` (metadata.generation, or any change of a
 * kind without one), `meta` (labels, annotations, finalizers, deletion), and `address`: what
 * allocate decided for an IPAllocation — the address it holds (`status.address` while its phase
 * is Allocated or Programmed), or the reason it failed (which program writes on the Service's
 * LoadBalancerReady condition) — and whether the router failed on that address (program's
 * `BackendError`, a standing request to program again) — all of any status a function acts on. The rest of an
 * allocation's status (conditions, observedGeneration, `advertised`, `interfaceName`) is what
 * program writes itself, or what allocate writes along with a new decision or because the pool
 * changed, which program hears of anyway; a pool's status (counts, conditions) and a Service's
 * (ingress) are outputs too. `refused`: the one word of program's that allocate acts on — the
 * address it holds is the router's own (`AddressInUseByRouter`), and it moves to another one
 * unless it asked for that address by name.
 */
export type Facet = 'spec' | 'meta' | 'address' | 'refused';

export interface Route {
  fn: FunctionName;
  subject: Subject;
  /** For updates: only when one of these parts changed (absent: any change). */
  on?: readonly Facet[];
  /** Only for an object that belongs to no Service (an operator reservation). */
  unowned?: true;
  /** Delivered this long after the change, coalescing what arrives meanwhile (see BATCH_DELAY_MS). */
  delayMs?: number;
  /** To the owning Service only while the bridge sees it live (see Emission.ownerGone). */
  ownerLive?: true;
  /** Only for a shared IPAddressClaim (see Emission.shared). */
  sharedOnly?: true;
}

/**
 * How long a freed claim's delivery to its pool waits: a burst of claims (many Services going
 * at once) recounts their pool once rather than once per claim, and a pool's invocation never
 * runs beside the invocation that is freeing or taking the claim. A freed address still
 * reaches the allocations waiting for it within about a second.
 */
export const BATCH_DELAY_MS = 1000;

/**
 * How long a taken claim's delivery to its pool waits. A claim taken frees nothing, so it only
 * changes the pool's counts (a recount lists the pool's claims, every one of them): during a
 * burst of new Services a pool is recounted every few seconds, not every second. A claim freed
 * meanwhile brings the delivery forward (BATCH_DELAY_MS).
 */
export const COUNT_DELAY_MS = 5000;

/**
 * The kinds allocate and program have nothing to do for once they are being deleted (each
 * returns on its first read of one with a deletionTimestamp): an update of such an object
 * reaches release alone.
 */
const RELEASED_ALONE_WHILE_DELETING: ReadonlySet<ObjectKind> = new Set(['Service', 'IPAllocation']);

const to = (...fns: FunctionName[]): readonly Route[] => fns.map((fn) => ({ fn, subject: 'object' }));
const batchedToPool = (delayMs: number, ...fns: FunctionName[]): readonly Route[] => fns.map((fn) => ({ fn, subject: 'pool', delayMs }));
const all = to('allocate', 'program', 'release');
const toLiveService = (...fns: FunctionName[]): readonly Route[] => fns.map((fn) => ({ fn, subject: 'service', ownerLive: true }));
const when = (on: readonly Facet[], ...fns: FunctionName[]): Route[] => fns.map((fn) => ({ fn, subject: 'object', on }));

/**
 * Which function hears of which change. Functions are level-triggered, so a route too many costs
 * one idle invocation while a route too few loses work: when unsure, a change is routed.
 * - add: nothing can be released yet (what might be, a Service first seen being deleted or with
 *   MikroLB's finalizer, the tracker turns into an update).
 * - update: a deletionTimestamp (finalizer pending) arrives as an update, hence release; from
 *   then on a Service or an allocation concerns release alone (RELEASED_ALONE_WHILE_DELETING).
 * - delete: allocate makes a Service's IPAllocation again (deleted by hand, while the Service
 *   lives), and program writes that Service's status without it. What was released went
 *   through release at its deletionTimestamp (our finalizer);
 *   once gone, it leaves every function nothing to read, so its delete reaches nobody else —
 *   an object whose finalizer was taken off by hand leaves its leftovers to release's garbage
 *   collector (the resync), but for an allocation's claim (see the IPAllocation routes).
 */
export const ROUTES: Readonly<Record<ObjectKind, Readonly<Record<Change, readonly Route[]>>>> = {
  // A pool's status (its counts) is written by allocate itself: nobody needs to hear of that.
  // A new pool holds no address yet (its addresses are held through claims, which go before the
  // pool does), so program has nothing to do for its add; and a starting bridge lists every pool
  // as new, which would program every Service holding one of its addresses a second time (each
  // is listed with our finalizer and programmed as itself).
  IPPool: { add: to('allocate'), update: when(['spec', 'meta'], 'allocate', 'program', 'release'), delete: all },
  // allocate decides on spec; program acts on the address allocate wrote (not on the conditions
  // it writes itself, which would wake it again), and on a spec allocate rewrote (a Service
  // pinning the address it holds): the words of a refusal (AddressInUseByRouter) say whether
  // the allocation asked for its address by name; release on deletion.
  IPAllocation: {
    // a new allocation holds no address to program yet, unless it was listed with one (a re-list);
    // one a Service owns was made by allocate for that Service, which allocated it in the same
    // invocation (a failed one is retried as the Service's): only a reservation needs allocate
    // (or one listed refused by program as the router's own: allocate moves it)
    add: [{ fn: 'allocate', subject: 'object', unowned: true }, ...when(['refused'], 'allocate'), { fn: 'program', subject: 'service-or-object', on: ['address'] }],
    update: [...when(['spec', 'meta', 'refused'], 'allocate'), { fn: 'program', subject: 'service-or-object', on: ['address', 'spec'] }, ...when(['meta'], 'program', 'release')],
    // allocate makes a Service's allocation again (deleted by hand, or while the Service came
    // back); program writes the live Service's ingress and condition without it (released
    // because the Service no longer wants it: program, woken by that change of the Service,
    // may have run while the allocation was still there). The allocation of a Service being
    // deleted, or gone, is not wanted again, and that Service has no status to write.
    // Release hears of the claim of the address it held if that claim still stands: deleted
    // without its release (its finalizer taken off by hand), its claim holds the address for
    // nobody, and waiting allocations (PoolExhausted, AddressAlreadyUsed) and a pool being
    // deleted would wait for the resync's garbage collection. Release frees the claim (its
    // deletion then reaches the pool's waiters, as any freed claim does).
    delete: [...toLiveService('allocate', 'program'), { fn: 'release', subject: 'claim' }],
  },
  // A Service's status is written by program itself. A new Service has no allocation for program
  // to act on: allocate's first write wakes it (the finalizer on the Service, the address).
  // Its delete follows its release (our finalizer), or it was never ours.
  Service: { add: to('allocate'), update: when(['spec', 'meta'], 'allocate', 'program', 'release'), delete: [] },
  // A slice reaches program as its Service (a deleted one can no longer be read): the changes of
  // a Service's slices and allocations coalesce into one invocation per Service, and one bridge
  // never runs program for a Service twice at once (as the slice and as the Service). The slices
  // of a Service being deleted, or gone, are programmed nowhere.
  EndpointSlice: { add: toLiveService('program'), update: toLiveService('program'), delete: toLiveService('program') },
  // A claim taken or freed changes its pool's counts; a freed address lets allocations waiting on
  // the pool (PoolExhausted, AddressAlreadyUsed) try again, and a pool being deleted finish
  // (batched: see BATCH_DELAY_MS and COUNT_DELAY_MS). A shared claim freed, or kept unshared by
  // one Service that dropped its key (its `address` facet is its sharing key), reaches program:
  // the address's own router entries go with its sharing (dropUnsharedEntries). Holders joining
  // and leaving a shared claim matter to nobody else. A claim deleted while an allocation it
  // named still lives (deleted by hand: a claim freed by its release names allocations being
  // deleted, or gone) reaches allocate as that allocation, at once: it claims the address it
  // still uses again, before the pool's batched invocation hands it to an allocation waiting
  // (whose NAT rules and advertisement would then clash with the holder's still on the router).
  IPAddressClaim: {
    add: batchedToPool(COUNT_DELAY_MS, 'allocate', 'release'),
    update: [{ fn: 'program', subject: 'object', on: ['address'] }],
    delete: [{ fn: 'allocate', subject: 'holders' }, ...batchedToPool(BATCH_DELAY_MS, 'allocate', 'release'), { fn: 'program', subject: 'object', sharedOnly: true }],
  },
  // A Namespace's labels decide which scoped pools (namespaceSelectors) serve its Services:
  // allocate checks the addresses they hold when the labels change. A new Namespace has no
  // Services yet, and a deleted one none left.
  Namespace: { add: [], update: when(['meta'], 'allocate'), delete: [] },
};

/** What the watch saw: a change of an object, and what it belongs to if anything (see Subject). */
export interface Emission {
  change: Change;
  ref: ObjectRef;
  owner?: ObjectRef;
  /** What changed since the last event; for an add, what the object has (absent: unknown, so everything). */
  changed?: readonly Facet[];
  /** The object (added or updated) has a deletionTimestamp. */
  deleting?: true;
  /** An IPAddressClaim that is shared (deleted: was, as last seen). */
  shared?: true;
  /**
   * A deleted IPAllocation: the IPAddressClaim of the address its last state named, while the
   * bridge still sees that claim (it outlived the allocation: see the IPAllocation routes).
   */
  held?: ObjectRef;
  /**
   * A deleted IPAddressClaim: the IPAllocations its last state named as holders, those the
   * bridge still sees live (see the IPAddressClaim routes).
   */
  holders?: readonly ObjectRef[];
  /**
   * Its owning Service is not live as the bridge sees it: being deleted, or not tracked (gone,
   * or not a Service of ours). Safe to act on although the watch lags: a Service being deleted
   * never lives again, and a live one the watch has not caught up with reaches the functions
   * when it does (a Service first seen with MikroLB's finalizer is an update for all three, one
   * without it has no allocations yet and goes to allocate).
   */
  ownerGone?: true;
  /**
   * The object belonged to another owner before this update (a slice whose Service label was
   * changed or taken off): that owner changed too, and hears of it as of a deletion of the
   * object (see routeEmission).
   */
  formerOwner?: ObjectRef;
  /** formerOwner is not live as the bridge sees it (see ownerGone). */
  formerOwnerGone?: true;
}

export interface Delivery {
  fn: FunctionName;
  change: Change;
  ref: ObjectRef;
  /** Wait this long before invoking (coalescing what arrives meanwhile). */
  delayMs?: number;
}

/**
 * The invocations one emission causes, per the table; for an object that left its owner (see
 * Emission.formerOwner), those its deletion causes that owner too.
 */
export function routeEmission(emission: Emission): Delivery[] {
  const { formerOwner, formerOwnerGone, ...rest } = emission;
  const own = routeTo(rest);
  if (!formerOwner || emission.change !== 'update') return own;
  const left = routeTo({ change: 'delete', ref: emission.ref, owner: formerOwner, ...(formerOwnerGone ? { ownerGone: true } : {}) })
    .filter((d) => objectKey(d.ref) === objectKey(formerOwner));
  return [...own, ...left];
}

function routeTo(emission: Emission): Delivery[] {
  const relevant = (route: Route): boolean =>
    emission.change === 'delete' || !route.on || !emission.changed || route.on.some((f) => emission.changed?.includes(f));
  const owner = emission.owner;
  const ownedBy = (kind: ObjectKind): ObjectRef | undefined => (owner?.kind === kind ? owner : undefined);
  const releasedAlone = emission.deleting && RELEASED_ALONE_WHILE_DELETING.has(emission.ref.kind);
  return ROUTES[emission.ref.kind][emission.change].filter(relevant).flatMap((route): Delivery[] => {
    if (route.unowned && ownedBy('Service')) return [];
    if (releasedAlone && route.fn !== 'release') return [];
    if (route.ownerLive && emission.ownerGone) return [];
    if (route.sharedOnly && !emission.shared) return [];
    const self: Delivery = { fn: route.fn, change: emission.change, ref: emission.ref };
    if (route.subject === 'object') return [self];
    if (route.subject === 'claim') return emission.held ? [{ fn: route.fn, change: 'update', ref: emission.held }] : [];
    if (route.subject === 'holders') return (emission.holders ?? []).map((ref) => ({ fn: route.fn, change: 'update', ref }));
    // The owner still exists (or its own delete is routed): it changed because of this object.
    const to = ownedBy(route.subject === 'service-or-object' ? 'Service' : OWNER_KIND[route.subject]);
    if (to) return [{ fn: route.fn, change: 'update', ref: to, ...(route.delayMs ? { delayMs: route.delayMs } : {}) }];
    return route.subject === 'service-or-object' ? [self] : [];
  });
}

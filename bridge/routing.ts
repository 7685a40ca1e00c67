import { FUNCTION_NAMES, type Change, type FunctionName, type ObjectKind, type ObjectRef } from '../lib/events/invocation.js';

/** The bridge's routing table speaks of the functions the event contract names. */
export { FUNCTION_NAMES, type FunctionName };

/**
 * Whom an event is about: the object itself, or (for an EndpointSlice) the Service it belongs
 * to. A deleted slice can no longer be read, so the function could not find its Service.
 */
export type Subject = 'object' | 'service';

/**
 * Which part of an object an update changed: `spec` (metadata.generation, or any change of a
 * kind without one), `meta` (labels, annotations, finalizers, deletion), `status`.
 */
export type Facet = 'spec' | 'meta' | 'status';

export interface Route {
  fn: FunctionName;
  subject: Subject;
  /** For updates: only when one of these parts changed (absent: any change). */
  on?: readonly Facet[];
}

const to = (...fns: FunctionName[]): readonly Route[] => fns.map((fn) => ({ fn, subject: 'object' }));
const all = to('allocate', 'program', 'release');
const when = (on: readonly Facet[], ...fns: FunctionName[]): Route[] => fns.map((fn) => ({ fn, subject: 'object', on }));

/**
 * Which function hears of which change. Functions are level-triggered, so a route too many costs
 * one idle invocation while a route too few loses work: when unsure, a change is routed.
 * - add: nothing can be released yet.
 * - update: a deletionTimestamp (finalizer pending) arrives as an update, hence release.
 * - delete: allocate re-creates an IPAllocation deleted by hand; release collects leftovers.
 */
export const ROUTES: Readonly<Record<ObjectKind, Readonly<Record<Change, readonly Route[]>>>> = {
  // A pool's status changes with every reservation (the ledger): nobody needs to hear of that.
  IPPool: { add: to('allocate', 'program'), update: when(['spec', 'meta'], 'allocate', 'program', 'release'), delete: all },
  // allocate decides on spec; program acts on the status allocate wrote; release on deletion.
  IPAllocation: {
    // a new allocation has no address to program yet, unless it was listed with one (a re-list)
    add: [...to('allocate'), ...when(['status'], 'program')],
    update: [...when(['spec', 'meta'], 'allocate'), ...when(['status', 'meta'], 'program'), ...when(['meta'], 'release')],
    delete: all,
  },
  // A Service's status is written by program itself.
  Service: { add: to('allocate', 'program'), update: when(['spec', 'meta'], 'allocate', 'program', 'release'), delete: all },
  EndpointSlice: {
    add: to('program'),
    update: to('program'),
    delete: [{ fn: 'program', subject: 'service' }],
  },
};

/** What the watch saw: a change of an object, and the Service it belongs to if any. */
export interface Emission {
  change: Change;
  ref: ObjectRef;
  service?: ObjectRef;
  /** What changed since the last event; for an add, what the object has (absent: unknown, so everything). */
  changed?: readonly Facet[];
}

export interface Delivery {
  fn: FunctionName;
  change: Change;
  ref: ObjectRef;
}

/** The invocations one emission causes, per the table. */
export function routeEmission(emission: Emission): Delivery[] {
  const relevant = (route: Route): boolean =>
    emission.change === 'delete' || !route.on || !emission.changed || route.on.some((f) => emission.changed?.includes(f));
  return ROUTES[emission.ref.kind][emission.change].filter(relevant).flatMap((route): Delivery[] => {
    if (route.subject === 'object') return [{ fn: route.fn, change: emission.change, ref: emission.ref }];
    // The Service still exists (or its own delete is routed): it changed because its slice went.
    return emission.service ? [{ fn: route.fn, change: 'update', ref: emission.service }] : [];
  });
}

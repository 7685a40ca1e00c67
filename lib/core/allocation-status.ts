import { FORMER_ADDRESSES_KEPT, type IPAllocation, type IPAllocationStatus } from '../k8s/schemas.js';
import { findCondition, sameConditions, setConditions, type ConditionInput } from './conditions.js';
import type { Decision } from './assign.js';

/**
 * The status model of an IPAllocation (see ARCHITECTURE.md), in one place: allocate and program
 * both write the allocation's conditions, and every word of them comes from here, so the two
 * writers can never disagree (a disagreement is a status write on every resync, each waking
 * the other).
 */

export const COND_ALLOCATED = 'Allocated';
export const COND_PROGRAMMED = 'Programmed';
export const COND_READY = 'Ready';
/** The router failed on the address (unreachable, or an error answering the write): program answers "retry later". */
export const REASON_BACKEND_ERROR = 'BackendError';

/**
 * An allocation allocate has created and not yet recorded a decision in: its status is written
 * right after the create, or — in the all-in-one controller's hand-off — after the router
 * write, beside the Service's ingress. Until then the cluster does not show the address it may
 * already hold on the router, so nothing may be planned for its Service from what it shows
 * (a plan would take that address's entries off, and a reader that sees the hand-off's ingress
 * before its status would take the ingress back). The status write that ends it wakes program,
 * or is the hand-off's, which programmed the Service itself.
 */
export const decisionUnrecorded = (a: IPAllocation): boolean => a.status?.phase === undefined;

/** Program's reason for an address the router itself holds (see router-holders.ts). */
export const REASON_ADDRESS_IN_USE_BY_ROUTER = 'AddressInUseByRouter';

/**
 * The address program refused because the router itself holds it, while the allocation still
 * holds it and did not ask for it by name: allocate moves such an allocation to another free
 * address (an explicit address stays, refused, as the user asked for it).
 */
export function refusedByRouter(a: IPAllocation): string | undefined {
  const s = a.status;
  if (a.spec.address || !s?.address || (s.phase !== 'Allocated' && s.phase !== 'Programmed')) return undefined;
  return findCondition(s.conditions, COND_PROGRAMMED)?.reason === REASON_ADDRESS_IN_USE_BY_ROUTER ? s.address : undefined;
}

/** What program learnt from the router about one allocation's address. */
export type RouterOutcome =
  | { kind: 'advertised'; interfaceName: string }
  | { kind: 'notAdvertised' }
  /** `advertisedOn`: the router refused to move the address, which stays advertised on that interface. */
  | { kind: 'failed'; message: string; advertisedOn?: string }
  /** Not programmed at all, for a reason the router's own state gives (see refusedAddresses). */
  | { kind: 'refused'; reason: typeof REASON_ADDRESS_IN_USE_BY_ROUTER; message: string };

/** Where an allocation stands; each state words its conditions once. */
export type AllocationState =
  | { kind: 'notAllocated'; reason: string; message: string }
  | { kind: 'pending'; address: string; pool: string }
  | { kind: 'notAdvertised'; address: string }
  | { kind: 'advertised'; address: string; interfaceName: string }
  | { kind: 'backendError'; message: string }
  | { kind: 'refused'; reason: typeof REASON_ADDRESS_IN_USE_BY_ROUTER; message: string };

/**
 * The Programmed and Ready conditions of a state (and Allocated when nothing is allocated).
 * The texts name only what every writer knows: the address and the router's answer.
 */
export function stateConditions(state: AllocationState): ConditionInput[] {
  switch (state.kind) {
    case 'notAllocated':
      return [
        { type: COND_ALLOCATED, status: 'False', reason: state.reason, message: state.message },
        { type: COND_PROGRAMMED, status: 'False', reason: 'NotAllocated', message: 'No address is allocated, so nothing is programmed.' },
        { type: COND_READY, status: 'False', reason: state.reason, message: state.message },
      ];
    case 'pending':
      return [
        { type: COND_PROGRAMMED, status: 'Unknown', reason: 'Pending', message: `Waiting for the router to advertise ${state.address}.` },
        { type: COND_READY, status: 'False', reason: 'ProgrammingPending', message: `Address ${state.address} is allocated from pool ${state.pool}; waiting for the router.` },
      ];
    case 'notAdvertised':
      return [
        { type: COND_PROGRAMMED, status: 'False', reason: 'NotAdvertised', message: `The pool of ${state.address} does not advertise its addresses on the router (advertise: false).` },
        { type: COND_READY, status: 'True', reason: 'AllocatedButNotAdvertised', message: `Address ${state.address} is allocated and not advertised (advertise: false).` },
      ];
    case 'advertised':
      return [
        { type: COND_PROGRAMMED, status: 'True', reason: 'Programmed', message: `Address ${state.address} is advertised on interface ${state.interfaceName}.` },
        { type: COND_READY, status: 'True', reason: 'AllocatedAndProgrammed', message: `Address ${state.address} is allocated and advertised on ${state.interfaceName}.` },
      ];
    case 'backendError':
      return [
        { type: COND_PROGRAMMED, status: 'False', reason: REASON_BACKEND_ERROR, message: state.message },
        { type: COND_READY, status: 'False', reason: REASON_BACKEND_ERROR, message: state.message },
      ];
    case 'refused':
      return [
        { type: COND_PROGRAMMED, status: 'False', reason: state.reason, message: state.message },
        { type: COND_READY, status: 'False', reason: state.reason, message: state.message },
      ];
  }
}

/**
 * The `IPAllocated` event's note. With the router's outcome when the address was programmed in
 * the invocation that allocated it (the all-in-one hand-off): an advertised address then needs
 * no `Programmed` event of its own.
 */
export function allocatedNote(address: string, pool: string, outcome?: RouterOutcome): string {
  const allocated = `Allocated address ${address} from pool ${pool}`;
  return outcome?.kind === 'advertised' ? `${allocated}; advertised on interface ${outcome.interfaceName}.` : `${allocated}.`;
}

/** The Allocated condition of an address that allocate chose. */
export function allocatedCondition(address: string, pool: string): ConditionInput {
  return { type: COND_ALLOCATED, status: 'True', reason: 'Allocated', message: `Address ${address} is allocated from pool ${pool}.` };
}

/** Whether program has already spoken about this address (its word stands until the address or pool changes). */
function programSpoke(prev: IPAllocationStatus, sameAddress: boolean): boolean {
  const reason = findCondition(prev.conditions, COND_PROGRAMMED)?.reason;
  return sameAddress && reason !== 'NotAdvertised' && reason !== 'NotAllocated';
}

/**
 * Program's word on the address as it stands (Programmed, Ready), to be restated at the
 * generation allocate decided on: a spec that changed while the address stayed (a pin, see
 * `respec` in functions/allocate/service.ts) changes nothing program judged — the address, the
 * pool's settings and the router — so the conditions say they hold for that generation too
 * (setConditions keeps their lastTransitionTime). Except a refusal: its message says whether
 * the allocation asked for the address by name, so it stays of the generation program judged,
 * and program, which hears of the spec change, words it again.
 */
function programWord(prev: IPAllocationStatus): ConditionInput[] {
  if (findCondition(prev.conditions, COND_PROGRAMMED)?.reason === REASON_ADDRESS_IN_USE_BY_ROUTER) return [];
  return [COND_PROGRAMMED, COND_READY].flatMap((type) => {
    const c = findCondition(prev.conditions, type);
    return c ? [{ type, status: c.status, reason: c.reason, message: c.message }] : [];
  });
}

/**
 * The allocation's status after allocate decided. With `advertise: false` allocate knows the
 * whole answer itself; otherwise what program reported (Programmed, BackendError) is kept while
 * the address stays the same (see programWord), and a new address waits for the router.
 */
export function allocatedStatus(a: IPAllocation, d: Decision, pool: { advertise: boolean; interfaceName?: string } | undefined, now: Date): IPAllocationStatus {
  const gen = a.metadata.generation;
  const prev = a.status ?? {};
  const former = formerAfter(prev, d.ok ? d.address : undefined);
  if (!d.ok) {
    const conditions = setConditions(prev.conditions, stateConditions({ kind: 'notAllocated', reason: d.reason, message: d.message }), gen, now);
    return { phase: 'Failed', ...(former ? { formerAddresses: former } : {}), conditions, observedGeneration: gen };
  }
  const advertise = pool?.advertise ?? true;
  const sameAddress = prev.address === d.address && (prev.phase === 'Allocated' || prev.phase === 'Programmed');
  const rest = !advertise
    ? stateConditions({ kind: 'notAdvertised', address: d.address })
    : programSpoke(prev, sameAddress) ? programWord(prev) : stateConditions({ kind: 'pending', address: d.address, pool: d.pool });
  const conditions = setConditions(prev.conditions, [allocatedCondition(d.address, d.pool), ...rest], gen, now);
  const keepPhase = sameAddress && prev.phase === 'Programmed' && advertise;
  // where the router advertises the address (program's word) until program moves it; an
  // address not advertised yet names the interface its pool asks for; none once the pool
  // stops advertising
  const advertised = sameAddress && advertise && prev.advertised === true;
  const { formerAddresses: _, interfaceName: iface, ...kept } = prev;
  const interfaceName = !advertise ? undefined : advertised ? iface ?? pool?.interfaceName : pool?.interfaceName ?? iface;
  return {
    ...kept,
    ...(former ? { formerAddresses: former } : {}),
    phase: keepPhase ? 'Programmed' : 'Allocated',
    address: d.address,
    advertised,
    ...(interfaceName ? { interfaceName } : {}),
    conditions,
    observedGeneration: gen,
  };
}

/**
 * The former addresses after the allocation holds `next` (undefined: none): the address it
 * leaves joins them, as program may have written entries for it (a run that failed half-way
 * writes no ingress, so the Service's status need not name it); an address held again leaves
 * them. Capped, the oldest dropped first.
 */
function formerAfter(prev: IPAllocationStatus, next: string | undefined): string[] | undefined {
  const left = prev.address !== undefined && prev.address !== next ? [prev.address] : [];
  const all = [...new Set([...(prev.formerAddresses ?? []), ...left])].filter((a) => a !== next);
  return all.length > 0 ? all.slice(-FORMER_ADDRESSES_KEPT) : undefined;
}

/** The status without the former addresses whose entries a program run took off the router. */
export function formerCleared(status: IPAllocationStatus, cleared: ReadonlySet<string>): IPAllocationStatus {
  const { formerAddresses, ...rest } = status;
  const left = (formerAddresses ?? []).filter((a) => !cleared.has(a));
  return left.length > 0 ? { ...rest, formerAddresses: left } : rest;
}

/** An allocation's status after program talked to the router about its address. */
export function programmedStatus(a: IPAllocation, outcome: RouterOutcome, now: Date): IPAllocationStatus {
  const prev = a.status ?? {};
  const address = prev.address ?? '';
  const gen = a.metadata.generation;
  if (outcome.kind === 'advertised') {
    const conditions = setConditions(prev.conditions, stateConditions({ kind: 'advertised', address, interfaceName: outcome.interfaceName }), gen, now);
    return { ...prev, phase: 'Programmed', advertised: true, interfaceName: outcome.interfaceName, conditions };
  }
  const state: AllocationState =
    outcome.kind === 'notAdvertised' ? { kind: 'notAdvertised', address }
      : outcome.kind === 'refused' ? outcome
        : { kind: 'backendError', message: outcome.message };
  const conditions = setConditions(prev.conditions, stateConditions(state), gen, now);
  // a refused move: the address goes on being advertised where the router has it
  if (outcome.kind === 'failed' && outcome.advertisedOn !== undefined) return { ...prev, phase: 'Allocated', advertised: true, interfaceName: outcome.advertisedOn, conditions };
  // not advertised: no interface it is advertised on (a pool switched to advertise: false)
  const { interfaceName: _, ...rest } = prev;
  const kept = outcome.kind === 'notAdvertised' ? rest : prev;
  return { ...kept, phase: 'Allocated', advertised: false, conditions };
}

/**
 * Whether `next` tells something new of the router's outcome: its Programmed condition (status,
 * reason, message: the outcome's kind and its words) differs from `prev`'s. The outcome's event
 * goes with that news only: a write that restates the same outcome (at a newer generation, or
 * clearing former addresses) was announced when the outcome was first written.
 */
export function outcomeChanged(prev: IPAllocationStatus | undefined, next: IPAllocationStatus | undefined): boolean {
  const p = findCondition(prev?.conditions, COND_PROGRAMMED);
  const n = findCondition(next?.conditions, COND_PROGRAMMED);
  return p?.status !== n?.status || p?.reason !== n?.reason || p?.message !== n?.message;
}

/** Whether writing `next` would change anything a user can see. */
export function statusChanged(prev: IPAllocationStatus | undefined, next: IPAllocationStatus): boolean {
  const p = prev ?? {};
  return p.phase !== next.phase || p.address !== next.address || p.advertised !== next.advertised
    || p.interfaceName !== next.interfaceName || p.observedGeneration !== next.observedGeneration
    || (p.formerAddresses ?? []).join() !== (next.formerAddresses ?? []).join()
    || !sameConditions(p.conditions, next.conditions);
}

import type { AdvertisementWant } from './program-model.js';
import type { RouterOutcome } from './program-status.js';
import { interfaceFor } from './route-interface.js';
import type { IPFamily } from '../ip/index.js';
import {
  advertisementEntry, globalEntries, mergeDesired, menusFor, planState, scopes, serviceEntries,
  type DesiredMenus, type Op, type Scope, type ServiceProgram,
} from '../router/index.js';
import type { RouterPort } from '../router/port.js';
import type { RouterEntry, RouterState } from '../routeros/state.js';

const FAMILIES: readonly IPFamily[] = ['IPv4', 'IPv6'];
const ROUTE_MENU: Record<IPFamily, string> = { IPv4: '/ip/route', IPv6: '/ipv6/route' };
const ADDRESS_MENU: Record<IPFamily, string> = { IPv4: '/ip/address', IPv6: '/ipv6/address' };

export interface OwnerProgram {
  /** Owner of the entries: the Service's uid (or an operator reservation's own uid). */
  uid: string;
  service?: ServiceProgram;
  adverts: readonly AdvertisementWant[];
}

export interface PlanResult {
  ops: Op[];
  outcomes: Map<string, RouterOutcome>;
}

/** Families whose global rules this owner's rules rely on. */
function familiesNeeding(p: OwnerProgram): Set<IPFamily> {
  const s = p.service;
  const out = new Set<IPFamily>();
  if (s?.lbEnabled) for (const a of s.lbAddresses) out.add(a.family);
  if (s?.snatEnabled) for (const a of s.snatAddresses) out.add(a.family);
  return out;
}

/** Every menu one owner's plan reads, for one pipelined round trip. */
export function menusToRead(): string[] {
  return FAMILIES.flatMap((f) => [...menusFor(f), ROUTE_MENU[f]]);
}

function desiredAdverts(p: OwnerProgram, state: Record<string, RouterEntry[]>, outcomes: Map<string, RouterOutcome>): DesiredMenus[] {
  const parts: DesiredMenus[] = [];
  for (const w of p.adverts) {
    const key = w.allocation.metadata.name;
    if (!w.advertise) {
      outcomes.set(key, { kind: 'notAdvertised' });
      continue;
    }
    const iface = w.interfaceName ?? interfaceFor(w.family, w.address, state[ROUTE_MENU[w.family]] ?? [], state[ADDRESS_MENU[w.family]] ?? []);
    if (!iface) {
      outcomes.set(key, { kind: 'failed', message: `The router has no route to ${w.address}, so no interface to advertise it on; set interfaceName on its IPPool.` });
      continue;
    }
    const adv = advertisementEntry({ serviceUid: p.uid, family: w.family, address: w.address, interfaceName: iface });
    parts.push({ [adv.menu]: [adv.entry] });
    outcomes.set(key, { kind: 'advertised', interfaceName: iface });
  }
  return parts;
}

/** Pure: the ops that make the router carry exactly this owner's entries (and needed globals). */
export function planOwner(p: OwnerProgram, state: Record<string, RouterEntry[]>): PlanResult {
  const outcomes = new Map<string, RouterOutcome>();
  const needs = familiesNeeding(p);
  const desired = mergeDesired(
    ...(p.service ? [serviceEntries(p.service)] : []),
    ...[...needs].map((f) => globalEntries(f)),
    ...desiredAdverts(p, state, outcomes),
  );
  const routerState: RouterState = { version: '7', menus: state };
  const ops: Op[] = [];
  for (const f of FAMILIES) {
    const own = scopes.service(p.uid);
    const scope: Scope = needs.has(f) ? (o) => own(o) || scopes.global(o) : own;
    ops.push(...planState(routerState, desired, scope, menusFor(f)));
  }
  return { ops, outcomes };
}

/** Reads (one round trip), plans, and writes (one round trip, only when something differs). */
export async function programOwner(router: RouterPort, p: OwnerProgram): Promise<PlanResult> {
  const state = await router.readMany(menusToRead());
  const result = planOwner(p, state);
  if (result.ops.length > 0) await router.execute(result.ops);
  return result;
}

import { familyBits, formatAddress, parseAddress, type IPFamily } from '../ip/index.js';
import type { FamilyAddress } from '../router/index.js';
import { LB_LIST, ownerOf, plannedOwner } from '../router/index.js';
import { firewallMenu } from '../router/menus.js';
import type { RouterEntry } from '../router/state.js';
import type { AdvertisementWant } from './program-model.js';
import { REASON_ADDRESS_IN_USE_BY_ROUTER, type RouterOutcome } from './allocation-status.js';

/**
 * Addresses the router itself holds. An LB address that a foreign `/ip/address` or
 * `/ipv6/address` entry carries (the router's LAN address, a DHCP client's, an operator's) is
 * never programmed: its input rules would lock the router's own services out of it and its
 * dst-nat rules would hijack them. The allocation says so (AddressInUseByRouter) instead.
 */

export const ADDRESS_MENU: Record<IPFamily, string> = { IPv4: '/ip/address', IPv6: '/ipv6/address' };

/**
 * The foreign entry whose host part is `address`, if any: not ours (not MikroLB's, MikroLB's of
 * another cluster sharing the router, or dynamic). Another cluster's advertisement is as much
 * the router's as the router's own: the address already leads to that cluster's Services.
 */
export function routerHolder(family: IPFamily, address: string, entries: readonly RouterEntry[], cluster: string): RouterEntry | undefined {
  const wanted = parseAddress(address);
  if (!wanted.ok) return undefined;
  // ours only as the planner judges it: an address wider than a host (our advertisement widened
  // by hand into an interface address) is the router's whatever its comment, and never removed
  return entries.find((e) => {
    if (plannedOwner(ADDRESS_MENU[family], e)?.cluster === cluster) return false;
    const host = parseAddress(e.address?.split('/')[0] ?? '');
    return host.ok && host.family === family && host.value === wanted.value;
  });
}

/**
 * The entry of the LB address list (`mikrolb-lb`) for `address` that is not ours: made by hand,
 * or another cluster's (an address of its pool with `advertise: false` has no advertisement).
 * The router refuses our own entry beside it (`already have such entry`), and the list leads
 * the address to that cluster's rules: it holds the address as an advertisement would.
 */
export function listHolder(family: IPFamily, address: string, entries: readonly RouterEntry[], cluster: string): RouterEntry | undefined {
  const wanted = parseAddress(address);
  if (!wanted.ok) return undefined;
  return entries.find((e) => {
    if (e.list !== LB_LIST || (e.dynamic !== 'true' && ownerOf(e.comment)?.cluster === cluster)) return false;
    const [host = '', length] = (e.address ?? '').split('/');
    const parsed = parseAddress(host);
    return parsed.ok && parsed.family === family && parsed.value === wanted.value && (length === undefined || Number(length) === familyBits(family));
  });
}

/** Query conditions (for `anyOf`) that find an address-list entry for `address`, in any list. */
export function listHolderConditions(a: FamilyAddress): string[] {
  const p = parseAddress(a.address);
  if (!p.ok || p.family !== a.family) return [];
  const text = formatAddress(p.family, p.value);
  return [`address=${text}`, `address=${text}/${familyBits(p.family)}`];
}

/**
 * Query conditions (for `anyOf`) that find an entry holding `address` with any prefix length:
 * RouterOS prints `address` as `<host>/<length>`, and a query compares whole values.
 */
export function holderConditions(a: FamilyAddress): string[] {
  const p = parseAddress(a.address);
  if (!p.ok || p.family !== a.family) return [];
  const text = formatAddress(p.family, p.value);
  return Array.from({ length: familyBits(p.family) + 1 }, (_, len) => `address=${text}/${len}`);
}

/** An address as the refused sets key it (its family and value, whatever its text). */
export const keyOf = (family: IPFamily, address: string): string => {
  const p = parseAddress(address);
  return `${family}|${p.ok ? String(p.value) : address}`;
};

/** Who wrote a holder of `menu`: another cluster's MikroLB, or anyone else. */
function whoseEntry(menu: string, holder: RouterEntry): string {
  const other = plannedOwner(menu, holder)?.cluster;
  return other === undefined ? 'not added by MikroLB' : `added by the MikroLB of cluster ${JSON.stringify(other)}`;
}

/** Why the want is refused, or undefined when nothing on the router holds its address. */
function refusal(w: AdvertisementWant, state: Record<string, RouterEntry[]>, cluster: string): string | undefined {
  const address = `Address ${w.address}${w.pool ? ` of pool ${w.pool}` : ''}`;
  const explicit = w.allocation.spec.address !== undefined;
  const holder = routerHolder(w.family, w.address, state[ADDRESS_MENU[w.family]] ?? [], cluster);
  if (holder) {
    const where = `${holder.address ?? w.address}${holder.interface ? ` on ${holder.interface}` : ''}`;
    return `${address} is the router's own (${where}, ${whoseEntry(ADDRESS_MENU[w.family], holder)}), so nothing is programmed for it; ${explicit ? 'exclude it from the pool' : 'the allocation moves to another free address if one is left (exclude it from the pool to skip it)'}.`;
  }
  const listed = listHolder(w.family, w.address, state[firewallMenu(w.family, 'address-list')] ?? [], cluster);
  if (!listed) return undefined;
  const foreign = ownerOf(listed.comment) === undefined || listed.dynamic === 'true';
  const entry = [`entry ${listed['.id'] ?? ''}`, ...(foreign && listed.comment ? [`comment ${JSON.stringify(listed.comment)}`] : []), whoseEntry(firewallMenu(w.family, 'address-list'), listed)].filter(Boolean).join(', ');
  const removal = 'remove that entry if nothing uses the address';
  return `${address} is in the router's address list ${LB_LIST} already (${entry}), so nothing is programmed for it; ${explicit ? `exclude it from the pool, or ${removal}` : `the allocation moves to another free address if one is left (exclude it from the pool to skip it, or ${removal})`}.`;
}

/**
 * The wants whose address the router holds (see routerHolder and listHolder), with the outcome
 * each allocation gets.
 */
export function refusedWants(adverts: readonly AdvertisementWant[], state: Record<string, RouterEntry[]>, cluster: string): { outcomes: Map<string, RouterOutcome>; addresses: Set<string> } {
  const outcomes = new Map<string, RouterOutcome>();
  const addresses = new Set<string>();
  for (const w of adverts) {
    const message = refusal(w, state, cluster);
    if (message === undefined) continue;
    addresses.add(keyOf(w.family, w.address));
    outcomes.set(w.allocation.metadata.name, { kind: 'refused', reason: REASON_ADDRESS_IN_USE_BY_ROUTER, message });
  }
  return { outcomes, addresses };
}

/** Whether an address is one of the refused ones. */
export const isRefused = (refused: Set<string>, a: FamilyAddress): boolean => refused.has(keyOf(a.family, a.address));

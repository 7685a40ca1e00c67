import type { IPFamily } from '../ip/index.js';
import { inCluster } from './names.js';

/** A desired router entry: wire-format properties, always with our ownership comment. */
export type DesiredEntry = Readonly<Record<string, string>> & { readonly comment: string };

/** Desired entries per menu path, each list in the order the entries should appear. */
export type DesiredMenus = Record<string, DesiredEntry[]>;

export type FirewallTable = 'filter' | 'nat' | 'mangle' | 'address-list';

const prefix = (family: IPFamily): string => (family === 'IPv4' ? '/ip' : '/ipv6');

export function firewallMenu(family: IPFamily, table: FirewallTable): string {
  return `${prefix(family)}/firewall/${table}`;
}

export function addressMenu(family: IPFamily): string {
  return `${prefix(family)}/address`;
}

/** IPv4 NAT rules take `to-addresses`, IPv6 NAT rules `to-address`. */
export function natTargetProperty(family: IPFamily): string {
  return family === 'IPv4' ? 'to-addresses' : 'to-address';
}

/**
 * The menus the layout writes for a family: what `program` must read before planning. Planned
 * in this order, lists and rules are in place before an address is advertised, so a new LB
 * address never answers with the router's own services (stagePlan then holds NAT back until
 * the advertisement is in).
 */
export function menusFor(family: IPFamily): string[] {
  return [
    firewallMenu(family, 'address-list'),
    firewallMenu(family, 'filter'),
    firewallMenu(family, 'mangle'),
    firewallMenu(family, 'nat'),
    addressMenu(family),
  ];
}

/** Rule menus, where entry order is semantics; address menus are sets. */
export function isOrderedMenu(menu: string): boolean {
  return /^\/(ip|ipv6)\/firewall\/(filter|nat|mangle|raw)$/.test(menu);
}

/** Concatenates desired entries menu by menu, keeping each part's order. */
export function mergeDesired(...parts: DesiredMenus[]): DesiredMenus {
  const merged: DesiredMenus = {};
  for (const part of parts) {
    for (const [menu, entries] of Object.entries(part)) merged[menu] = [...(merged[menu] ?? []), ...entries];
  }
  return merged;
}

/** The same desired entries owned by another cluster (the layout writes the default cluster's tags). */
export function forCluster(desired: DesiredMenus, cluster: string): DesiredMenus {
  return Object.fromEntries(Object.entries(desired).map(([menu, entries]) => [menu, entries.map((entry) => ({ ...entry, comment: inCluster(entry.comment, cluster) }))]));
}

import { parseAddress, parseInterfaceAddress, parseSpan, spanContains, type AddressSpan, type Family } from './addresses.js';
import type { Env } from './flow.js';
import { firewallMenu } from './rules.js';
import type { RouterEntry, RouterState } from '../../lib/router/state.js';
import { parseBoolean } from './values.js';

/** The parts of a router's state the firewall consults besides its rules, plus the tracer's counters. */
export interface RouterView {
  env: Env;
  /** Why an address list cannot be evaluated, if it cannot. */
  listProblem(family: Family, list: string): string | undefined;
  /** The interface a connection to `dst` leaves through: connected networks first, then routes. */
  outInterface(family: Family, dst: bigint): string | undefined;
  /** Forgets nth counters and addresses added by rules. */
  reset(): void;
}

interface InterfaceAddress {
  name: string;
  address: bigint;
  network: AddressSpan;
}

const FAMILIES: readonly Family[] = ['IPv4', 'IPv6'];
const LOOPBACK: Record<Family, bigint> = { IPv4: 0x7f000001n, IPv6: 1n };

function isSet(text: string | undefined): boolean {
  const flag = parseBoolean(text, false);
  return flag.ok && flag.value;
}

function active(entry: RouterEntry): boolean {
  return !isSet(entry.disabled) && !isSet(entry.invalid);
}

function entries(state: RouterState, menu: string): RouterEntry[] {
  return (state.menus[menu] ?? []).filter(active);
}

function interfaceAddresses(state: RouterState, family: Family): InterfaceAddress[] {
  return entries(state, family === 'IPv4' ? '/ip/address' : '/ipv6/address').flatMap((entry) => {
    const parsed = parseInterfaceAddress(entry.address ?? '');
    if (!parsed || parsed.network.family !== family || !entry.interface) return [];
    return [{ name: entry.interface, ...parsed }];
  });
}

function staticLists(state: RouterState, family: Family): { spans: Map<string, AddressSpan[]>; problems: Map<string, string> } {
  const spans = new Map<string, AddressSpan[]>();
  const problems = new Map<string, string>();
  for (const entry of entries(state, firewallMenu(family, 'address-list'))) {
    const list = entry.list ?? '';
    const span = parseSpan(entry.address ?? '');
    if (span?.family === family) spans.set(list, [...(spans.get(list) ?? []), span]);
    else if (!problems.has(list)) {
      problems.set(list, `address list '${list}' entry ${entry['.id'] ?? ''} holds '${entry.address ?? ''}', which is not an ${family} address, CIDR or range`);
    }
  }
  return { spans, problems };
}

/** Longest-prefix choice among candidates whose span contains the address. */
function longestMatch<T extends { span: AddressSpan }>(candidates: T[], family: Family, address: bigint): T | undefined {
  return candidates
    .filter((candidate) => spanContains(candidate.span, family, address))
    .sort((a, b) => (a.span.hi - a.span.lo < b.span.hi - b.span.lo ? -1 : 1))[0];
}

function routeInterface(state: RouterState, family: Family, connected: InterfaceAddress[], dst: bigint): string | undefined {
  const routes = entries(state, family === 'IPv4' ? '/ip/route' : '/ipv6/route').flatMap((entry) => {
    const span = parseSpan(entry['dst-address'] ?? '');
    return span ? [{ span, gateway: entry['immediate-gw'] || entry.gateway || '' }] : [];
  });
  const gateway = longestMatch(routes, family, dst)?.gateway;
  if (!gateway) return undefined;
  const [address = '', scope] = gateway.split('%');
  if (scope) return scope;
  const parsed = parseAddress(address);
  if (!parsed) return address;
  return longestMatch(connected.map((c) => ({ ...c, span: c.network })), family, parsed.value)?.name;
}

export function createRouterView(state: RouterState): RouterView {
  const addresses = new Map(FAMILIES.map((family) => [family, interfaceAddresses(state, family)]));
  const lists = new Map(FAMILIES.map((family) => [family, staticLists(state, family)]));
  const members = entries(state, '/interface/list/member');
  const counters = new Map<string, number>();
  const added = new Set<string>();
  const connected = (family: Family): InterfaceAddress[] => addresses.get(family) ?? [];

  const env: Env = {
    inAddressList: (list, family, address) =>
      added.has(`${family}|${list}|${address}`) ||
      (lists.get(family)?.spans.get(list) ?? []).some((span) => spanContains(span, family, address)),
    addToAddressList: (list, family, address) => void added.add(`${family}|${list}|${address}`),
    interfaceInList: (list, name) =>
      list === 'all' || members.some((member) => member.list === list && member.interface === name),
    interfaceAddress: (name, family) => connected(family).find((entry) => entry.name === name)?.address,
    isLocalAddress: (family, address) =>
      address === LOOPBACK[family] || connected(family).some((entry) => entry.address === address),
    countNth: (key) => {
      const count = (counters.get(key) ?? 0) + 1;
      counters.set(key, count);
      return count;
    },
  };
  return {
    env,
    listProblem: (family, list) => lists.get(family)?.problems.get(list),
    outInterface: (family, dst) =>
      longestMatch(connected(family).map((c) => ({ ...c, span: c.network })), family, dst)?.name ??
      routeInterface(state, family, connected(family), dst),
    reset: () => {
      counters.clear();
      added.clear();
    },
  };
}

import { formatAddress, parseAddress, type IPFamily } from '../ip/index.js';
import { addressMenu, firewallMenu, mergeDesired, natTargetProperty, type DesiredEntry, type DesiredMenus } from './menus.js';
import { LB_CHAIN, LB_LIST, SNAT_CHAIN, portChain, serviceChain, serviceComment, snatList } from './names.js';
import { accessEntries, type SourceRange } from './access.js';
import { clientSlots, connectionSlots } from './affinity.js';

export { globalEntries } from './globals.js';
export { mergeDesired, menusFor, type DesiredEntry, type DesiredMenus } from './menus.js';
export type { SourceRange } from './access.js';

export interface FamilyAddress {
  family: IPFamily;
  address: string;
}

export interface ServicePort {
  protocol: 'tcp' | 'udp';
  port: number;
  /** The endpoints' port where they carry none of their own (see `endpoints`). */
  targetPort: number;
  /**
   * The endpoints this port reaches, as kube-proxy picks them: those of the EndpointSlices that
   * list the port (by name and protocol), each on the number its own slice gives the port
   * (a named targetPort can map to 8080 in one slice and 9090 in another during a rolling
   * update; a pod that lacks the named port sits in a slice without it), and `ready` decided
   * for this port and family. Undefined: the Service's `endpoints`, on `targetPort`.
   */
  endpoints?: readonly PortEndpoint[];
  name?: string;
}

export interface ServiceEndpoint extends FamilyAddress {
  /**
   * Takes new load-balanced connections: ready and not terminating, or, in a family with no
   * such endpoint, terminating and still serving (kube-proxy's fallback, KEP-1669).
   */
  ready: boolean;
}

/** An endpoint of one port: `ready` as decided among the port's endpoints, and its own port number. */
export interface PortEndpoint extends ServiceEndpoint {
  targetPort: number;
}

/** What `program` knows about one Service, already decided from the cluster. */
export interface ServiceProgram {
  uid: string;
  namespace: string;
  name: string;
  lbEnabled: boolean;
  snatEnabled: boolean;
  lbAddresses: FamilyAddress[];
  snatAddresses: FamilyAddress[];
  ports: ServicePort[];
  /**
   * Every usable endpoint of the Service's slices, whatever ports they list: the SNAT sources,
   * and the endpoints of a port without a list of its own (`ServicePort.endpoints`).
   */
  endpoints: ServiceEndpoint[];
  /**
   * loadBalancerSourceRanges: only these sources reach the endpoints. Undefined means everyone;
   * empty means no one (ranges were given but none parsed).
   */
  sourceRanges?: readonly SourceRange[];
  /** `ClientIP`: every connection of one client address reaches the same ready endpoint. */
  sessionAffinity?: 'ClientIP';
  /**
   * Addresses (as the router prints them) whose own entries (the LB list entry, the
   * advertisement) are tagged with another owner than the Service: a shared address's owner,
   * so they stay while any Service sharing it does. See {@link entryOwner}.
   */
  addressOwners?: Readonly<Record<string, string>>;
}

/** The owner uid of an address's own entries: its shared owner, else the Service. */
export function entryOwner(svc: Pick<ServiceProgram, 'uid' | 'addressOwners'> | undefined, fallback: string, family: IPFamily, address: string): string {
  const parsed = parseAddress(address);
  const text = parsed.ok && parsed.family === family ? formatAddress(family, parsed.value) : address;
  return svc?.addressOwners?.[text] ?? fallback;
}

const FAMILIES: readonly IPFamily[] = ['IPv4', 'IPv6'];

/** Canonical text of an address as the router prints it; a malformed one is a caller bug. */
function canonical(family: IPFamily, address: string): { text: string; value: bigint } {
  const parsed = parseAddress(address);
  if (!parsed.ok || parsed.family !== family) throw new RangeError(`'${address}' is not an ${family} address`);
  return { text: formatAddress(family, parsed.value), value: parsed.value };
}

const numeric = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

/** Distinct addresses of one family, in numeric order (stable whatever order the cluster lists them). */
function addressesOf(family: IPFamily, items: readonly FamilyAddress[]): string[] {
  const byText = new Map(items.filter((item) => item.family === family).map((item) => {
    const address = canonical(family, item.address);
    return [address.text, address.value] as const;
  }));
  return [...byText].sort(([, a], [, b]) => numeric(a, b)).map(([text]) => text);
}

function sortedPorts(ports: readonly ServicePort[]): ServicePort[] {
  const unique = new Map(ports.map((port) => [`${port.protocol}/${port.port}`, port]));
  return [...unique.values()].sort((a, b) => a.protocol.localeCompare(b.protocol) || a.port - b.port);
}

/**
 * The endpoints of one port and family that take new connections, keyed by the address as the
 * router prints it, in numeric order, each with its port (an address listed twice keeps the
 * first number).
 */
function readyTargets(svc: ServiceProgram, family: IPFamily, port: ServicePort): Map<string, number> {
  const endpoints = port.endpoints ?? svc.endpoints.map((endpoint) => ({ ...endpoint, targetPort: port.targetPort }));
  const byText = new Map<string, { value: bigint; targetPort: number }>();
  for (const endpoint of endpoints.filter((e) => e.ready && e.family === family)) {
    const { text, value } = canonical(family, endpoint.address);
    if (!byText.has(text)) byText.set(text, { value, targetPort: endpoint.targetPort });
  }
  return new Map([...byText].sort(([, a], [, b]) => numeric(a.value, b.value)).map(([text, { targetPort }]) => [text, targetPort]));
}

/**
 * The dst-nat rules of one port over N ready endpoints: an even split of connections (nth
 * slots N-1 … 0, slot 0 taking the rest; a slot's nth depends only on its number, so scaling
 * adds or removes the top slots and at most re-targets others: never a property to unset), or
 * with ClientIP affinity an even split of client addresses (per-connection-classifier buckets,
 * see affinity.ts).
 */
function dnatRules(svc: ServiceProgram, family: IPFamily, port: ServicePort): DesiredEntry[] {
  const chain = portChain(svc.uid, port.protocol, port.port);
  const targets = readyTargets(svc, family, port);
  const endpoints = [...targets.keys()];
  const slots = svc.sessionAffinity === 'ClientIP' ? clientSlots(endpoints) : connectionSlots(endpoints);
  return slots.map(({ address, key, match }) => ({
    chain,
    action: 'dst-nat',
    protocol: port.protocol,
    [natTargetProperty(family)]: address,
    'to-ports': String(targets.get(address) ?? port.targetPort),
    ...match,
    comment: serviceComment(svc.uid, `dnat:${port.protocol}/${port.port}:${key}`),
  }));
}

function lbRules(svc: ServiceProgram, family: IPFamily, lbAddresses: readonly string[]): DesiredEntry[] {
  const ports = sortedPorts(svc.ports);
  const jumps = lbAddresses.map((address) => ({
    chain: LB_CHAIN, action: 'jump', 'jump-target': serviceChain(svc.uid), 'dst-address': address,
    comment: serviceComment(svc.uid, `lb-jump:${address}`),
  }));
  const portJumps = ports.map((port) => ({
    chain: serviceChain(svc.uid), action: 'jump', 'jump-target': portChain(svc.uid, port.protocol, port.port),
    protocol: port.protocol, 'dst-port': String(port.port),
    comment: serviceComment(svc.uid, `port-jump:${port.protocol}/${port.port}`),
  }));
  const { gate } = accessEntries(svc.uid, family, svc.sourceRanges);
  return [...jumps, ...gate, ...portJumps, ...ports.flatMap((port) => dnatRules(svc, family, port))];
}

function listEntries(svc: ServiceProgram, list: string, role: string, addresses: readonly string[], owner: (address: string) => string = () => svc.uid): DesiredEntry[] {
  return addresses.map((address) => ({ list, address, comment: serviceComment(owner(address), `${role}:${address}`) }));
}

/**
 * The addresses of the LB list: the Service's LB addresses, and every shared address it holds
 * (of this family) whatever its roles. A shared address's entry belongs to the address, and
 * each holder plans the address's entries as its own: one whose load balancing is off (SNAT
 * only) would otherwise take the entry away from a holder that balances on the address, and
 * the two would undo each other's write (found by the chaos suite, seed 2096719484).
 */
function withSharedAddresses(svc: ServiceProgram, family: IPFamily, lbAddresses: readonly string[]): string[] {
  const shared = Object.keys(svc.addressOwners ?? {}).flatMap((text) => {
    const p = parseAddress(text);
    return p.ok && p.family === family ? [{ family, address: text }] : [];
  });
  return shared.length === 0 ? [...lbAddresses] : addressesOf(family, [...lbAddresses.map((address) => ({ family, address })), ...shared]);
}

/** One family's entries of a Service; empty menus are listed so a plan removes what is left. */
function familyEntries(svc: ServiceProgram, family: IPFamily): DesiredMenus {
  const lbAddresses = svc.lbEnabled ? addressesOf(family, svc.lbAddresses) : [];
  // The highest address of the family, as upstream MikroLB picks it (use-lb-ips or several snat-ips).
  const snatAddress = svc.snatEnabled ? addressesOf(family, svc.snatAddresses).at(-1) : undefined;
  // Egress SNAT covers every endpoint the cluster lists, ready or not: a starting pod
  // already talks to the outside world with the Service's address.
  const snatSources = snatAddress === undefined ? [] : addressesOf(family, svc.endpoints);
  const snatRule: DesiredEntry[] = snatAddress === undefined ? [] : [{
    chain: SNAT_CHAIN, action: 'src-nat', 'src-address-list': snatList(svc.uid), [natTargetProperty(family)]: snatAddress,
    comment: serviceComment(svc.uid, 'snat'),
  }];
  return {
    [firewallMenu(family, 'address-list')]: [
      ...listEntries(svc, LB_LIST, 'lb-list', withSharedAddresses(svc, family, lbAddresses), (address) => entryOwner(svc, svc.uid, family, address)),
      ...(lbAddresses.length > 0 ? accessEntries(svc.uid, family, svc.sourceRanges).list : []),
      ...listEntries(svc, snatList(svc.uid), 'snat-list', snatSources),
    ],
    [firewallMenu(family, 'filter')]: accessEntries(svc.uid, family, svc.sourceRanges, lbAddresses, sortedPorts(svc.ports)).drop,
    [firewallMenu(family, 'nat')]: [...(lbAddresses.length > 0 ? lbRules(svc, family, lbAddresses) : []), ...snatRule],
  };
}

/**
 * Everything a Service owns on the router, both families (the table in LAYOUT.md lists each
 * entry, its chain and its comment key): its LB addresses in the LB list,
 * a jump per LB address from `mikrolb-lb` into its service chain, a jump per port into the
 * port's chain, the port's dst-nat rules to ready endpoints, and for SNAT a list of its
 * endpoints plus one src-nat rule in `mikrolb-snat`. Advertisements are separate
 * ({@link advertisementEntry}): they follow allocations, not the Service's spec.
 */
export function serviceEntries(svc: ServiceProgram): DesiredMenus {
  return mergeDesired(...FAMILIES.map((family) => familyEntries(svc, family)));
}

export interface Advertisement {
  serviceUid: string;
  family: IPFamily;
  address: string;
  interfaceName: string;
}

/** The `/ip/address` /32 (or `/ipv6/address` /128) that makes the router answer ARP/NDP for an address. */
export function advertisementEntry(ad: Advertisement): { menu: string; entry: DesiredEntry } {
  const { text } = canonical(ad.family, ad.address);
  const entry: DesiredEntry = {
    address: `${text}/${ad.family === 'IPv4' ? 32 : 128}`,
    interface: ad.interfaceName,
    ...(ad.family === 'IPv6' ? { advertise: 'false' } : {}),
    comment: serviceComment(ad.serviceUid, `adv:${text}`),
  };
  return { menu: addressMenu(ad.family), entry };
}

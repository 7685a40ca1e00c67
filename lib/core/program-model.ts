import { formatAddress, parseAddress, unusableTarget, type IPFamily } from '../ip/index.js';
import type { EndpointSlice, Service, ServicePort as ServiceSpecPort } from '../k8s/core-objects.js';
import type { IPAllocation, IPPool } from '../k8s/schemas.js';
import type { FamilyAddress, ServiceEndpoint, ServicePort, ServiceProgram } from '../router/index.js';
import { holdsAddress, poolKeeping, viewPools, type PoolView } from './pools.js';
import { matchAllocations, type ServiceIntent } from './service.js';
import { sharedAddressOwner, sharingKeyOf } from './sharing.js';
import { sessionAffinityOf, sourceRangesOf } from './program-model-access.js';

/** An address the router should (or should not) carry on an interface. */
export interface AdvertisementWant {
  allocation: IPAllocation;
  family: IPFamily;
  address: string;
  /** The pool's advertise flag: false means "make sure it is not on the router". */
  advertise: boolean;
  /** From the pool; undefined means "the interface of the most specific route". */
  interfaceName?: string;
  /** The pool holding the address, for messages. */
  pool?: string;
}

function familyOf(address: string): IPFamily | undefined {
  const p = parseAddress(address);
  return p.ok ? p.family : undefined;
}

function heldAddress(a: IPAllocation): FamilyAddress | undefined {
  if (!holdsAddress(a) || !a.status?.address) return undefined;
  const family = familyOf(a.status.address);
  return family ? { family, address: a.status.address } : undefined;
}

/** Same Service port: EndpointSlice ports carry the Service port's name and protocol. */
const sliceMatches = (p: ServiceSpecPort, q: EndpointSlice['ports'][number]): boolean =>
  (q.name ?? '') === (p.name ?? '') && (q.protocol ?? 'TCP') === p.protocol && q.port !== undefined;

/**
 * Ports the router balances: TCP/UDP Service ports, each with its own endpoints as kube-proxy
 * picks them: those of the slices that list the port (by name and protocol; a pod that lacks a
 * named targetPort sits in a slice without it), each on its own slice's number (a named
 * targetPort can map to 8080 in one slice and 9090 in another: a rolling update that changes
 * it), and which of them take new connections decided among them (see endpointsOf).
 */
function portsOf(svc: Service, slices: readonly EndpointSlice[]): ServicePort[] {
  const out: ServicePort[] = [];
  const ordered = [...slices].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  for (const p of svc.spec.ports ?? []) {
    if (p.protocol !== 'TCP' && p.protocol !== 'UDP') continue;
    const listing = ordered.flatMap((s) => {
      const port = s.ports.find((q) => sliceMatches(p, q))?.port;
      return port === undefined ? [] : [{ slice: s, port }];
    });
    const targetPort = listing[0]?.port ?? (typeof p.targetPort === 'number' ? p.targetPort : undefined);
    if (targetPort === undefined) continue;
    // an address in two slices that give the port different numbers keeps the first slice's
    const portOf = new Map<string, number>();
    for (const { slice, port } of listing) {
      for (const address of slice.endpoints.flatMap((e) => e.addresses)) if (!portOf.has(address)) portOf.set(address, port);
    }
    const endpoints = endpointsOf(listing.map(({ slice }) => slice)).flatMap((e) => {
      const own = portOf.get(e.address);
      return own === undefined ? [] : [{ ...e, targetPort: own }];
    });
    out.push({ protocol: p.protocol === 'TCP' ? 'tcp' : 'udp', port: p.port, targetPort, endpoints, ...(p.name ? { name: p.name } : {}) });
  }
  return out;
}

/**
 * What a Service loses to portsOf skipping its SCTP ports (the router balances TCP and UDP only):
 * the note of its SCTPPortsIgnored Warning, or undefined when it has none.
 */
export function ignoredPortsNote(svc: Service): string | undefined {
  const ports = svc.spec.ports ?? [];
  const sctp = ports.filter((p) => p.protocol === 'SCTP');
  if (sctp.length === 0) return undefined;
  const named = sctp.map((p) => (p.name ? `${p.name} (${p.port}/SCTP)` : `${p.port}/SCTP`)).join(', ');
  const none = sctp.length === ports.length ? ' The Service has no other port, so its address forwards nothing.' : '';
  return `SCTP port(s) ${named} are ignored: MikroLB load-balances TCP and UDP only.${none}`;
}

/** A slice address the router could forward to: unicast, and neither loopback nor link-local. */
function usableTarget(address: string): IPFamily | undefined {
  const p = parseAddress(address);
  return p.ok && unusableTarget(p.family, p.value) === undefined ? p.family : undefined;
}

/**
 * Slice addresses that are never NAT or SNAT targets (loopback, unspecified, multicast,
 * link-local, broadcast, or a form MikroLB does not read: the API server still takes an IPv4
 * address with leading zeros, `010.0.0.5`, which tools read as decimal or octal), with why,
 * in the order the slices list them.
 */
export function unusableEndpoints(slices: readonly EndpointSlice[]): { address: string; kind: string }[] {
  const out = new Map<string, string>();
  for (const s of slices) {
    if (s.addressType === 'FQDN') continue;
    for (const address of s.endpoints.flatMap((e) => e.addresses)) {
      const p = parseAddress(address);
      const kind = p.ok ? unusableTarget(p.family, p.value) : 'non-standard form';
      if (kind) out.set(address, kind);
    }
  }
  return [...out].map(([address, kind]) => ({ address, kind }));
}

/** How an endpoint's conditions read, nil as the API documents it (ready and serving, not terminating). */
function endpointState(conditions: EndpointSlice['endpoints'][number]['conditions']): { ready: boolean; draining: boolean } {
  const terminating = conditions?.terminating === true;
  return { ready: conditions?.ready !== false && !terminating, draining: terminating && conditions?.serving !== false };
}

/**
 * Usable endpoints of these slices, and which of them take new connections, as kube-proxy
 * picks them (KEP-1669): per family the ready, non-terminating ones; in a family with none of
 * those, the terminating ones that still serve (a drain or a rollout that leaves only
 * terminating pods would otherwise refuse connections they still answer). Over all of a
 * Service's slices for its SNAT sources; over the slices listing a port for that port.
 */
function endpointsOf(slices: readonly EndpointSlice[]): ServiceEndpoint[] {
  const byAddress = new Map<string, ServiceEndpoint & { draining: boolean }>();
  for (const s of slices) {
    if (s.addressType === 'FQDN') continue;
    for (const e of s.endpoints) {
      const { ready, draining } = endpointState(e.conditions);
      for (const address of e.addresses) {
        const family = usableTarget(address);
        if (!family) continue;
        const prev = byAddress.get(address);
        byAddress.set(address, { family, address, ready: ready || (prev?.ready ?? false), draining: draining || (prev?.draining ?? false) });
      }
    }
  }
  const servedByReady = new Set([...byAddress.values()].filter((e) => e.ready).map((e) => e.family));
  return [...byAddress.values()].map(({ family, address, ready, draining }) => ({ family, address, ready: ready || (draining && !servedByReady.has(family)) }));
}

/** Who may reach the Service (loadBalancerSourceRanges) and whether clients stick to an endpoint. */
function withAccess(svc: Service): Pick<ServiceProgram, 'sourceRanges' | 'sessionAffinity'> {
  const sourceRanges = sourceRangesOf(svc);
  const sessionAffinity = sessionAffinityOf(svc);
  return { ...(sourceRanges ? { sourceRanges } : {}), ...(sessionAffinity ? { sessionAffinity } : {}) };
}

/**
 * What the router should carry for one Service, decided purely from the cluster: its LB and
 * SNAT addresses (from allocations that hold one), ports and endpoints.
 */
export function serviceProgram(svc: Service, intent: ServiceIntent, allocations: readonly IPAllocation[], slices: readonly EndpointSlice[], shared: ReadonlySet<string>): ServiceProgram {
  const roleOf = new Map([...matchAllocations(intent, allocations).matched].map(([name, d]) => [name, d.roles]));
  const lbAddresses: FamilyAddress[] = [];
  const snatAddresses: FamilyAddress[] = [];
  for (const a of allocations) {
    const held = heldAddress(a);
    const roles = roleOf.get(a.metadata.name);
    if (!held || !roles || a.metadata.deletionTimestamp) continue;
    if (roles.lb) lbAddresses.push(held);
    if (roles.snat) snatAddresses.push(held);
  }
  return {
    ...sharedOwners(svc, allocations, shared),
    uid: svc.metadata.uid ?? '',
    namespace: svc.metadata.namespace ?? 'default',
    name: svc.metadata.name,
    lbEnabled: intent.loadBalancer && intent.lbEnabled,
    snatEnabled: intent.snatEnabled && (intent.snatUsesLbIps || snatAddresses.length > 0),
    lbAddresses,
    snatAddresses: intent.snatUsesLbIps ? lbAddresses : snatAddresses,
    ports: portsOf(svc, slices),
    endpoints: endpointsOf(slices),
    ...withAccess(svc),
  };
}

/**
 * A Service with a sharing key: the own entries (LB list, advertisement) of its addresses whose
 * claim is shared (`shared`, canonical text, as sharedAddressesOf reads them) belong to each
 * address's shared owner, whether others share the address yet or not. An address whose claim
 * is not shared yet (the key is new, allocate has not recorded it) keeps the Service's own
 * entries: the address's own are taken off only when its claim stops being shared, so written
 * before it is shared they could outlive the address (chaos seed 176135268).
 */
function sharedOwners(svc: Service, allocations: readonly IPAllocation[], shared: ReadonlySet<string>): Pick<ServiceProgram, 'addressOwners'> {
  if (sharingKeyOf(svc) === undefined) return {};
  const owners: Record<string, string> = {};
  for (const a of allocations) {
    const held = heldAddress(a);
    const p = held ? parseAddress(held.address) : undefined;
    const text = p?.ok ? formatAddress(p.family, p.value) : undefined;
    const owner = held && text && shared.has(text) ? sharedAddressOwner(held.address) : undefined;
    if (text && owner) owners[text] = owner;
  }
  return { addressOwners: owners };
}

/**
 * A shared address's own entries alone, owned by `owner` (its sharedAddressOwner), exactly as
 * each of its holders plans them (serviceProgram with the address shared): its entry in the LB
 * address list and its advertisement per the pool keeping it (or, outside every pool, per
 * `claimPool`, the pool its claim was made from). `holder`: an allocation holding the address,
 * which the advertisement's outcome names. Release writes them back for the holders that
 * remain when it took them off as the address's last holder while another joined.
 */
export function sharedAddressEntries(owner: string, address: FamilyAddress, holder: IPAllocation, pools: readonly IPPool[], claimPool?: string): { service: ServiceProgram; adverts: AdvertisementWant[] } {
  const text = canonical(address.address) ?? address.address;
  const claimPools = new Map(claimPool === undefined ? [] : [[text, claimPool]]);
  return {
    service: { uid: owner, namespace: '', name: owner, lbEnabled: false, snatEnabled: false, lbAddresses: [], snatAddresses: [], ports: [], endpoints: [], addressOwners: { [text]: owner } },
    adverts: [advertisementOf(holder, { family: address.family, address: text }, viewPools(pools), claimPools)],
  };
}

/** An address's canonical text (as claims and the shared sets name it); undefined when malformed. */
function canonical(address: string): string | undefined {
  const p = parseAddress(address);
  return p.ok ? formatAddress(p.family, p.value) : undefined;
}

/**
 * The pools the claims of held addresses were made from (canonical address → pool name), for
 * the addresses no pool keeps now (addressesOutsidePools): see advertisementOf.
 */
export type ClaimPools = ReadonlyMap<string, string>;

const NO_CLAIM_POOLS: ClaimPools = new Map();

/**
 * The advertisement `allocation` wants for the address it holds, per the pool keeping it. An
 * address no pool keeps any more (its pool shrank: it stays where it is, and the pool reports
 * `AddressesOutsidePool`; or it changed family) is advertised as the pool its claim was made from says: taken as
 * advertised on the route's interface, an address of an `advertise: false` pool would start
 * being answered for on the network once the pool shrank away from it.
 */
function advertisementOf(allocation: IPAllocation, held: FamilyAddress, views: readonly PoolView[], claimPools: ClaimPools): AdvertisementWant {
  const claimPool = claimPools.get(canonical(held.address) ?? '');
  // of any family: a pool edited to the other family keeps its old addresses' holders as a
  // shrink does, and its advertise and interfaceName still say how they are advertised
  const pool = (poolKeeping(views, held.address) ?? views.find((v) => v.name === claimPool))?.pool;
  const interfaceName = pool?.spec.interfaceName || undefined;
  return { allocation, ...held, advertise: pool?.spec.advertise ?? true, ...(interfaceName ? { interfaceName } : {}), ...(pool ? { pool: pool.metadata.name } : {}) };
}

/** The addresses (canonical text) the allocations hold that no pool keeps now: whose claim's pool advertisementWants needs (claimPoolsOf). */
export function addressesOutsidePools(allocations: readonly IPAllocation[], pools: readonly IPPool[]): string[] {
  const views = viewPools(pools);
  const out = new Set<string>();
  for (const a of allocations) {
    const held = heldAddress(a);
    const text = held && !a.metadata.deletionTimestamp && !poolKeeping(views, held.address) ? canonical(held.address) : undefined;
    if (text) out.add(text);
  }
  return [...out];
}

/** The advertisement each address-holding allocation wants, per its pool (`claimPools`: for those no pool keeps now). */
export function advertisementWants(allocations: readonly IPAllocation[], pools: readonly IPPool[], claimPools: ClaimPools = NO_CLAIM_POOLS): AdvertisementWant[] {
  const out: AdvertisementWant[] = [];
  const views = viewPools(pools);
  for (const a of allocations) {
    const held = heldAddress(a);
    if (!held || a.metadata.deletionTimestamp) continue;
    out.push(advertisementOf(a, held, views, claimPools));
  }
  return out;
}

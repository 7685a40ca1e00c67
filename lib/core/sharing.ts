import { addressName, parseAddress } from '../ip/index.js';
import type { Service } from '../k8s/core-objects.js';
import { ANNOTATION_ALLOW_SHARED_IP, ANNOTATION_METALLB_ALLOW_SHARED_IP, ANNOTATION_METALLB_ALLOW_SHARED_IP_LEGACY } from '../k8s/keys.js';
import type { ClaimHolder, ClaimPort, IPAddressClaimSpec } from '../k8s/schemas.js';

/**
 * Shared addresses (MetalLB's allow-shared-ip): Services with the same sharing key may hold one
 * address when no protocol and port is used by two of them. Pure rules over a claim's spec; the
 * claim itself is joined and left by updates carrying its resourceVersion (lib/k8s/claims.ts).
 */

/** What a Service brings to a shared address: its key and the ports it uses. */
export interface Sharing {
  key: string;
  ports: ClaimPort[];
}

/**
 * The sharing key of a Service (ours first, then MetalLB's, then MetalLB's older spelling, which
 * MetalLB reads too; an empty value counts as unset), if it has one.
 */
export function sharingKeyOf(svc: Service): string | undefined {
  const a = svc.metadata.annotations ?? {};
  const key = a[ANNOTATION_ALLOW_SHARED_IP]?.trim() || a[ANNOTATION_METALLB_ALLOW_SHARED_IP]?.trim() || a[ANNOTATION_METALLB_ALLOW_SHARED_IP_LEGACY]?.trim();
  return key ? key.slice(0, 253) : undefined;
}

/** The ports a Service uses on its addresses, sorted and unique. */
export function portsOf(svc: Service): ClaimPort[] {
  const unique = new Map((svc.spec.ports ?? []).map((p) => [`${p.protocol}/${p.port}`, { protocol: p.protocol, port: p.port }]));
  return [...unique.values()].sort((a, b) => a.protocol.localeCompare(b.protocol) || a.port - b.port);
}

/** A Service's sharing, when it has a key. */
export function sharingOf(svc: Service): Sharing | undefined {
  const key = sharingKeyOf(svc);
  return key === undefined ? undefined : { key, ports: portsOf(svc) };
}

/** The protocol/port pairs two port lists both use. */
export function overlappingPorts(a: readonly ClaimPort[], b: readonly ClaimPort[]): ClaimPort[] {
  const used = new Set(a.map((p) => `${p.protocol}/${p.port}`));
  return b.filter((p) => used.has(`${p.protocol}/${p.port}`));
}

/** Every allocation holding a claim: the listed holders of a shared one, else its one holder. */
export function holdersOf(spec: IPAddressClaimSpec): ClaimHolder[] {
  if (spec.holders && spec.holders.length > 0) return spec.holders;
  return [{ allocationName: spec.allocationName, allocationUID: spec.allocationUID, ports: [] }];
}

/** One entry per allocation holding a claim's address (each holder of a shared one). */
export function eachHolder(spec: IPAddressClaimSpec): { address: string; allocationName: string; allocationUID: string }[] {
  return holdersOf(spec).map((h) => ({ address: spec.address, allocationName: h.allocationName, allocationUID: h.allocationUID }));
}

/** Whether an allocation is among a claim's holders. */
export function holdsClaim(spec: IPAddressClaimSpec, allocationUID: string): boolean {
  return holdersOf(spec).some((h) => h.allocationUID === allocationUID);
}

/** Whether a claim is held by more than one allocation. */
export const isShared = (spec: IPAddressClaimSpec): boolean => holdersOf(spec).length > 1;

const portText = (ports: readonly ClaimPort[]): string => ports.map((p) => `${p.protocol}/${p.port}`).join(', ');

/**
 * Why an allocation with this sharing may not join a claim, or undefined when it may: the claim
 * must carry the same key, and no other holder may use one of its ports.
 */
export function joinRefusal(spec: IPAddressClaimSpec, allocationUID: string, sharing: Sharing | undefined): string | undefined {
  if (!sharing) return 'the Service has no allow-shared-ip key';
  if (spec.sharingKey === undefined) return 'it is not shared';
  if (spec.sharingKey !== sharing.key) return `it is shared under another key ("${spec.sharingKey}")`;
  for (const h of holdersOf(spec)) {
    if (h.allocationUID === allocationUID) continue;
    const clash = overlappingPorts(h.ports, sharing.ports);
    if (clash.length > 0) return `IPAllocation ${h.allocationName} uses ${portText(clash)} on it`;
  }
  return undefined;
}

/** The spec of a new claim: shared (the holder listed with its ports) when the Service has a key. */
export function newClaimSpec(spec: IPAddressClaimSpec, sharing: Sharing | undefined, now: string): IPAddressClaimSpec {
  const { address, poolName, allocationName, allocationUID } = spec;
  const base = { address, poolName, allocationName, allocationUID };
  return sharing ? { ...base, sharingKey: sharing.key, holders: [{ allocationName, allocationUID, ports: sharing.ports, joinedAt: now }] } : base;
}

/** The first holder's name and uid in the single-holder fields (what readers without sharing see). */
function withFirst(spec: IPAddressClaimSpec, holders: ClaimHolder[]): IPAddressClaimSpec {
  const [first] = holders;
  return first ? { ...spec, allocationName: first.allocationName, allocationUID: first.allocationUID, holders } : spec;
}

/**
 * The claim with this allocation among its holders (its ports brought up to date when it is
 * already one). A claim held alone takes the key of its only holder, so a Service that gains
 * (or changes) its key while nobody shares its address keeps the address.
 */
export function joined(spec: IPAddressClaimSpec, holder: ClaimHolder, sharing: Sharing): IPAddressClaimSpec {
  const others = holdersOf(spec).filter((h) => h.allocationUID !== holder.allocationUID);
  const mine = { ...holder, ports: sharing.ports };
  return withFirst({ ...spec, sharingKey: sharing.key }, [...others, mine]);
}

/**
 * The claim without this allocation, or undefined when it was the last holder (the claim goes).
 * The single-holder fields name the first remaining holder.
 */
export function left(spec: IPAddressClaimSpec, allocationUID: string): IPAddressClaimSpec | undefined {
  const rest = holdersOf(spec).filter((h) => h.allocationUID !== allocationUID);
  return rest.length === 0 ? undefined : withFirst(spec, rest);
}

/**
 * Whether a claim already fits the allocation's sharing: a claim held alone with no key fits a
 * Service without one; a shared one fits a Service with its key whose ports it records.
 */
export function sharingFits(spec: IPAddressClaimSpec, allocationUID: string, sharing: Sharing | undefined): boolean {
  if (!sharing) return spec.sharingKey === undefined;
  const mine = holdersOf(spec).find((h) => h.allocationUID === allocationUID);
  return spec.sharingKey === sharing.key && mine !== undefined && overlappingPorts(mine.ports, sharing.ports).length === sharing.ports.length && mine.ports.length === sharing.ports.length;
}

/**
 * The router owner of a shared address's own entries (its advertisement and its entry in the
 * LB address list): one per address, not per Service, so they stay while any holder remains and
 * go with the claim. A Service uid never looks like this.
 */
export function sharedAddressOwner(address: string): string | undefined {
  const p = parseAddress(address);
  return p.ok ? `ip-${addressName(p.family, p.value)}` : undefined;
}

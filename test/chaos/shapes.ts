import { API_VERSION } from '../../lib/k8s/schemas.js';
import type { Rng } from './rng.js';

/** What the chaos run creates: pools, Services, EndpointSlices and operator reservations. */
export const NAMESPACE = 'chaos';
export const OUR_CLASS = 'mikrolb.de/controller';
const OTHER_CLASS = 'example.com/other-lb';

export type Family = 'v4' | 'v6' | 'dual';

/** Pools as an operator would write them: overlap, exhaustion, no advertisement, a fixed interface. */
export const POOLS = [
  { name: 'chaos-v4a', spec: { ipFamily: 'IPv4', addresses: ['198.18.40.100-198.18.40.139'] } },
  { name: 'chaos-v4b', spec: { ipFamily: 'IPv4', addresses: ['198.18.41.0/29', '!198.18.41.3'], autoAssign: false, interfaceName: 'ether2' } },
  { name: 'chaos-v6', spec: { ipFamily: 'IPv6', addresses: ['2001:db8:4040::100-2001:db8:4040::17f'] } },
  { name: 'chaos-quiet', spec: { ipFamily: 'IPv4', addresses: ['198.18.42.10-198.18.42.29'], autoAssign: false, advertise: false } },
  { name: 'chaos-overlap', spec: { ipFamily: 'IPv4', addresses: ['198.18.40.130-198.18.40.149'], autoAssign: false } },
  // tried first for the chaos namespace's Services while it is labelled gold (relabelNamespace)
  { name: 'chaos-tenant', spec: { ipFamily: 'IPv4', addresses: ['198.18.40.200-198.18.40.215'], serviceAllocation: { priority: 1, namespaceSelectors: [{ matchLabels: { 'chaos.mikrolb.de/tier': 'gold' } }] } } },
] as const;

/** The label of the chaos namespace that chaos-tenant selects (gold), changed now and then. */
export const TIER_LABEL = 'chaos.mikrolb.de/tier';

/** What chaos-v4a excludes now and then (`editPool`): held addresses among them, the shared ones too. */
export const V4A_EXCLUDED = '!198.18.40.118-198.18.40.122';

export const poolObject = (p: (typeof POOLS)[number]) => ({ apiVersion: API_VERSION, kind: 'IPPool', metadata: { name: p.name }, spec: p.spec });

/** Operator reservations (IPAllocations without a Service): advertised only. */
export const RESERVATIONS = [
  { name: 'chaos-reserved-a', spec: { address: '198.18.40.139' } },
  { name: 'chaos-reserved-b', spec: { poolName: 'chaos-quiet' } },
] as const;

export const reservationObject = (r: (typeof RESERVATIONS)[number]) => ({ apiVersion: API_VERSION, kind: 'IPAllocation', metadata: { name: r.name }, spec: r.spec });

const V4A = (rng: Rng) => `198.18.40.${rng.int(100, 149)}`;
const V4B = (rng: Rng) => `198.18.41.${rng.int(0, 7)}`;
const V6 = (rng: Rng) => `2001:db8:4040::${rng.int(0x100, 0x17f).toString(16)}`;

function explicitIps(rng: Rng, family: Family): string {
  const one = (): string => {
    if (family === 'v6') return rng.chance(0.9) ? V6(rng) : V4A(rng);
    return rng.pick([V4A, V4A, V4A, V4B, (_r: Rng) => '192.0.2.55', (_r: Rng) => `198.18.42.${rng.int(10, 29)}`])(rng);
  };
  if (family === 'dual') return `${one()},${V6(rng)}`;
  return rng.chance(0.15) ? `${one()},${one()}` : one();
}

function poolList(rng: Rng, family: Family): string {
  if (family === 'v6') return rng.chance(0.9) ? 'chaos-v6' : 'chaos-v4a';
  if (family === 'dual') return rng.pick(['chaos-v4a,chaos-v6', 'chaos-v4b,chaos-v6', 'chaos-v6']);
  return rng.pick(['chaos-v4a', 'chaos-v4b', 'chaos-v4b', 'chaos-quiet', 'chaos-overlap', 'chaos-missing', 'chaos-v4a,chaos-quiet', 'chaos-tenant']);
}

/** Addresses Services with a sharing key ask for: few, so that Services meet on them. */
const SHARED = { v4: ['198.18.40.120', '198.18.40.121'], v6: ['2001:db8:4040::170'] } as const;

/**
 * Shared addresses (`allow-shared-ip`), drawn from a generator of their own (`share`), so a
 * seed's schedule and its other draws stay what they were before sharing was part of the run:
 * a Service with one of two keys, and half of those on an address of a small set (the others
 * land on an address their key already shares, or a free one). Ports are drawn as ever, so
 * sharers clash on ports as often as not (AddressAlreadyUsed, until the holder changes or goes).
 */
function sharing(share: Rng, family: Family, a: Record<string, string | null>): void {
  if (!share.chance(0.3)) return;
  a['mikrolb.de/allow-shared-ip'] = share.pick(['chaos-share-a', 'chaos-share-b']);
  if (!share.chance(0.5)) return;
  const v4 = share.pick(SHARED.v4);
  a['mikrolb.de/load-balancer-pools'] = null;
  a['mikrolb.de/load-balancer-ips'] = family === 'v4' ? v4 : family === 'v6' ? SHARED.v6[0] : `${v4},${SHARED.v6[0]}`;
}

/** A fresh set of mikrolb annotations; `null` removes one (merge patch). */
export function annotations(rng: Rng, family: Family, share: Rng): Record<string, string | null> {
  const a: Record<string, string | null> = {
    'mikrolb.de/load-balancer-pools': null, 'mikrolb.de/load-balancer-ips': null, 'mikrolb.de/load-balancer-enabled': null,
    'mikrolb.de/snat-enabled': null, 'mikrolb.de/snat-ips': null, 'mikrolb.de/allow-shared-ip': null,
  };
  const mode = rng.next();
  if (mode < 0.35) a['mikrolb.de/load-balancer-pools'] = poolList(rng, family);
  else if (mode < 0.6) a['mikrolb.de/load-balancer-ips'] = explicitIps(rng, family);
  if (rng.chance(0.1)) a['mikrolb.de/load-balancer-enabled'] = rng.chance(0.9) ? 'false' : 'maybe';
  if (rng.chance(0.2)) a['mikrolb.de/snat-ips'] = rng.chance(0.7) ? 'use-lb-ips' : V4A(rng);
  if (rng.chance(0.08)) a['mikrolb.de/snat-enabled'] = 'false';
  sharing(share, family, a);
  return a;
}

const withoutNulls = (a: Record<string, string | null>): Record<string, string> =>
  Object.fromEntries(Object.entries(a).filter((e): e is [string, string] => e[1] !== null));

const PORTS = [
  { name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 },
  { name: 'https', port: 443, protocol: 'TCP', targetPort: 8443 },
  { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 },
  { name: 'metrics', port: 9100, protocol: 'TCP', targetPort: 9100 },
  { name: 'alt', port: 8080, protocol: 'TCP', targetPort: 'alt-http' },
] as const;

export type PortSpec = (typeof PORTS)[number];

export function ports(rng: Rng): PortSpec[] {
  const chosen = PORTS.filter(() => rng.chance(0.4));
  return chosen.length > 0 ? chosen : [PORTS[0]];
}

function familySpec(family: Family) {
  if (family === 'dual') return { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' };
  return { ipFamilies: [family === 'v4' ? 'IPv4' : 'IPv6'], ipFamilyPolicy: 'SingleStack' };
}

/**
 * The deprecated `spec.loadBalancerIP` an annotation change sets now and then (one address of the
 * Service's first family, inside a pool or not); `null` removes it (merge patch). Where an
 * annotation names addresses too, the annotation wins (MikroLB reports the field ignored).
 */
export function loadBalancerIP(rng: Rng, family: Family): string | null {
  if (!rng.chance(0.15)) return null;
  return family === 'v6' ? V6(rng) : rng.pick([V4A, V4A, V4B, (_r: Rng) => '192.0.2.55'])(rng);
}

/** The spec fields that make a Service one of ours, another controller's, or a plain ClusterIP. */
export function typeSpec(kind: 'ours' | 'other' | 'clusterIP') {
  if (kind === 'clusterIP') return { type: 'ClusterIP', loadBalancerClass: null, allocateLoadBalancerNodePorts: null, loadBalancerIP: null };
  return { type: 'LoadBalancer', loadBalancerClass: kind === 'ours' ? OUR_CLASS : OTHER_CLASS, allocateLoadBalancerNodePorts: false };
}

export function serviceObject(rng: Rng, name: string, family: Family, share: Rng) {
  const roll = rng.next();
  const kind = roll < 0.9 ? 'ours' : roll < 0.95 ? 'other' : 'clusterIP';
  const notes = annotations(rng, family, share);
  // A ClusterIP Service is ours only through an explicit SNAT address.
  if (kind === 'clusterIP') notes['mikrolb.de/snat-ips'] = V4A(rng);
  const type = kind === 'clusterIP' ? { type: 'ClusterIP' } : { type: 'LoadBalancer', loadBalancerClass: kind === 'ours' ? OUR_CLASS : OTHER_CLASS, allocateLoadBalancerNodePorts: false };
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name, namespace: NAMESPACE, annotations: withoutNulls(notes) },
    spec: { ...type, ...familySpec(family), ports: ports(rng) },
  };
}

/**
 * One EndpointSlice of a Service with `count` endpoints, some not ready, some terminating (still
 * serving or not, as the EndpointSlice controller writes them: then program falls back to those
 * serving when none is ready), and some with the conditions an older writer leaves out.
 */
export function sliceObject(rng: Rng, service: string, suffix: string, addressType: 'IPv4' | 'IPv6', slot: number, servicePorts: readonly { name?: string; protocol?: string }[]) {
  const count = rng.int(0, 4);
  const endpoints = Array.from({ length: count }, (_, k) => {
    const host = k + (suffix === 'a' ? 10 : 20);
    // canonical text, as the API server insists: no zero group next to the '::'
    const address = addressType === 'IPv4' ? `10.244.${slot}.${host}` : `fd00:244::${(slot + 1).toString(16)}:${host}`;
    const ready = rng.chance(0.8);
    if (ready) return { addresses: [address], conditions: { ready } };
    const terminating = rng.chance(0.5);
    return { addresses: [address], conditions: { ready, ...(terminating ? { terminating, serving: rng.chance(0.5) } : {}) } };
  });
  const sp = servicePorts.map((p) => ({ name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: rng.chance(0.85) ? 8000 + slot : 9000 + slot }));
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: `${service}-${suffix}`, namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': service } },
    addressType, endpoints, ports: sp,
  };
}

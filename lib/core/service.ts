import { createHash } from 'node:crypto';
import { formatAddress, parseAddress, type IPFamily } from '../ip/index.js';
import type { Service } from '../k8s/core-objects.js';
import { PoolNameSchema } from '../k8s/schemas.js';
import { holdsAddress } from './pools.js';
import {
  ANNOTATION_LB_ENABLED, ANNOTATION_LB_IPS, ANNOTATION_LB_POOLS, ANNOTATION_METALLB_IPS, ANNOTATION_METALLB_IPS_LEGACY,
  ANNOTATION_SNAT_ENABLED, ANNOTATION_SNAT_IPS, FIELD_LOAD_BALANCER_IP, METALLB_POOL_ANNOTATIONS, SNAT_USE_LB_IPS,
} from '../k8s/keys.js';

export interface ClassConfig {
  /** spec.loadBalancerClass this controller serves (default `mikrolb.de/controller`). */
  loadBalancerClass: string;
  /** Also serve LoadBalancer Services without a class. */
  defaultClass: boolean;
  /**
   * MIKROLB_CLUSTER_NAME: the router entries this installation owns carry it in their tag, so
   * several clusters can share a router (absent: `default`).
   */
  clusterName?: string;
  /** How much one Service may ask for (absent: DEFAULT_SERVICE_LIMITS). */
  limits?: ServiceLimits;
}

/**
 * Bounds on what one Service's annotations can make MikroLB do: annotations are written by
 * anyone who may edit a Service, so neither a long list nor many addresses may turn into
 * unbounded work, objects or events.
 */
export interface ServiceLimits {
  /** MAX_ANNOTATION_ITEMS: items read from one comma-separated list; later items are ignored. */
  maxAnnotationItems: number;
  /** MAX_ALLOCATIONS_PER_SERVICE: IPAllocations one Service may have; later wants are ignored. */
  maxAllocations: number;
}

export const DEFAULT_SERVICE_LIMITS: ServiceLimits = { maxAnnotationItems: 16, maxAllocations: 16 };

/** One IPAllocation a Service asks for: exactly one of address, poolName, ipFamily. */
export interface DesiredAllocation {
  name: string;
  address?: string;
  poolName?: string;
  ipFamily?: IPFamily;
  /** Used as a load-balancer address, as the SNAT address, or both. */
  roles: { lb: boolean; snat: boolean };
}

export interface AnnotationProblem {
  annotation: string;
  value: string;
  message: string;
}

export interface ServiceIntent {
  /** Whether MikroLB manages this Service at all. */
  managed: boolean;
  /** A LoadBalancer Service of our class (as opposed to SNAT-only). */
  loadBalancer: boolean;
  lbEnabled: boolean;
  snatEnabled: boolean;
  /** SNAT reuses the load-balancer addresses (`snat-ips: use-lb-ips`). */
  snatUsesLbIps: boolean;
  allocations: DesiredAllocation[];
  problems: AnnotationProblem[];
}

const splitList = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s !== '');

/** The first `max` items of a comma list; more items are one problem, and are never looked at. */
function listItems(key: string, raw: string, max: number, problems: AnnotationProblem[]): string[] {
  const items = splitList(raw);
  if (items.length <= max) return items;
  problems.push({ annotation: key, value: `${items.length} items`, message: `${key} has ${items.length} items, more than the ${max} allowed; only the first ${max} are used` });
  return items.slice(0, max);
}

/** Deterministic allocation name: `ip-` + 12 hex digits of a hash of uid, address, pool and family. */
export function allocationName(serviceUid: string, want: { address?: string; poolName?: string; ipFamily?: string }): string {
  const digest = createHash('sha256')
    .update([serviceUid, want.address ?? '', want.poolName ?? '', want.ipFamily ?? ''].join('|'))
    .digest('hex');
  return `ip-${digest.slice(0, 12)}`;
}

function isOurLoadBalancer(svc: Service, cfg: ClassConfig): boolean {
  if (svc.spec.type !== 'LoadBalancer') return false;
  const cls = svc.spec.loadBalancerClass;
  return cls === cfg.loadBalancerClass || (cls === undefined && cfg.defaultClass);
}

/**
 * A LoadBalancer Service another controller serves: another class, or no class while
 * default-class mode is off (the cluster's default implementation serves it). Its finalizers
 * and status belong to that controller, so MikroLB never manages it, whatever its annotations.
 */
export function isForeignLoadBalancer(svc: Service, cfg: ClassConfig): boolean {
  return svc.spec.type === 'LoadBalancer' && !isOurLoadBalancer(svc, cfg);
}

function parseBool(annotations: Record<string, string>, key: string, problems: AnnotationProblem[]): boolean {
  const raw = annotations[key];
  if (raw === undefined) return true;
  const v = raw.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  problems.push({ annotation: key, value: raw, message: `${key}: "${raw}" is not "true" or "false"; using "true"` });
  return true;
}

/** Canonical addresses from a comma list (at most `max` items); bad entries become problems. */
function parseAddresses(key: string, raw: string, max: number, problems: AnnotationProblem[]): { family: IPFamily; text: string }[] {
  const out: { family: IPFamily; text: string }[] = [];
  for (const item of listItems(key, raw, max, problems)) {
    const p = parseAddress(item);
    if (!p.ok) problems.push({ annotation: key, value: item, message: `${key}: "${item}" is not a valid IP address; ignoring it` });
    else if (!out.some((o) => o.text === formatAddress(p.family, p.value))) out.push({ family: p.family, text: formatAddress(p.family, p.value) });
  }
  return out;
}

/**
 * Where a Service's explicit load-balancer addresses come from, first wins: MikroLB's own
 * annotation, MetalLB's annotation, MetalLB's older spelling, then `spec.loadBalancerIP`.
 */
export const LB_ADDRESS_SOURCES = [ANNOTATION_LB_IPS, ANNOTATION_METALLB_IPS, ANNOTATION_METALLB_IPS_LEGACY, FIELD_LOAD_BALANCER_IP] as const;

function sourceValue(svc: Service, a: Record<string, string>, source: (typeof LB_ADDRESS_SOURCES)[number]): string | undefined {
  return listValue(source === FIELD_LOAD_BALANCER_IP ? svc.spec.loadBalancerIP : a[source]);
}

/** A comma list's value, unless it names nothing (empty, blank, or only commas: `" , "`), which counts as not set. */
const listValue = (raw: string | undefined): string | undefined => (raw === undefined || splitList(raw).length === 0 ? undefined : raw);

/**
 * The explicit addresses of the first source that is set; every later source that is set and
 * names other addresses is ignored with a problem (naming the same ones is no conflict).
 */
function explicitAddresses(svc: Service, a: Record<string, string>, max: number, problems: AnnotationProblem[]): { family: IPFamily; text: string }[] | undefined {
  const set = LB_ADDRESS_SOURCES.flatMap((source) => {
    const raw = sourceValue(svc, a, source);
    return raw === undefined ? [] : [{ source, raw }];
  });
  const [winner, ...others] = set;
  if (winner === undefined) return undefined;
  const chosen = parseAddresses(winner.source, winner.raw, max, problems);
  const key = (list: readonly { text: string }[]): string => list.map((x) => x.text).sort().join(',');
  for (const other of others) {
    if (key(parseAddresses(other.source, other.raw, max, [])) === key(chosen)) continue;
    problems.push({ annotation: other.source, value: other.raw, message: `${other.source} is ignored because ${winner.source} is set (and names other addresses)` });
  }
  return chosen;
}

/** Explicit addresses and named pools are both honoured (as upstream); neither: one per family. */
function lbWants(svc: Service, a: Record<string, string>, max: number, problems: AnnotationProblem[]): Omit<DesiredAllocation, 'name' | 'roles'>[] {
  const addresses = explicitAddresses(svc, a, max, problems);
  // an empty value counts as not set (as upstream)
  const pools = listValue(a[ANNOTATION_LB_POOLS]);
  const names: string[] = [];
  for (const name of pools === undefined ? [] : listItems(ANNOTATION_LB_POOLS, pools, max, problems)) {
    if (!PoolNameSchema.safeParse(name).success) {
      problems.push({ annotation: ANNOTATION_LB_POOLS, value: name, message: `${ANNOTATION_LB_POOLS}: "${name}" is not a valid pool name; ignoring it` });
    } else if (!names.includes(name)) names.push(name);
  }
  if (addresses !== undefined || pools !== undefined) {
    return [...(addresses ?? []).map((p) => ({ address: p.text })), ...names.map((poolName) => ({ poolName }))];
  }
  // a Service written for MetalLB that asked for a pool would otherwise get an address from
  // another pool without a word
  for (const key of METALLB_POOL_ANNOTATIONS) {
    const raw = a[key];
    if (raw?.trim()) problems.push({ annotation: key, value: raw, message: `${key} is not read, so the address comes from an autoAssign pool; name the pool in ${ANNOTATION_LB_POOLS}` });
  }
  const families = svc.spec.ipFamilies?.length ? svc.spec.ipFamilies : (['IPv4'] as const);
  return [...new Set(families)].map((ipFamily) => ({ ipFamily }));
}

/**
 * The family a Service would like but can go without: the second of its `spec.ipFamilies`
 * under `ipFamilyPolicy: PreferDualStack` (as for its ClusterIPs, the first family is the
 * primary one, always required). Its family allocation (see lbWants) is still made and retried,
 * but one that failed does not keep the Service from being ready (serviceCondition).
 * Undefined under RequireDualStack, SingleStack, or with one family.
 */
export function optionalFamily(svc: Pick<Service, 'spec'>): IPFamily | undefined {
  const [primary, secondary] = svc.spec.ipFamilies ?? [];
  return svc.spec.ipFamilyPolicy === 'PreferDualStack' && secondary !== undefined && secondary !== primary ? secondary : undefined;
}

function snatWants(a: Record<string, string>, loadBalancer: boolean, max: number, problems: AnnotationProblem[]): { useLb: boolean; addresses: { family: IPFamily; text: string }[] } {
  const raw = a[ANNOTATION_SNAT_IPS];
  if (raw === undefined) return { useLb: false, addresses: [] };
  if (raw.trim() === SNAT_USE_LB_IPS) {
    if (loadBalancer) return { useLb: true, addresses: [] };
    problems.push({ annotation: ANNOTATION_SNAT_IPS, value: raw, message: `${ANNOTATION_SNAT_IPS}: "${SNAT_USE_LB_IPS}" needs a LoadBalancer Service of this controller's class; ignoring it` });
    return { useLb: false, addresses: [] };
  }
  // Every address is allocated, as upstream does; the router SNATs to the highest of a family.
  return { useLb: false, addresses: parseAddresses(ANNOTATION_SNAT_IPS, raw, max, problems) };
}

const notOurs = (): ServiceIntent => ({
  managed: false, loadBalancer: false, lbEnabled: false, snatEnabled: false, snatUsesLbIps: false, allocations: [], problems: [],
});

/**
 * What a Service asks of MikroLB: whether it is managed, which IPAllocations it needs, and
 * which annotation values were invalid (each still lets the rest of the annotation apply).
 * A LoadBalancer of another controller is not ours even with SNAT annotations, and its
 * annotations are not ours to complain about.
 */
export function serviceIntent(svc: Service, cfg: ClassConfig): ServiceIntent {
  if (isForeignLoadBalancer(svc, cfg)) return notOurs();
  const a = svc.metadata.annotations ?? {};
  const problems: AnnotationProblem[] = [];
  const loadBalancer = isOurLoadBalancer(svc, cfg);
  const lbEnabled = parseBool(a, ANNOTATION_LB_ENABLED, problems);
  const snatEnabled = parseBool(a, ANNOTATION_SNAT_ENABLED, problems);
  const limits = cfg.limits ?? DEFAULT_SERVICE_LIMITS;
  const snat = snatWants(a, loadBalancer, limits.maxAnnotationItems, problems);
  const managed = loadBalancer || snat.addresses.length > 0;
  const uid = svc.metadata.uid ?? '';
  const allocations: DesiredAllocation[] = [];
  const add = (want: Omit<DesiredAllocation, 'name' | 'roles'>, role: 'lb' | 'snat'): void => {
    const same = allocations.find((d) => want.address !== undefined && d.address === want.address);
    if (same) {
      same.roles[role] = true;
      return;
    }
    allocations.push({ ...want, name: allocationName(uid, want), roles: { lb: role === 'lb', snat: role === 'snat' } });
  };
  if (loadBalancer) for (const w of lbWants(svc, a, limits.maxAnnotationItems, problems)) add(w, 'lb');
  for (const s of snat.addresses) add({ address: s.text }, 'snat');
  const lbSource = LB_ADDRESS_SOURCES.find((source) => sourceValue(svc, a, source) !== undefined) ?? ANNOTATION_LB_IPS;
  const sourceOf = (w: DesiredAllocation): string =>
    w.poolName !== undefined ? ANNOTATION_LB_POOLS : w.ipFamily !== undefined ? 'spec.ipFamilies' : w.roles.lb ? lbSource : ANNOTATION_SNAT_IPS;
  const kept = managed ? capAllocations(allocations, limits.maxAllocations, sourceOf, problems) : [];
  return { managed, loadBalancer, lbEnabled, snatEnabled, snatUsesLbIps: snat.useLb, allocations: kept, problems };
}

/** The first `max` wants (load-balancer addresses, pools, families, then SNAT addresses); the rest is one problem. */
function capAllocations(wants: DesiredAllocation[], max: number, sourceOf: (w: DesiredAllocation) => string, problems: AnnotationProblem[]): DesiredAllocation[] {
  if (wants.length <= max) return wants;
  const dropped = wants.slice(max).map((w) => w.address ?? w.poolName ?? w.ipFamily ?? '');
  const keys = [...new Set(wants.slice(max).map(sourceOf))];
  problems.push({
    annotation: keys.join(', '), value: dropped.join(','),
    message: `${keys.join(', ')}: the Service asks for ${wants.length} addresses, more than the ${max} allowed per Service; only the first ${max} are allocated, ignoring ${dropped.slice(0, 3).join(', ')}${dropped.length > 3 ? ` and ${dropped.length - 3} more` : ''}`,
  });
  return wants.slice(0, max);
}

/** Problems spelled out in a Service's one AnnotationInvalid Warning; each clipped to this many characters. */
const PROBLEMS_SHOWN = 5;
const PROBLEM_CHARS = 240;

/** Whether a Service as read is ours and not being deleted: what allocate and program act on. */
export function managedAndLive(svc: Service, cfg: ClassConfig): boolean {
  return svc.metadata.deletionTimestamp === undefined && serviceIntent(svc, cfg).managed;
}

/**
 * The note of the one AnnotationInvalid Warning a Service gets per invocation: the problem
 * itself when there is one, else how many there are and the first few (undefined: none).
 */
export function annotationWarning(problems: readonly AnnotationProblem[]): string | undefined {
  const clip = (m: string): string => (m.length > PROBLEM_CHARS ? `${m.slice(0, PROBLEM_CHARS - 1)}…` : m);
  const shown = problems.slice(0, PROBLEMS_SHOWN).map((p) => clip(p.message));
  if (shown.length <= 1) return shown[0];
  const more = problems.length - shown.length;
  return `${problems.length} invalid annotation values: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
}

/**
 * The note of a Service that asks for no address MikroLB can allocate (every one it names is
 * invalid), which its LoadBalancerReady condition shows; undefined when it asks for any.
 */
export const nothingValidNote = (intent: Pick<ServiceIntent, 'allocations' | 'problems'>): string | undefined =>
  intent.allocations.length === 0 ? annotationWarning(intent.problems) ?? 'its annotations name no address or pool' : undefined;

/** Same request: the same explicit address (canonically), pool or family. */
export function sameRequest(want: DesiredAllocation, spec: { address?: string; poolName?: string; ipFamily?: string }): boolean {
  if (want.address !== undefined) {
    const p = spec.address ? parseAddress(spec.address) : undefined;
    return p !== undefined && p.ok && formatAddress(p.family, p.value) === want.address;
  }
  if (want.poolName !== undefined) return spec.poolName === want.poolName && !spec.address && !spec.ipFamily;
  return spec.ipFamily === want.ipFamily && !spec.address && !spec.poolName;
}

/** What an IPAllocation's spec says for a want: exactly one of address, pool, family. */
export function requestOf(want: DesiredAllocation): { address: string } | { poolName: string } | { ipFamily: IPFamily } {
  if (want.address !== undefined) return { address: want.address };
  if (want.poolName !== undefined) return { poolName: want.poolName };
  return { ipFamily: want.ipFamily ?? 'IPv4' };
}

/**
 * The addresses a Service asks for by name (canonical text): its explicit load-balancer
 * addresses, whichever source they came from, and its SNAT addresses. A pool or family
 * allocation of the same Service never searches its way onto one of them.
 */
export const addressesAskedFor = (intent: Pick<ServiceIntent, 'allocations'>): string[] =>
  intent.allocations.flatMap((w) => (w.address === undefined ? [] : [w.address]));

export interface AllocationMatch<A> {
  /** Existing allocation name → what it stands for. */
  matched: Map<string, DesiredAllocation>;
  /** Wanted but not there yet: create these. */
  missing: DesiredAllocation[];
  /** There but no longer wanted: delete these. */
  stale: A[];
}

interface Matchable {
  metadata: { name: string; deletionTimestamp?: string };
  spec: { address?: string; poolName?: string; ipFamily?: string };
  status?: { address?: string; phase?: string };
}

/** The address an allocation holds as its status records it (canonical), while it is allocated. */
function statusAddress(a: Matchable): string | undefined {
  const p = holdsAddress(a) && a.status?.address !== undefined ? parseAddress(a.status.address) : undefined;
  return p?.ok ? formatAddress(p.family, p.value) : undefined;
}

/**
 * Pairs a Service's existing IPAllocations with what it asks for: by name first, then by the
 * same request, so allocations made under other names (by upstream MikroLB, say) are kept
 * with their addresses instead of being replaced; then an explicit address by the allocation
 * that holds it already (a Service pinning the address it was given): that allocation is kept,
 * and allocate rewrites its spec to the request, so the address never leaves the Service (a
 * new allocation for it would find its claim held by the old one, being released).
 */
export function matchAllocations<A extends Matchable>(intent: ServiceIntent, existing: readonly A[]): AllocationMatch<A> {
  const live = existing.filter((a) => !a.metadata.deletionTimestamp);
  const matched = new Map<string, DesiredAllocation>();
  const missing: DesiredAllocation[] = [];
  const free = (a: A): boolean => !matched.has(a.metadata.name) && !intent.allocations.some((w) => w.name === a.metadata.name);
  const byName = (want: DesiredAllocation): A | undefined => live.find((a) => a.metadata.name === want.name && !matched.has(a.metadata.name));
  const bySpec = (want: DesiredAllocation): A | undefined => live.find((a) => free(a) && sameRequest(want, a.spec));
  const byHeld = (want: DesiredAllocation): A | undefined => (want.address === undefined ? undefined : live.find((a) => free(a) && statusAddress(a) === want.address));
  for (const want of intent.allocations) {
    const found = byName(want) ?? bySpec(want);
    if (found) matched.set(found.metadata.name, want);
    else missing.push(want);
  }
  // an address held by an allocation no want claims by name or request: after those, so that an
  // allocation asking for the same thing is always the one kept
  for (const want of [...missing]) {
    const found = byHeld(want);
    if (!found) continue;
    matched.set(found.metadata.name, want);
    missing.splice(missing.indexOf(want), 1);
  }
  return { matched, missing, stale: live.filter((a) => !matched.has(a.metadata.name)) };
}

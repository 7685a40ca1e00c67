import { REASON_ADDRESS_IN_USE_BY_ROUTER, refusedByRouter } from '../../lib/core/allocation-status.js';
import { findCondition } from '../../lib/core/conditions.js';
import { poolServes, type Requester } from '../../lib/core/pool-scope.js';
import { assignAddress } from '../../lib/core/assign.js';
import { holdsAddress, poolFamilies, viewPools } from '../../lib/core/pools.js';
import { advertisementWants, serviceProgram } from '../../lib/core/program-model.js';
import { ingressFor, isReady, serviceCondition } from '../../lib/core/program-status.js';
import { ownersOf, planOwner, type OwnerProgram } from '../../lib/core/router-program.js';
import { addressesAskedFor, matchAllocations, optionalFamily, serviceIntent, type ClassConfig } from '../../lib/core/service.js';
import { formatAddress, parseAddress, TakenAddresses, type IPFamily } from '../../lib/ip/index.js';
import type { EndpointSlice, Service } from '../../lib/k8s/core-objects.js';
import { type IPAddressClaim, type IPAllocation, type IPPool } from '../../lib/k8s/schemas.js';
import { FINALIZER, LABEL_SERVICE_UID } from '../../lib/k8s/keys.js';
import { menusFor, ownerOf, type Op } from '../../lib/router/index.js';
import type { RouterEntry } from '../../lib/router/state.js';
import { claimOf, claims, poolStatusCounts, uniqueAddresses } from './claim-invariants.js';
import { holdersOf, sharedAddressOwner } from '../../lib/core/sharing.js';
import { POOL_COND_DELETION } from '../../functions/release/pool.js';
import { CHAOS_CLUSTER } from './router-seed.js';

/** Everything the invariants are judged on, read once after the settle period. */
export interface World {
  services: Service[];
  slices: EndpointSlice[];
  allocations: IPAllocation[];
  pools: IPPool[];
  /** Every IPAddressClaim (cluster-scoped: one per held address). */
  claims: IPAddressClaim[];
  /**
   * When the settle phase sent its last resync of each function that answered 2xx (ms since
   * the epoch). Allocate's refreshes every pool's counts from its claims (allocations never
   * do), release's collects claims nobody holds once older than `claimGraceMs`.
   */
  resynced: { allocate?: number; release?: number };
  /** The grace period the release processes run with (their `claimGraceMs`). */
  claimGraceMs: number;
  /** The router's menus as the product reads them (print over the API). */
  router: Record<string, RouterEntry[]>;
  /** `foreignEntries` of the router before the run and now. */
  foreignBefore: string;
  foreignNow: string;
  /** The labels of the chaos namespace (scoped pools select it by them). */
  namespaceLabels: Readonly<Record<string, string>>;
}

export interface Violation {
  invariant: string;
  detail: string;
}

const familyOf = (ip: string): IPFamily | undefined => {
  const p = parseAddress(ip);
  return p.ok ? p.family : undefined;
};
const key = (s: Service): string => `${s.metadata.namespace ?? 'default'}/${s.metadata.name}`;
/** An op, naming the entries it touches by their comments (ids alone say little after the run). */
const describeOp = (op: Op, router: World['router']): string => {
  const comment = (id: string): string => `${id} "${(router[op.menu] ?? []).find((e) => e['.id'] === id)?.comment ?? '?'}"`;
  const what = op.op === 'add' ? `"${op.entry.comment}"` : op.op === 'set' ? `${comment(op.id)} ${JSON.stringify(op.changes)}` : op.ids.map(comment).join(', ');
  return `${op.op} ${op.menu} ${what}`;
};

/** The addresses whose claim is shared (canonical text): their own entries belong to the address. */
const sharedAddresses = (w: World): Set<string> => new Set(w.claims.flatMap((c) => {
  const p = c.spec.sharingKey === undefined ? undefined : parseAddress(c.spec.address);
  return p?.ok ? [formatAddress(p.family, p.value)] : [];
}));

/** Live Services MikroLB manages, with their allocations and the owner program the router must carry. */
function managedServices(w: World, classes: ClassConfig) {
  return w.services.filter((s) => !s.metadata.deletionTimestamp && s.metadata.uid && serviceIntent(s, classes).managed).map((svc) => {
    const intent = serviceIntent(svc, classes);
    const allocations = w.allocations.filter((a) => a.metadata.labels?.[LABEL_SERVICE_UID] === svc.metadata.uid && !a.metadata.deletionTimestamp);
    const slices = w.slices.filter((s) => s.metadata.namespace === svc.metadata.namespace && s.metadata.labels?.['kubernetes.io/service-name'] === svc.metadata.name);
    const model = serviceProgram(svc, intent, allocations, slices, sharedAddresses(w));
    const owner: OwnerProgram = { uid: svc.metadata.uid ?? '', service: model, adverts: advertisementWants(allocations, w.pools) };
    return { svc, intent, allocations, owner, lbEnabled: model.lbEnabled };
  });
}

const reservations = (w: World): IPAllocation[] => w.allocations.filter((a) => !a.metadata.labels?.[LABEL_SERVICE_UID] && !a.metadata.deletionTimestamp);

/** Every managed Service has the allocations it asks for, each decided, and the ingress of its ready ones. */
export function serviceStatus(w: World, classes: ClassConfig): Violation[] {
  const out: Violation[] = [];
  const bad = (svc: Service, detail: string) => out.push({ invariant: 'service-status', detail: `${key(svc)}: ${detail}` });
  for (const { svc, intent, allocations, lbEnabled } of managedServices(w, classes)) {
    if (!svc.metadata.finalizers?.includes(FINALIZER)) bad(svc, 'managed but without our finalizer');
    const { missing, stale } = matchAllocations(intent, allocations);
    if (missing.length) bad(svc, `allocations missing: ${missing.map((m) => m.name).join(', ')}`);
    if (stale.length) bad(svc, `allocations no longer wanted: ${stale.map((a) => a.metadata.name).join(', ')}`);
    for (const a of allocations) {
      const phase = a.status?.phase;
      if (phase !== 'Allocated' && phase !== 'Programmed' && phase !== 'Failed') bad(svc, `${a.metadata.name} is still ${phase ?? 'without a status'}`);
      else if (phase !== 'Failed' && !isReady(a) && !refusedWhereDue(w, a, svc, classes)) {
        bad(svc, `${a.metadata.name} (${a.status?.address ?? ''}) is not ready: ${findCondition(a.status?.conditions, 'Ready')?.message ?? 'no Ready condition'}`);
      }
    }
    const lbNames = new Set([...matchAllocations(intent, allocations).matched].filter(([, d]) => d.roles.lb).map(([n]) => n));
    const got = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '').sort();
    const want = lbEnabled ? ingressFor(allocations.filter((a) => lbNames.has(a.metadata.name)), svc.spec.ipFamilies ?? [], new Set(got)).map((i) => i.ip) : [];
    if (JSON.stringify(want) !== JSON.stringify(got)) bad(svc, `ingress ${JSON.stringify(got)}, its ready allocations say ${JSON.stringify(want)}`);
    const cond = findCondition(svc.status?.conditions, 'mikrolb.de/LoadBalancerReady');
    const expected = serviceCondition(allocations, { optionalFamily: optionalFamily(svc) });
    if (cond?.status !== expected.status) bad(svc, `condition LoadBalancerReady is ${cond?.status ?? 'missing'} (${cond?.reason ?? ''}), expected ${expected.status} (${expected.reason})`);
  }
  for (const svc of w.services.filter((s) => !s.metadata.deletionTimestamp && !serviceIntent(s, classes).managed)) {
    if (svc.metadata.finalizers?.includes(FINALIZER)) bad(svc, 'not managed any more but still carries our finalizer');
    if (svc.spec.type !== 'LoadBalancer' && (svc.status?.loadBalancer?.ingress ?? []).length > 0) bad(svc, 'not managed any more but its ingress is left');
  }
  return out;
}

/** A Service as pool scopes see it: its labels and its namespace's, as they are now. */
const requesterOf = (w: World, svc: Service): Requester =>
  ({ key: key(svc), namespace: svc.metadata.namespace ?? 'default', labels: svc.metadata.labels ?? {}, namespaceLabels: w.namespaceLabels });

/** Every claimed address, taken (as allocate's hint would be, fresh). */
function takenBy(w: World): Record<IPFamily, TakenAddresses> {
  const taken = { IPv4: new TakenAddresses(), IPv6: new TakenAddresses() };
  for (const c of w.claims) {
    const p = parseAddress(c.spec.address);
    if (p.ok) taken[p.family].add(p.value);
  }
  return taken;
}

/**
 * An allocation the router's own address keeps from being ready, rightly: it asked for that
 * address by name, or no other address of its pools is free (judged with the product's pure
 * `assignAddress`, as allocate moves it). One that could move and did not is not ready.
 */
function refusedWhereDue(w: World, a: IPAllocation, svc: Service, classes: ClassConfig): boolean {
  const service = { key: key(svc), ipFamilies: svc.spec.ipFamilies ?? [] };
  if (findCondition(a.status?.conditions, 'Ready')?.reason !== REASON_ADDRESS_IN_USE_BY_ROUTER) return false;
  const routerHeld = refusedByRouter(a);
  if (routerHeld === undefined) return true;
  const held = claimOf(w, a)?.spec;
  const taken = takenBy(w);
  const d = assignAddress({ allocation: a, pools: viewPools(w.pools), taken: (f) => taken[f], ...(held ? { held } : {}), service, requester: requesterOf(w, svc), routerHeld, askedFor: addressesAskedFor(serviceIntent(svc, classes)) });
  return !d.ok || d.held;
}

/** Every allocation belongs to a live managed Service or is an operator reservation, and is decided. */
export function allocationOwners(w: World, classes: ClassConfig): Violation[] {
  const owners = new Set(managedServices(w, classes).map((m) => m.svc.metadata.uid));
  const out: Violation[] = [];
  for (const a of w.allocations) {
    const uid = a.metadata.labels?.[LABEL_SERVICE_UID];
    if (uid && !owners.has(uid)) out.push({ invariant: 'allocation-owner', detail: `${a.metadata.name} (${a.status?.address ?? 'no address'}) belongs to Service uid ${uid}, which is gone or not managed` });
  }
  // program clears an address an allocation moved away from once it took its entries off
  for (const a of w.allocations) {
    const former = a.status?.formerAddresses ?? [];
    if (former.length > 0 && !a.metadata.deletionTimestamp) out.push({ invariant: 'allocation-former', detail: `${a.metadata.name} (${a.status?.address ?? 'no address'}) still lists former address(es) ${former.join(', ')}` });
  }
  for (const a of reservations(w)) {
    if (a.status?.phase === undefined || a.status.phase === 'Pending') out.push({ invariant: 'allocation-owner', detail: `reservation ${a.metadata.name} is still ${a.status?.phase ?? 'without a status'}` });
  }
  return out;
}

/**
 * Liveness: no allocation stays Failed although it could be allocated now (its address was freed,
 * its pool has room again, or it holds a claim that fits). Judged with the product's own pure
 * `assignAddress` on the final state: every claimed address is taken, its own claim is held.
 */
export function starvedAllocations(w: World, classes: ClassConfig): Violation[] {
  const views = viewPools(w.pools);
  const taken = takenBy(w);
  const out: Violation[] = [];
  const candidates = [
    ...managedServices(w, classes).flatMap((m) => m.allocations.map((a) => ({ a, service: { key: key(m.svc), ipFamilies: m.svc.spec.ipFamilies ?? [] }, requester: requesterOf(w, m.svc), askedFor: addressesAskedFor(m.intent) }))),
    ...reservations(w).map((a) => ({ a, service: undefined, requester: undefined, askedFor: [] })),
  ];
  for (const { a, service, requester, askedFor } of candidates) {
    if (a.status?.phase !== 'Failed') continue;
    const held = claimOf(w, a)?.spec;
    const d = assignAddress({ allocation: a, pools: views, taken: (f) => taken[f], ...(held ? { held } : {}), ...(service ? { service } : {}), ...(requester ? { requester } : {}), askedFor });
    const reason = findCondition(a.status.conditions, 'Ready')?.reason ?? '?';
    // an explicit address is decided without looking at the claims: its claim's create tells
    const p = d.ok && !d.held ? parseAddress(d.address) : undefined;
    if (p?.ok && taken[p.family].has(p.value)) continue;
    if (d.ok) out.push({ invariant: 'allocation-starved', detail: `${a.metadata.name} is Failed (${reason}) although ${d.address} in pool ${d.pool} ${d.held ? 'is claimed for it' : 'is free for it'} now` });
  }
  return out;
}

/** The router carries exactly the plan for the cluster: nothing missing, nothing leaked. */
export function routerPlan(w: World, classes: ClassConfig): Violation[] {
  const out: Violation[] = [];
  const owners: OwnerProgram[] = [
    ...managedServices(w, classes).map((m) => m.owner),
    ...reservations(w).filter((a) => a.status?.address).map((a) => ({ uid: a.metadata.uid ?? '', adverts: advertisementWants([a], w.pools) })),
  ];
  for (const owner of owners) {
    const { ops } = planOwner(owner, w.router);
    if (ops.length) out.push({ invariant: 'router-plan', detail: `owner ${owner.uid}${owner.service ? ` (${owner.service.namespace}/${owner.service.name})` : ''} needs ${ops.length} op(s): ${ops.slice(0, 4).map((op) => describeOp(op, w.router)).join('; ')}` });
  }
  // a shared address's own entries stand while its claim is shared, as the GC keeps them
  // (routerKeepers): a claim whose holders are all gone is the claims invariant's to judge
  const live = new Set([...owners.flatMap((o) => ownersOf(o)), ...w.claims.flatMap((c) => {
    const owner = c.spec.sharingKey === undefined ? undefined : sharedAddressOwner(c.spec.address);
    return owner === undefined ? [] : [owner];
  })]);
  // a family some pool serves keeps its global rules too (created at start, kept by the GC)
  const families = new Set<IPFamily | undefined>([...poolFamilies(w.pools), ...w.allocations.filter((a) => holdsAddress(a) && !a.metadata.deletionTimestamp).map((a) => familyOf(a.status?.address ?? ''))]);
  for (const [menu, entries] of Object.entries(w.router)) {
    for (const e of entries) {
      const owner = ownerOf(e.comment);
      if (owner?.kind === 'service' && owner.cluster === CHAOS_CLUSTER && !live.has(owner.uid)) out.push({ invariant: 'router-leak', detail: `${menu} ${e['.id'] ?? ''} "${e.comment ?? ''}" belongs to ${owner.uid}, which is gone` });
    }
  }
  for (const f of ['IPv4', 'IPv6'] as const) {
    if (families.has(f)) continue;
    const globals = menusFor(f).flatMap((m) => (w.router[m] ?? []).filter((e) => { const o = ownerOf(e.comment); return o?.kind === 'global' && o.cluster === CHAOS_CLUSTER; }).map((e) => `${m} "${e.comment ?? ''}"`));
    if (globals.length) out.push({ invariant: 'router-leak', detail: `no ${f} address is allocated nor pool left, yet ${globals.length} global rule(s) remain: ${globals.slice(0, 3).join(', ')}` });
  }
  return out;
}

export function foreign(w: World): Violation[] {
  return w.foreignNow === w.foreignBefore ? [] : [{ invariant: 'foreign-entries', detail: `foreign router entries changed:\n  before ${w.foreignBefore}\n  now    ${w.foreignNow}` }];
}

/**
 * No object waits for a finalizer after the settle period, but a pool whose addresses live
 * allocations still hold (their claims name it): that one waits, as documented, and says why
 * (`DeletionBlocked`).
 */
export function stuckDeletions(w: World): Violation[] {
  const live = new Set(w.allocations.filter((a) => !a.metadata.deletionTimestamp).map((a) => a.metadata.uid));
  const held = (pool: IPPool): boolean => w.claims.some((c) => c.spec.poolName === pool.metadata.name && holdersOf(c.spec).some((h) => live.has(h.allocationUID)));
  const waiting = (pool: IPPool): Violation[] => {
    if (!held(pool)) return [stuck(pool)];
    const blocked = findCondition(pool.status?.conditions, POOL_COND_DELETION);
    return blocked?.status === 'True' ? [] : [{ invariant: 'stuck-deletion', detail: `pool ${pool.metadata.name} waits for the allocations holding its addresses, but does not say so (${POOL_COND_DELETION} ${blocked?.status ?? 'missing'})` }];
  };
  return [
    ...[...w.services, ...w.allocations].filter((o) => o.metadata.deletionTimestamp).map(stuck),
    ...w.pools.filter((p) => p.metadata.deletionTimestamp).flatMap(waiting),
  ];
}

const stuck = (o: { metadata: { name: string; namespace?: string | undefined; deletionTimestamp?: string | undefined; finalizers?: string[] | undefined } }): Violation => ({
  invariant: 'stuck-deletion',
  detail: `${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name} deleted at ${o.metadata.deletionTimestamp ?? ''} still has finalizers ${JSON.stringify(o.metadata.finalizers ?? [])}`,
});

/**
 * Every address a Service holds from a scoped pool is one the pool serves it: its scope as it is
 * now, with the Service's labels and its namespace's as they are now (a change of either, or of
 * the pool, moves the Service within seconds; the settle phase's resyncs check it too).
 */
export function poolScopes(w: World, classes: ClassConfig): Violation[] {
  const out: Violation[] = [];
  for (const { svc, allocations } of managedServices(w, classes)) {
    const requester = requesterOf(w, svc);
    for (const a of allocations) {
      if (a.status?.phase !== 'Allocated' && a.status?.phase !== 'Programmed') continue;
      const pool = w.pools.find((p) => p.metadata.name === claimOf(w, a)?.spec.poolName);
      if (pool && !pool.metadata.deletionTimestamp && !poolServes(pool, requester)) {
        out.push({ invariant: 'pool-scope', detail: `${a.metadata.name} of ${key(svc)} holds ${a.status.address ?? '?'} of pool ${pool.metadata.name}, which does not serve it (namespace labels ${JSON.stringify(w.namespaceLabels)})` });
      }
    }
  }
  return out;
}

export function checkInvariants(w: World, classes: ClassConfig): Violation[] {
  return [
    ...uniqueAddresses(w), ...claims(w), ...poolStatusCounts(w), ...serviceStatus(w, classes), ...allocationOwners(w, classes), ...starvedAllocations(w, classes),
    ...poolScopes(w, classes), ...routerPlan(w, classes), ...foreign(w), ...stuckDeletions(w),
  ];
}

import { describe, expect, it } from 'vitest';
import { POOL_COND_OUTSIDE } from '../../lib/core/pool-status.js';
import { POOL_COND_DELETION } from '../../functions/release/pool.js';
import { formatCounts, poolCounts, viewPools } from '../../lib/core/pools.js';
import { advertisementWants, serviceProgram } from '../../lib/core/program-model.js';
import { planOwner } from '../../lib/core/router-program.js';
import { allocationName, serviceIntent } from '../../lib/core/service.js';
import type { EndpointSlice, Service } from '../../lib/k8s/core-objects.js';
import { claimNameOf } from '../../lib/k8s/claims.js';
import { IPPoolSchema, type IPAddressClaim, type IPAllocation, type IPPool } from '../../lib/k8s/schemas.js';
import { FINALIZER, LABEL_CLAIM_ALLOCATION_UID, LABEL_CLAIM_POOL, LABEL_SERVICE_NAME, LABEL_SERVICE_NAMESPACE, LABEL_SERVICE_UID } from '../../lib/k8s/keys.js';
import { applyPlanToState, ownerOf } from '../../lib/router/index.js';
import { checkInvariants, type World } from './invariants.js';
import { claims, uniqueAddresses } from './claim-invariants.js';
import { CHAOS_ROUTER, foreignEntries, OTHER_CLUSTER } from './router-seed.js';
import { NAMESPACE, OUR_CLASS, POOLS, TIER_LABEL } from './shapes.js';

// The chaos suite passes when this checker finds nothing, so first prove it finds each kind of damage.
const CLASSES = { loadBalancerClass: OUR_CLASS, defaultClass: false };
const T = '2026-01-01T00:00:00Z';
const ready = (reason: string) => ({ type: 'Ready', status: 'True' as const, reason, message: 'ok', lastTransitionTime: T });

const GRACE_MS = 60_000;
/** The settle phase's last release resync: claims nobody holds created before CUTOFF are collected. */
const RELEASE_RESYNC = Date.parse(T) + 10 * 60_000;
const CUTOFF = new Date(RELEASE_RESYNC - GRACE_MS).toISOString();
const before = (iso: string, ms: number): string => new Date(Date.parse(iso) - ms).toISOString();

function claim(address: string, allocationName: string, allocationUID: string, opts: { pool?: string; created?: string; serviceUID?: string } = {}): IPAddressClaim {
  const name = claimNameOf(address) ?? address;
  const pool = opts.pool ?? 'p';
  const labels = { [LABEL_CLAIM_POOL]: pool, [LABEL_CLAIM_ALLOCATION_UID]: allocationUID, ...(opts.serviceUID ? { [LABEL_SERVICE_UID]: opts.serviceUID } : {}) };
  return { metadata: { name, uid: `claim-${name}`, creationTimestamp: opts.created ?? T, labels }, spec: { address, poolName: pool, allocationName, allocationUID } };
}

const POOL_P: IPPool = { metadata: { name: 'p', uid: 'pool-uid', creationTimestamp: T }, spec: { ipFamily: 'IPv4', addresses: ['198.18.40.100-198.18.40.139'], autoAssign: true, avoidBuggyIPs: true, advertise: true } };
const POOL_TINY: IPPool = { metadata: { name: 'tiny', uid: 'tiny-uid', creationTimestamp: T }, spec: { ipFamily: 'IPv4', addresses: ['198.18.41.1'], autoAssign: false, avoidBuggyIPs: false, advertise: true } };

/** Pools with the status allocate's resync writes: converted, counts from their claims. */
function refreshed(pools: readonly IPPool[], claims: readonly IPAddressClaim[]): IPPool[] {
  return viewPools(pools).map((v) => {
    const mine = claims.filter((c) => c.metadata.labels?.[LABEL_CLAIM_POOL] === v.name).map((c) => c.spec);
    return { ...v.pool, status: { ...formatCounts(poolCounts(v, mine)), claimsAdopted: true } };
  });
}

/** The world with other claims (and other allocations), its pools refreshed from them. */
function withClaims(w: World, claims: IPAddressClaim[], allocations: IPAllocation[] = w.allocations, pools: readonly IPPool[] = w.pools): World {
  return { ...w, allocations, claims, pools: refreshed(pools, claims) };
}

const reservation = (name: string, uid: string, spec: IPAllocation['spec'], status: IPAllocation['status']): IPAllocation => ({ metadata: { name, uid, creationTimestamp: T }, spec, ...(status ? { status } : {}) });
const failed = (reason: string) => ({ phase: 'Failed' as const, conditions: [{ ...ready(reason), status: 'False' as const }] });
const allocatedAt = (address: string) => ({ phase: 'Allocated' as const, address, conditions: [ready('AllocatedButNotAdvertised')] });

function goodWorld(): World {
  const svc: Service = {
    metadata: { name: 'web', namespace: NAMESPACE, uid: 'svc-1', finalizers: [FINALIZER] },
    spec: { type: 'LoadBalancer', loadBalancerClass: OUR_CLASS, ipFamilies: ['IPv4'], ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }] },
    status: {
      loadBalancer: { ingress: [{ ip: '198.18.40.100', ipMode: 'Proxy' }] },
      conditions: [{ type: 'mikrolb.de/LoadBalancerReady', status: 'True', reason: 'Ready', message: 'ok', lastTransitionTime: T }],
    },
  };
  const name = allocationName('svc-1', { ipFamily: 'IPv4' });
  const alloc: IPAllocation = {
    metadata: { name, uid: 'alloc-1', labels: { [LABEL_SERVICE_UID]: 'svc-1', [LABEL_SERVICE_NAME]: 'web', [LABEL_SERVICE_NAMESPACE]: NAMESPACE } },
    spec: { ipFamily: 'IPv4' },
    status: { phase: 'Programmed', address: '198.18.40.100', conditions: [ready('AllocatedAndProgrammed')] },
  };
  const slice: EndpointSlice = {
    metadata: { name: 'web-a', namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.244.0.10'], conditions: { ready: true } }], ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
  };
  const claims = [claim('198.18.40.100', name, 'alloc-1', { serviceUID: 'svc-1' })];
  const pools = refreshed([POOL_P], claims);
  const intent = serviceIntent(svc, CLASSES);
  const { ops } = planOwner({ uid: 'svc-1', service: serviceProgram(svc, intent, [alloc], [slice], new Set()), adverts: advertisementWants([alloc], pools) }, CHAOS_ROUTER.menus);
  const router = applyPlanToState(CHAOS_ROUTER, ops).menus;
  const foreign = foreignEntries(CHAOS_ROUTER);
  return {
    services: [svc], slices: [slice], allocations: [alloc], pools, claims, router, foreignBefore: foreign, foreignNow: foreign, namespaceLabels: { [TIER_LABEL]: 'gold' },
    resynced: { allocate: RELEASE_RESYNC, release: RELEASE_RESYNC }, claimGraceMs: GRACE_MS,
  };
}

/**
 * The converged world's Service on the router's spare address (198.18.40.105, in CHAOS_ROUTER),
 * refused by program (AddressInUseByRouter): asked for by name (`explicit`) or auto-assigned.
 */
function onRouterAddress(explicit: boolean, poolAddresses = POOL_P.spec.addresses): World {
  const w = goodWorld();
  const address = '198.18.40.105';
  const refused = { status: 'False' as const, reason: 'AddressInUseByRouter', message: 'the router holds it', lastTransitionTime: T };
  const allocations = w.allocations.map((a) => ({
    ...a, spec: explicit ? { address } : a.spec,
    status: { phase: 'Allocated' as const, address, conditions: [{ ...refused, type: 'Programmed' }, { ...refused, type: 'Ready' }] },
  }));
  const claimsNow = [claim(address, allocations[0]?.metadata.name ?? '', 'alloc-1', { serviceUID: 'svc-1' })];
  const services = w.services.map((s) => ({ ...s, status: { loadBalancer: { ingress: [] }, conditions: [{ type: 'mikrolb.de/LoadBalancerReady', status: 'False' as const, reason: 'AddressInUseByRouter', message: 'x', lastTransitionTime: T }] } }));
  const pools = [{ ...POOL_P, spec: { ...POOL_P.spec, addresses: poolAddresses } }];
  return { ...withClaims({ ...w, services }, claimsNow, allocations, pools), router: CHAOS_ROUTER.menus };
}

/** A pool being deleted, waiting on our finalizer; `blocked`: its DeletionBlocked condition's status. */
const deleting = (p: IPPool, blocked: 'True' | 'False' | undefined): IPPool => ({
  ...p,
  metadata: { ...p.metadata, deletionTimestamp: T, finalizers: [FINALIZER] },
  status: { ...p.status, ...(blocked ? { conditions: [{ type: POOL_COND_DELETION, status: blocked, reason: 'AddressesInUse', message: '1 IPAllocation(s) still hold addresses from this pool', lastTransitionTime: T }] } : {}) },
});

const found = (w: World): string[] => [...new Set(checkInvariants(w, CLASSES).map((v) => v.invariant))].sort();

describe('the chaos invariants checker', () => {
  it('finds nothing wrong with a converged world', () => {
    expect(checkInvariants(goodWorld(), CLASSES)).toEqual([]);
  });

  it('an allocation that still lists a former address (program never cleared it)', () => {
    const w = goodWorld();
    const moved = w.allocations.map((a, i) => (i === 0 && a.status ? { ...a, status: { ...a.status, formerAddresses: ['198.18.40.9'] } } : a));
    expect(checkInvariants({ ...w, allocations: moved }, CLASSES)).toEqual([expect.objectContaining({ invariant: 'allocation-former', detail: expect.stringContaining('still lists former address(es) 198.18.40.9') })]);
  });

  it("an address of a scoped pool held by a Service its namespace's labels no longer match", () => {
    const spec = POOLS.find((p) => p.name === 'chaos-tenant')?.spec;
    if (!spec) throw new Error('no chaos-tenant pool');
    const tenant = IPPoolSchema.parse({ metadata: { name: 'chaos-tenant', uid: 'tenant-uid', creationTimestamp: T }, spec });
    const w = goodWorld();
    const onTenant = withClaims(w, [claim('198.18.40.100', w.allocations[0]?.metadata.name ?? '', 'alloc-1', { serviceUID: 'svc-1', pool: 'chaos-tenant' })], w.allocations, [POOL_P, tenant]);
    const scoped = (labels: Record<string, string>) => checkInvariants({ ...onTenant, namespaceLabels: labels }, CLASSES).filter((v) => v.invariant === 'pool-scope');
    expect(scoped({ [TIER_LABEL]: 'gold' })).toEqual([]);
    expect(scoped({ [TIER_LABEL]: 'silver' })).toEqual([expect.objectContaining({ detail: expect.stringContaining('of pool chaos-tenant, which does not serve it') })]);

    // a Service naming the scoped pool fails PoolScopeMismatch while its namespace is silver: not starved
    const named = { ...w, pools: refreshed([POOL_P, tenant], []), claims: [], allocations: w.allocations.map((a) => ({ ...a, spec: { poolName: 'chaos-tenant' }, status: failed('PoolScopeMismatch') })) };
    const starved = (labels: Record<string, string>) => checkInvariants({ ...named, namespaceLabels: labels }, CLASSES).filter((v) => v.invariant === 'allocation-starved');
    expect(starved({ [TIER_LABEL]: 'silver' })).toEqual([]);
    expect(starved({ [TIER_LABEL]: 'gold' })).toEqual([expect.objectContaining({ detail: expect.stringContaining('is Failed (PoolScopeMismatch) although 198.18.40.') })]);
  });

  it("an allocation on the router's own address: right when asked for by name or nothing else is free, stuck when it could move", () => {
    expect(found(onRouterAddress(true))).toEqual([]);
    expect(found(onRouterAddress(false, ['198.18.40.105']))).toEqual([]);
    expect(checkInvariants(onRouterAddress(false), CLASSES)).toEqual([expect.objectContaining({ invariant: 'service-status', detail: expect.stringContaining('(198.18.40.105) is not ready') })]);
  });

  it('starts from a router a second cluster shares: its Service and global rules, none of them ours, none a leak', () => {
    const lab = Object.values(CHAOS_ROUTER.menus).flat().filter((e) => ownerOf(e.comment)?.cluster === OTHER_CLUSTER);
    expect(lab.filter((e) => ownerOf(e.comment)?.kind === 'service').length).toBeGreaterThanOrEqual(5);
    expect(lab.filter((e) => ownerOf(e.comment)?.kind === 'global').length).toBeGreaterThanOrEqual(5);
    expect(lab.some((e) => e.address === '198.18.42.77/32')).toBe(true);
    for (const e of lab) expect(foreignEntries(CHAOS_ROUTER)).toContain(e.comment ?? '');
  });

  it.each<[string, (w: World) => World, string[]]>([
    ['an address held by two allocations', (w) => ({ ...w, allocations: [...w.allocations, ...w.allocations.map((a) => ({ ...a, metadata: { ...a.metadata, name: 'ip-twin', uid: 'alloc-2', labels: {} } }))] }), ['claim', 'unique-address']],
    ['an ingress that is not the ready allocation', (w) => ({ ...w, services: w.services.map((s) => ({ ...s, status: { ...s.status, loadBalancer: { ingress: [] } } })) }), ['service-status']],
    ['a router entry of a Service that is gone', (w) => ({ ...w, router: { ...w.router, '/ip/firewall/nat': [...(w.router['/ip/firewall/nat'] ?? []), { '.id': '*FFF0', chain: 'mikrolb-lb', action: 'return', comment: 'mikrolb:svc=gone-uid:lb' }] } }), ['router-leak']],
    ['a missing router entry', (w) => ({ ...w, router: { ...w.router, '/ip/address': (w.router['/ip/address'] ?? []).filter((e) => ownerOf(e.comment)?.kind !== 'service') } }), ['router-plan']],
    ['a changed foreign entry', (w) => ({ ...w, foreignNow: w.foreignNow.replace('defconf: masquerade', 'defconf: masquerade!') }), ['foreign-entries']],
    ['an entry of the other cluster removed', (w) => ({ ...w, foreignNow: foreignEntries({ version: '7.19.1', menus: { ...w.router, '/ip/firewall/nat': (w.router['/ip/firewall/nat'] ?? []).filter((e) => !(e.comment ?? '').startsWith(`mikrolb:${OTHER_CLUSTER}:svc=`)) } }) }), ['foreign-entries']],
    ['an allocation left Failed although its pool has room', (w) => ({ ...w, allocations: [...w.allocations, reservation('ip-res', 'res-1', { poolName: 'p' }, failed('PoolExhausted'))] }), ['allocation-starved']],
    ['an object stuck in deletion', (w) => ({ ...w, allocations: w.allocations.map((a) => ({ ...a, metadata: { ...a.metadata, deletionTimestamp: T, finalizers: [FINALIZER] } })) }), ['stuck-deletion']],
    ['a deleted pool nobody holds an address of, still waiting', (w) => ({ ...w, pools: [...w.pools, deleting(POOL_TINY, 'True')] }), ['stuck-deletion']],
    ['a deleted pool whose addresses are held, not saying why it waits', (w) => ({ ...w, pools: w.pools.map((p) => deleting(p, undefined)) }), ['stuck-deletion']],
  ])('finds %s', (_what, damage, invariants) => {
    expect(found(damage(goodWorld()))).toEqual(expect.arrayContaining(invariants));
  });

  it("a shared address's entries while its claim is shared, even held by nobody (the GC's to collect, with the claim); a leak once the claim is gone", () => {
    const w = goodWorld();
    const entries = { '/ip/address': [...(w.router['/ip/address'] ?? []), { '.id': '*FFF1', address: '198.18.40.77/32', interface: 'ether1', comment: 'mikrolb:default:svc=ip-198.18.40.77:adv:198.18.40.77' }] };
    const ghost = { ...claim('198.18.40.77', 'ip-ghost', 'ghost-uid', { created: T }), spec: { ...claim('198.18.40.77', 'ip-ghost', 'ghost-uid').spec, sharingKey: 'k', holders: [{ allocationName: 'ip-ghost', allocationUID: 'ghost-uid', ports: [{ protocol: 'TCP' as const, port: 80 }] }] } };
    const leaks = (world: World) => checkInvariants(world, CLASSES).filter((v) => v.invariant === 'router-leak');
    expect(leaks({ ...w, claims: [...w.claims, ghost], router: { ...w.router, ...entries } })).toEqual([]);
    expect(leaks({ ...w, router: { ...w.router, ...entries } })).toEqual([expect.objectContaining({ detail: expect.stringContaining('belongs to ip-198.18.40.77, which is gone') })]);
  });

  it('finds nothing wrong with a deleted pool that waits for the allocations holding its addresses, and says so', () => {
    const w = goodWorld();
    // as allocate's resync counts it: a pool being deleted has no address free
    const counted = (p: IPPool): IPPool => ({ ...p, status: { ...p.status, freeAddresses: '0' } });
    expect(checkInvariants({ ...w, pools: w.pools.map((p) => counted(deleting(p, 'True'))) }, CLASSES)).toEqual([]);
    expect(found({ ...w, pools: w.pools.map((p) => deleting(p, 'True')) })).toEqual(['pool-counts']);
  });
});

describe('the claim invariants', () => {
  const gone = (address: string, created: string, pool = 'p'): IPAddressClaim => claim(address, 'ip-gone', 'gone', { created, pool });

  /** The pool with the converged world's address (198.18.40.100) excluded, as an operator shrinks it. */
  const shrunk = (p: IPPool): IPPool => ({ ...p, spec: { ...p.spec, addresses: [...p.spec.addresses, '!198.18.40.100'] } });
  /** The world with its pools reporting addresses held outside them, as allocate's resync writes it. */
  const reporting = (w: World): World => ({ ...w, pools: w.pools.map((p) => ({ ...p, status: { ...p.status, conditions: [{ type: POOL_COND_OUTSIDE, status: 'True', reason: 'AddressesOutsidePool', message: '1 allocation(s) keep addresses the pool no longer contains', lastTransitionTime: T }] } })) });

  it.each<[string, (w: World) => World, string[]]>([
    ['an allocation holding an address without its claim', (w) => withClaims(w, []), ['claim']],
    ['a claim of a deleted allocation older than the grace period at the last release resync', (w) => withClaims(w, [...w.claims, gone('198.18.40.101', before(CUTOFF, 1000))]), ['claim']],
    ['a stray claim of a live allocation settled on another address, as old', (w) => withClaims(w, [...w.claims, claim('198.18.40.102', w.allocations[0]?.metadata.name ?? '', 'alloc-1', { serviceUID: 'svc-1', created: before(CUTOFF, 1000) })]), ['claim']],
    ['a claim of a live allocation that holds no address (never collected), however young', (w) => withClaims(w, [...w.claims, claim('198.18.40.103', 'ip-res', 'res-1', { created: CUTOFF })], [...w.allocations, reservation('ip-res', 'res-1', { address: '198.18.40.100' }, failed('AddressAlreadyUsed'))]), ['claim']],
    ['a claim not named by its address', (w) => withClaims(w, w.claims.map((c) => ({ ...c, metadata: { ...c.metadata, name: '198.18.40.105' } }))), ['claim']],
    ['a claim naming a pool that does not keep its address', (w) => withClaims(w, w.claims.map((c) => ({ ...c, spec: { ...c.spec, poolName: 'tiny' }, metadata: { ...c.metadata, labels: { ...c.metadata.labels, [LABEL_CLAIM_POOL]: 'tiny' } } })), w.allocations, [POOL_P, POOL_TINY]), ['claim']],
    ['a claim whose pool label is not its pool (it counts in no pool)', (w) => ({ ...w, claims: w.claims.map((c) => ({ ...c, metadata: { ...c.metadata, labels: { ...c.metadata.labels, [LABEL_CLAIM_POOL]: 'q' } } })) }), ['claim', 'pool-counts']],
    ['pool counts that do not match the claims', (w) => ({ ...w, pools: w.pools.map((p) => ({ ...p, status: { ...p.status, freeAddresses: '40' } })) }), ['pool-counts']],
    ['a pool not converted to claims', (w) => ({ ...w, pools: w.pools.map((p) => ({ ...p, status: { ...p.status, claimsAdopted: false } })) }), ['pool-counts']],
    ['a pool that still carries its ledger', (w) => ({ ...w, pools: w.pools.map((p) => ({ ...p, status: { ...p.status, allocations: [] } })) }), ['pool-counts']],
    ['a Failed allocation holding a claim that fits it', (w) => withClaims(w, [...w.claims, claim('198.18.40.106', 'ip-res', 'res-1')], [...w.allocations, reservation('ip-res', 'res-1', { poolName: 'p' }, failed('PoolExhausted'))]), ['allocation-starved', 'claim']],
    ['a claim of an allocation being deleted (release frees it): only the deletion waits', (w) => withClaims(w, [...w.claims, claim('198.18.40.107', 'ip-res', 'res-1', { created: before(CUTOFF, 60_000) })], [...w.allocations, { ...reservation('ip-res', 'res-1', { address: '198.18.40.107' }, allocatedAt('198.18.40.107')), metadata: { name: 'ip-res', uid: 'res-1', deletionTimestamp: T, finalizers: [] } }]), ['stuck-deletion']],
    ['a claim on an address its pool no longer contains, the pool not reporting it', (w) => withClaims(w, w.claims, w.allocations, [shrunk(POOL_P)]), ['claim']],
    ['a claim naming a pool that does not exist', (w) => withClaims(w, w.claims.map((c) => ({ ...c, spec: { ...c.spec, poolName: 'gone' }, metadata: { ...c.metadata, labels: { ...c.metadata.labels, [LABEL_CLAIM_POOL]: 'gone' } } })), w.allocations, []), ['claim']],
    ['a Failed allocation whose pool was freed', (w) => withClaims(w, w.claims, [...w.allocations, reservation('ip-res', 'res-1', { poolName: 'tiny' }, failed('PoolExhausted'))], [POOL_P, POOL_TINY]), ['allocation-starved']],
  ])('finds %s', (_what, damage, invariants) => {
    expect(found(damage(goodWorld()))).toEqual(invariants);
  });

  it.each<[string, (w: World) => World]>([
    ['a claim of a deleted allocation created at the cutoff of the last release resync (the GC keeps it)', (w) => withClaims(w, [...w.claims, gone('198.18.40.101', CUTOFF)])],
    ['a claim of a deleted allocation naming a pool deleted since (the GC collects it; the pool waited for no holder)', (w) => withClaims(w, [...w.claims, gone('198.18.41.1', CUTOFF, 'deleted-pool')])],
    ['a claim of a deleted allocation, however old, before any release resync', (w) => ({ ...withClaims(w, [...w.claims, gone('198.18.40.101', before(T, 3_600_000))]), resynced: { allocate: RELEASE_RESYNC } })],
    ['pool counts behind the claims before any allocate resync', (w) => ({ ...w, pools: w.pools.map((p) => ({ ...p, status: { ...p.status, freeAddresses: '40' } })), resynced: { release: RELEASE_RESYNC } })],
    ['a claim on an address its pool no longer contains (the allocation keeps it), the pool reporting it', (w) => reporting(withClaims(w, w.claims, w.allocations, [shrunk(POOL_P)]))],
    ['the same before any allocate resync (which refreshes the pool\'s conditions)', (w) => ({ ...withClaims(w, w.claims, w.allocations, [shrunk(POOL_P)]), resynced: { release: RELEASE_RESYNC } })],
    ['a Failed allocation asking for an address another allocation holds', (w) => ({ ...w, allocations: [...w.allocations, reservation('ip-res', 'res-1', { address: '198.18.40.100' }, failed('AddressAlreadyUsed'))] })],
    ['a Failed allocation whose pool is full, its last address claimed by nobody but within the grace period', (w) => withClaims(w, [...w.claims, gone('198.18.41.1', CUTOFF, 'tiny')], [...w.allocations, reservation('ip-res', 'res-1', { poolName: 'tiny' }, failed('PoolExhausted'))], [POOL_P, POOL_TINY])],
  ])('finds nothing wrong with %s', (_what, change) => {
    expect(checkInvariants(change(goodWorld()), CLASSES)).toEqual([]);
  });
});

describe('the claim invariants of shared addresses', () => {
  const ADDRESS = '198.18.40.100';
  /** The converged world with a reservation also holding the Service's address, its claim shared or not. */
  function sharing(holders: 'both' | 'first' | 'with-gone', joinedAt = T): World {
    const w = goodWorld();
    const c = w.claims.find((x) => x.spec.address === ADDRESS);
    if (!c) throw new Error('no claim of the Service address');
    const first = { allocationName: c.spec.allocationName, allocationUID: c.spec.allocationUID, ports: [{ protocol: 'TCP' as const, port: 80 }], joinedAt: T };
    const res = { allocationName: 'ip-res', allocationUID: 'res-1', ports: [{ protocol: 'TCP' as const, port: 443 }], joinedAt };
    const gone = { allocationName: 'ip-gone', allocationUID: 'gone-1', ports: [{ protocol: 'TCP' as const, port: 25 }], joinedAt };
    const list = holders === 'both' ? [first, res] : holders === 'first' ? [first] : [first, res, gone];
    const shared: IPAddressClaim = { ...c, spec: { ...c.spec, sharingKey: 'web', holders: list } };
    return withClaims(w, w.claims.map((x) => (x === c ? shared : x)), [...w.allocations, reservation('ip-res', 'res-1', { address: ADDRESS }, allocatedAt(ADDRESS))]);
  }
  const found = (w: World): string[] => [...new Set([...uniqueAddresses(w), ...claims(w)].map((v) => v.invariant))].sort();

  it.each<[string, World, string[]]>([
    ['two allocations on one address its shared claim lists: nothing wrong', sharing('both'), []],
    ['two allocations on one address whose claim lists one of them', sharing('first'), ['claim', 'unique-address']],
    ['a holder whose allocation is gone, joined before the last release resync cutoff', sharing('with-gone', before(CUTOFF, 1)), ['claim']],
    ['a holder whose allocation is gone, joined at the cutoff (the GC keeps it)', sharing('with-gone', CUTOFF), []],
  ])('%s', (_what, w, invariants) => {
    expect(found({ ...w, resynced: { release: RELEASE_RESYNC } })).toEqual(invariants);
  });
});

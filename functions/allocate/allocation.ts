import { allocatedNote, allocatedStatus, refusedByRouter, statusChanged } from '../../lib/core/allocation-status.js';
import { alreadyUsed, assignAddress, preferredAddress, type Decision, type Holding } from '../../lib/core/assign.js';
import { poolKeeping, viewPools, type PoolView } from '../../lib/core/pools.js';
import { formatAddress, parseAddress, type IPFamily } from '../../lib/ip/index.js';
import { addressesAskedFor, optionalFamily, serviceIntent } from '../../lib/core/service.js';
import { claimAddress, claimHeldBy, claimNameOf, dropGoneHolders, leaveClaim, readClaim, refreshSharing } from '../../lib/k8s/claims.js';
import { sharingOf, type Sharing } from '../../lib/core/sharing.js';
import { RetryLaterError, retryOnConflict } from '../../lib/k8s/conflict.js';
import { LABEL_CLAIM_ROUTER_HELD, LABEL_SERVICE_UID, serviceOfLabels } from '../../lib/k8s/keys.js';
import { IPAllocationSchema, type IPAddressClaim, type IPAllocation, type IPPool } from '../../lib/k8s/schemas.js';
import { hasFinalizer, withFinalizer } from '../../lib/k8s/finalizer.js';
import { getAllocation, getClaim, getPool, getService } from '../../lib/k8s/typed.js';
import { readPools } from '../../lib/k8s/mirror.js';
import { adoptClaims, needsWithheld, type Withheld } from './adopt.js';
import { requesterOf } from './scope.js';
import type { Requester } from '../../lib/core/pool-scope.js';
import { messageOf } from '../../lib/errors.js';
import { isConflict, isNotFound } from '../../lib/k8s/errors.js';
import { failedPool } from '../../lib/pool-metrics.js';
import type { AllocateRun, Report } from './deps.js';
import { sayClaimUnreadable, type Unreadable } from './unreadable.js';

/** The Service an allocation belongs to: absent (operator reservation), present (and ours), or gone (or no longer ours). */
export type OwnerState = { state: 'none' } | { state: 'gone' } | {
  state: 'present'; key: string; ipFamilies: IPFamily[]; namespace: string; labels: Record<string, string>; sharing?: Sharing;
  /** addressesAskedFor: what its pool and family searches skip */ askedFor: string[];
  /** optionalFamily: the family it can go without (its failure is not counted as one) */ optionalFamily?: IPFamily;
};

async function owningService(deps: AllocateRun, a: IPAllocation): Promise<OwnerState> {
  const named = serviceOfLabels(a.metadata.labels);
  if (!named) return { state: 'none' };
  const svc = await getService(deps.kube, named.namespace, named.name);
  const uid = a.metadata.labels?.[LABEL_SERVICE_UID];
  if (!svc || (uid && svc.metadata.uid !== uid) || svc.metadata.deletionTimestamp) return { state: 'gone' };
  // no longer ours (release takes its allocations): nothing is claimed for it, as for one gone
  const intent = serviceIntent(svc, deps.classes);
  if (!intent.managed) return { state: 'gone' };
  const sharing = sharingOf(svc);
  const askedFor = addressesAskedFor(intent);
  const optional = optionalFamily(svc);
  return { state: 'present', key: `${named.namespace}/${named.name}`, ipFamilies: svc.spec.ipFamilies ?? [], namespace: named.namespace, labels: svc.metadata.labels ?? {}, ...(sharing ? { sharing } : {}), askedFor, ...(optional ? { optionalFamily: optional } : {}) };
}

/**
 * Nothing to do: the status already records an address for the current spec and the Service
 * still has that family. Events about such an allocation (its add after allocate created and
 * allocated it, program's status writes) end here after one read; a resync checks its claim.
 */
function settled(a: IPAllocation, owner: OwnerState | undefined, yieldAskedFor: boolean): boolean {
  const s = a.status;
  if (!s?.address || (s.phase !== 'Allocated' && s.phase !== 'Programmed') || s.observedGeneration !== a.metadata.generation) return false;
  // the router holds its address: it moves to another one if it can
  if (refusedByRouter(a)) return false;
  // a Service that shares: its ports or key may have changed, which its claim must record
  if (owner?.state === 'present' && owner.sharing) return false;
  if (owner?.state !== 'present') return true;
  const p = parseAddress(s.address);
  // its Service now asks for this address by name, for another allocation: it moves
  if (yieldAskedFor && !a.spec.address && p.ok && owner.askedFor.includes(formatAddress(p.family, p.value))) return false;
  return owner.ipFamilies.length === 0 || (p.ok && owner.ipFamilies.includes(p.family));
}

/** Whether the allocation is a family allocation of the family its Service can go without (see optionalFamily). */
const optionalFor = (owner: OwnerState, a: IPAllocation): boolean =>
  owner.state === 'present' && a.spec.ipFamily !== undefined && a.spec.ipFamily === owner.optionalFamily;

/** How many taken candidates one allocation may run into before it answers "retry later". */
const MAX_CLAIM_ATTEMPTS = 16;

interface Held {
  holding: Holding;
  /** Its claim exists (else: an address the status records without a claim, from before claims). */
  claim: IPAddressClaim | undefined;
}

/**
 * The address the allocation holds: the claim of its status address (or the one the hint saw
 * for it, after a crash between claim and status), verified by a read; or an address its
 * status records that has no claim yet, to be claimed now (upgrades keep every address).
 */
async function findHeld(deps: AllocateRun, a: IPAllocation, views: readonly PoolView[], owner: OwnerState): Promise<Held | undefined> {
  const uid = a.metadata.uid ?? '';
  const address = a.status?.address ?? deps.hint.heldBy(uid)?.address;
  if (!address || claimNameOf(address) === undefined) return undefined;
  const claim = await claimHeldBy(deps.kube, address, uid);
  if (claim && owner.state === 'present' && !(await refreshSharing(deps.kube, claim, uid, owner.sharing, a.metadata.labels?.[LABEL_SERVICE_UID]))) {
    // its key or ports changed so that others on the address refuse it: it gives the address up
    // and is decided again as any newcomer (an explicit address then fails AddressAlreadyUsed)
    deps.log.warn('A shared address no longer fits its Service (key or ports changed); it leaves the address', { allocation: a.metadata.name, address, key: owner.sharing?.key });
    await leaveClaim(deps.kube, claim, uid);
    return undefined;
  }
  // this allocation's own holding: a shared claim's spec names its first holder, who may be
  // another allocation (freeing "the held claim" after a move then took that one off instead)
  if (claim) return { holding: { address: claim.spec.address, poolName: claim.spec.poolName, allocationName: a.metadata.name, allocationUID: uid }, claim };
  if (!a.status?.address) return undefined;
  const pool = poolKeeping(views, a.status.address);
  return pool ? { holding: { address: a.status.address, poolName: pool.name, allocationName: a.metadata.name, allocationUID: uid }, claim: undefined } : undefined;
}

interface Claimed {
  decision: Decision;
  /**
   * A claim this run created: freed if the decision is not recorded. A claim found already
   * made for the allocation (by a crashed run, or by a concurrent one that may record it) is
   * never freed here: it is the allocation's held claim next time, or the GC's.
   */
  claimed?: Holding;
  /** The claim held before, which the decision gives back (freed once the status no longer names it). */
  replaced?: Holding;
}

/**
 * Decides and claims: the pure choice from the hint, then the claim's create; a taken
 * candidate is remembered and the choice made again. An explicit address someone else holds
 * is `AddressAlreadyUsed`; a pool looks exhausted only after a fresh list of the claims.
 */
async function decideAndClaim(deps: AllocateRun, a: IPAllocation, read: PoolView[], withheld: Withheld, owner: OwnerState, held: Held | undefined, requester: Requester | undefined, routerHeld: string | undefined, yieldAskedFor: boolean, report: Report): Promise<Claimed> {
  let views = read;
  const service = owner.state === 'present' ? { key: owner.key, ipFamilies: owner.ipFamilies } : undefined;
  const sharing = owner.state === 'present' ? owner.sharing : undefined;
  const asked = owner.state === 'present' && owner.askedFor.length > 0 ? { askedFor: owner.askedFor, yieldAskedFor } : undefined;
  const serviceUID = a.metadata.labels?.[LABEL_SERVICE_UID];
  const uid = a.metadata.uid ?? '';
  const replaced = (address?: string): Holding | undefined => (held?.claim && held.holding.address !== address ? held.holding : undefined);
  const result = (decision: Decision, claimed?: Holding): Claimed => {
    const r = replaced(decision.ok ? decision.address : undefined);
    return { decision, ...(claimed ? { claimed } : {}), ...(r ? { replaced: r } : {}) };
  };
  let listed = false;
  let taken = 0;
  let startChecked = false;
  const joinChecked = new Set<string>();
  let orphanChecked = false;
  let current = held;
  for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
    const d = assignAddress({
      allocation: a, pools: views.filter((v) => !withheld.has(v.name)), taken: deps.hint.takenOf, shared: deps.hint.sharedIn, ...(current ? { held: current.holding } : {}), ...(service ? { service } : {}),
      ...(requester ? { requester } : {}), ...(sharing ? { sharing } : {}), ...(routerHeld ? { routerHeld } : {}), ...asked,
    });
    if (!d.ok) {
      if (d.reason === 'PoolExhausted' && !listed) {
        listed = await deps.hint.load(deps.kube, deps.now().getTime(), true);
        continue;
      }
      return result(d);
    }
    if (d.held && current?.claim) return result(d);
    if (!d.held && !a.spec.address && !startChecked) {
      // the address it prefers (a Service created again wants its old one) may have been
      // freed since the hint saw it: one read tells
      startChecked = true;
      const view = views.find((v) => v.name === d.pool);
      const start = view ? preferredAddress({ allocation: a, ...(service ? { service } : {}), ...(sharing ? { sharing } : {}), ...(routerHeld ? { routerHeld } : {}), ...asked }, view) : undefined;
      if (start && start !== d.address && deps.hint.isTaken(start)) {
        const name = claimNameOf(start) ?? '';
        const read = await readClaim(deps.kube, name);
        // someone else's claim: taken, as the hint says (the resync reports it)
        if ('unreadable' in read) continue;
        let { claim } = read;
        if (claim && (await droppedGone(deps, claim, a.metadata.name, report)) !== undefined) claim = await getClaim(deps.kube, name);
        if (!claim) {
          deps.hint.forget(start);
          continue;
        }
        // held, but perhaps by a Service of the same key that made it afresh since the hint
        // saw its former holders: with its holders as they are, it may be the one to join
        deps.hint.noteTaken(claim.spec);
        if (sharing) continue;
      }
    }
    if (!d.held && sharing && !joinChecked.has(d.address) && deps.hint.isShared(d.pool, sharing.key, d.address)) {
      // an address to join, as the hint remembers it: when its claim is gone (its Services
      // released, and created again), creating it afresh would keep this Service from the
      // address its key's other new Services take, so the choice is made again without it
      joinChecked.add(d.address);
      if (!(await getClaim(deps.kube, claimNameOf(d.address) ?? ''))) {
        deps.hint.forget(d.address);
        continue;
      }
    }
    const holding: Holding = { address: d.address, poolName: d.pool, allocationName: a.metadata.name, allocationUID: uid };
    const r = await claimAddress(deps.kube, holding, serviceUID, sharing, deps.now());
    if (r.claimed) {
      deps.hint.noteTaken(r.claim && sharing ? { ...r.claim.spec, holders: [...(r.claim.spec.holders ?? []), { allocationName: a.metadata.name, allocationUID: uid, ports: sharing.ports }] } : holding);
      // the address its status names (its claim deleted by hand) is no new hand-out: kept also
      // in a pool being deleted, which release holds for as long as that status names it
      const changed = r.created ? await poolChangedSince(deps, views, d.pool, d.held) : undefined;
      if (changed) {
        // decided from a pool deleted (or replaced) since it was read: the claim goes again, and
        // the decision is made anew from the pool as it is now (a held address too: a pool that
        // is gone, or going without our finalizer, keeps nothing)
        await freeClaims(deps, [holding], report);
        views = changed;
        if (d.held) current = undefined;
        continue;
      }
      return result({ ...d, held: true }, r.created ? holding : undefined);
    }
    if ('unreadable' in r) {
      // someone else's claim, which we can neither join nor verify: taken, and left as it is
      deps.hint.noteUnreadable(r.unreadable.name, r.unreadable.problem);
      await sayClaimUnreadable(deps, views.find((v) => v.name === d.pool)?.pool, r.unreadable, a.metadata.name);
      if (d.held) current = undefined;
      else if (a.spec.address) return result(heldUnreadable(d.address, d.pool, r.unreadable));
      continue;
    }
    deps.hint.noteTaken(r.holder.spec);
    // a few candidates found taken: the hint is stale (other instances claimed meanwhile)
    if (++taken === 4 && !listed) listed = await deps.hint.refresh(deps.kube, deps.now().getTime(), deps.log, true);
    if (d.held) {
      current = undefined; // the unclaimed address of an upgrade went to someone else first
      continue;
    }
    if (a.spec.address) {
      // held (or its ports used) by allocations that are gone: they are dropped, and the claim tried again
      if (!orphanChecked && (await droppedGone(deps, r.holder, a.metadata.name, report)) !== undefined) {
        orphanChecked = true;
        continue;
      }
      return result(alreadyUsed(d.address, d.pool, r.holder.spec.allocationName, r.refusal));
    }
  }
  throw new RetryLaterError(`allocating ${a.metadata.name}: ${MAX_CLAIM_ATTEMPTS} candidate addresses were taken meanwhile`);
}

/** An address asked for by name whose claim is someone else's that we cannot read. */
const heldUnreadable = (address: string, pool: string, u: Unreadable): Decision => ({
  ok: false, reason: 'AddressAlreadyUsed', message: `Address ${address} in pool ${pool} is held by IPAddressClaim ${u.name}, which is not one MikroLB can read (${u.problem}).`,
});

/**
 * A claim met in the way with holders whose allocation is gone (deleted without its release:
 * its finalizer taken off by hand, say) holds its address, or the ports they used on a shared
 * one, for nobody: they are dropped now (the claim deleted with the last), rather than by
 * release's garbage collection at the next resync, so that the allocation asking for the
 * address — the one made again for the same Service, starting its search there, or one asking
 * for the address by name — gets it (a freed claim also wakes the pool's other waiters).
 * What was done: the claim freed, gone holders left (live ones stay), or nothing.
 * An operator reservation's claim (not shared, no Service's uid on it) is left to release: the reservation's
 * router entries (its advertisement, tagged with its uid) may still stand, which only release
 * takes off, and only while the claim names it — freed here first, the next holder's
 * advertisement of the address was refused as a duplicate until the resync. Its deletion
 * reaches release as this claim (the bridge's route, and Knative's), which frees it at once
 * after taking the entries off; the claim's deletion then wakes the pool's waiters.
 */
async function droppedGone(deps: AllocateRun, claim: IPAddressClaim, allocation: string, report: Report): Promise<'freed' | 'left' | undefined> {
  if (claim.spec.sharingKey === undefined && (claim.metadata.labels?.[LABEL_SERVICE_UID] ?? '') === '') return undefined;
  const outcome = await dropGoneHolders(deps.kube, claim);
  if (outcome === undefined) return undefined;
  if (outcome === 'freed') deps.hint.noteFreed(claim.spec);
  deps.log.info('Dropped holders of a claim whose allocations are gone', { address: claim.spec.address, pool: claim.spec.poolName, freed: outcome === 'freed', for: allocation });
  report.actions.push(`${outcome === 'freed' ? 'released' : 'dropped gone holders from'} ${claim.spec.address} in pool ${claim.spec.poolName}: IPAllocation(s) gone`);
  return outcome;
}

/**
 * A pool being deleted hands out nothing: allocate reads the pools, then claims, and the pool
 * may be deleted in between — and released at once, its release finding no claim of it yet
 * (release reads the claims only once the deletion shows). So after a new claim the pool is
 * read again: that read follows the claim, so if release missed the claim, it also sees the
 * deletion (claims made meanwhile by this instance's other runs share one such read).
 * A claim holds its pool's deletion only through our finalizer, which a pool created a moment
 * ago may not carry yet (the pool's own event adds it): the claim adds it then, so a deletion
 * from now on waits for this claim (chaos, seed 2357111: a pool re-created and deleted within
 * four seconds went at once, its holders' router entries left to the resync).
 * An address the allocation's status names (`recorded`: its claim deleted by hand, taken again)
 * is kept in a pool being deleted that still carries our finalizer: release counts that status as
 * a holder (it was there before release listed anything), so the pool waits for it either way.
 * Undefined while the pool is the one decided from, not being deleted (or holding `recorded`
 * address) and ours to hold; else the pools with it as it is now (gone, being deleted, or
 * created again under its name).
 */
async function poolChangedSince(deps: AllocateRun, views: readonly PoolView[], name: string, recorded: boolean): Promise<PoolView[] | undefined> {
  const read = views.find((v) => v.name === name);
  let now = await deps.readPool(name);
  const same = (p: IPPool | undefined): p is IPPool => p !== undefined && p.metadata.uid === read?.pool.metadata.uid && (!p.metadata.deletionTimestamp || (recorded && hasFinalizer(p)));
  if (same(now)) {
    if (hasFinalizer(now) || await addPoolFinalizer(deps, now)) return undefined;
    // the pool changed under the write: decide from it as it is now
    now = await getPool(deps.kube, name);
    if (same(now) && hasFinalizer(now)) return undefined;
  }
  const pools = views.flatMap((v) => (v.name !== name ? [v.pool] : now ? [now] : []));
  return viewPools(pools).map((v) => ({ ...v, claimsAdopted: true }));
}

/** Our finalizer on a pool, written with the resourceVersion read: false when the pool changed or went meanwhile. */
async function addPoolFinalizer(deps: AllocateRun, pool: IPPool): Promise<boolean> {
  try {
    await deps.kube.replace('IPPool', withFinalizer(pool));
    return true;
  } catch (e) {
    if (isConflict(e) || isNotFound(e)) return false;
    throw e;
  }
}

export async function freeClaims(deps: AllocateRun, holdings: readonly Holding[], report: Report): Promise<void> {
  for (const h of holdings) {
    const claim = await claimHeldBy(deps.kube, h.address, h.allocationUID);
    if (!claim) continue;
    const outcome = await leaveClaim(deps.kube, claim, h.allocationUID);
    if (outcome === 'absent') continue;
    if (outcome === 'freed') deps.hint.noteFreed(claim.spec);
    report.actions.push(`${outcome === 'freed' ? 'released' : 'left shared'} ${h.address} of ${h.allocationName} in pool ${h.poolName} (no longer its address)`);
  }
}

/**
 * Logs a decision and records its event (`eventRecorded`: the hand-off's program recorded
 * `IPAllocated` already; `leftRouters`: the address it moved off, the router's own).
 */
export async function recordOutcome(deps: AllocateRun, a: IPAllocation, d: Decision, opts: { eventRecorded?: boolean; leftRouters?: string } = {}): Promise<void> {
  const regarding = { kind: 'IPAllocation' as const, name: a.metadata.name, uid: a.metadata.uid };
  if (d.ok) {
    const note = opts.leftRouters === undefined ? allocatedNote(d.address, d.pool) : `Allocated address ${d.address} from pool ${d.pool} instead of ${opts.leftRouters}, which the router holds itself.`;
    if (!opts.eventRecorded) await deps.kube.recordEvent({ regarding, type: 'Normal', reason: 'IPAllocated', note, action: 'Allocate', occurs: 'onChange' });
    deps.log.info('Allocated an address', { allocation: a.metadata.name, address: d.address, pool: d.pool });
  } else {
    await deps.kube.recordEvent({ regarding, type: 'Warning', reason: d.reason, note: d.message, action: 'Allocate', occurs: 'onChange' });
    deps.log.warn('Allocation failed', { allocation: a.metadata.name, reason: d.reason, message: d.message });
  }
}

export interface Known {
  /** The allocation as just read or written by the caller (saves a read). */
  allocation?: IPAllocation;
  /** Its Service, as the caller read it. */
  owner?: OwnerState;
  /** Check the claim even when the status looks settled (resync). */
  verify?: boolean;
  /**
   * Check only that a settled allocation still holds the claim of its address (one read): a
   * claim deleted by hand is taken again (as an address recorded without a claim, see findHeld)
   * before the pool hands the address to another allocation.
   */
  checkClaim?: boolean;
  /**
   * Collects an address decided and claimed, instead of writing the allocation's status (and
   * its event): the caller hands it to program first (see `Handoff`) and records it after.
   */
  defer?: Deferred[];
  /**
   * Collects the claims this run made that the allocation keeps, for the caller to prove their
   * Service still there by one read that follows them all (`settleAfterClaims` in service.ts).
   * Without it, a claim made for a Service's allocation is followed by a read of the Service
   * here: release lists a Service's claims once its deletion shows, so a claim made after this
   * run read the Service may be one release never sees (nothing would free it before the
   * resync's garbage collection); the Service read after the claim either shows the deletion
   * (the claim goes again here) or was read before it (release will find the claim).
   */
  claims?: Holding[];
  /**
   * The caller paired the allocation with a pool or family want of its Service (`matchAllocations`):
   * a held address the Service asks for by name is given up for the explicit allocation that
   * wants it (see AssignInput.yieldAskedFor). Without it, a held address is kept.
   */
  yieldAskedFor?: boolean;
}

/** An allocation whose claim is made and whose status (`allocation.status`, in memory) is not written yet. */
export interface Deferred {
  allocation: IPAllocation;
  decision: Extract<Decision, { ok: true }>;
  /** The pools as this decision read them (program's advertisements need them too). */
  pools: readonly IPPool[];
}

/**
 * Converges one IPAllocation: an address claimed (an IPAddressClaim created if absent), then
 * recorded in the allocation's status (guarded by its resourceVersion). Re-invocation finds
 * the claim through the status address, so a crash between the two writes keeps the address;
 * a claim this run made but lost to a concurrent writer is freed again.
 */
export async function allocateAddress(deps: AllocateRun, name: string, report: Report, known: Known = {}): Promise<void> {
  let a: IPAllocation | undefined = known.allocation;
  let owner: OwnerState | undefined = known.owner;
  let claimedHere: Holding[] = [];
  let kept: string | undefined;
  // deleted and gone since it was read (listed with others waiting on a pool, say): nothing to record
  const gone = (): void => {
    report.actions.push(`skipped ${name}: deleted meanwhile`);
    deps.metrics?.decided(name);
  };
  try {
    await retryOnConflict(`allocating ${name}`, deps.retry, async () => {
      a ??= await getAllocation(deps.kube, name);
      if (!a || a.metadata.deletionTimestamp) return deps.metrics?.decided(name);
      // what the status records is never freed below: after a lost status write it may be the
      // claim this run made, recorded by a concurrent run of the same allocation
      kept = a.status?.address;
      const reservation = !a.metadata.labels?.[LABEL_SERVICE_UID];
      if (!known.verify && settled(a, owner, known.yieldAskedFor === true) && (!reservation || hasFinalizer(a))) {
        if (!known.checkClaim || !a.status?.address || (await claimHeldBy(deps.kube, a.status.address, a.metadata.uid ?? ''))) return;
        report.actions.push(`${name}: the claim of ${a.status.address} is gone`);
      }
      owner ??= await owningService(deps, a);
      if (owner.state === 'gone') {
        report.actions.push(`skipped ${name}: its Service is gone (or no longer ours)`);
        return;
      }
      if (reservation && !hasFinalizer(a)) {
        // an operator reservation carries our finalizer, as a Service's allocations do from their
        // creation: its deletion then reaches release, which frees its address and takes its
        // advertisement off at once (without it, both waited for the resync's garbage collection)
        try {
          a = IPAllocationSchema.parse(await deps.kube.replace('IPAllocation', withFinalizer(a)));
        } catch (e) {
          if (isNotFound(e)) return gone();
          a = undefined; // changed meanwhile: read it again
          throw e;
        }
        report.actions.push(`${name}: finalizer added`);
      }
      const current = a;
      const pools = await readPools(deps.kube, deps.pools);
      for (const bad of pools.invalid) deps.log.warn('Skipping an IPPool that does not match the schema', { pool: bad.name, problem: bad.message });
      const views = viewPools(pools.items);
      // a pool whose conversion failed is withheld: only what needs it waits for it (retried)
      const withheld = await adoptClaims(deps, views, report);
      const adopted = views.map((v) => ({ ...v, claimsAdopted: true }));
      await deps.hint.refresh(deps.kube, deps.now().getTime(), deps.log);
      const held = await findHeld(deps, current, adopted, owner);
      const needs = needsWithheld(current, adopted, withheld, held?.holding.address ?? current.status?.address, true);
      if (needs !== undefined) throw withheld.get(needs);
      const requester = await requesterOf(deps, owner, pools.items);
      // the router holds its address (program refused it): it moves to another one if it can
      const refused = refusedByRouter(current);
      const { decision: d, claimed, replaced } = await decideAndClaim(deps, current, adopted, withheld, owner, held, requester, refused, known.yieldAskedFor === true, report);
      // no address without the withheld pools: not recorded as a failure, which it may not be
      const lacking = d.ok ? undefined : needsWithheld(current, adopted, withheld, undefined, false);
      if (lacking !== undefined) throw withheld.get(lacking);
      if (claimed) claimedHere.push(claimed);
      const leftRouters = refused !== undefined && d.ok && d.address !== refused ? refused : undefined;
      // no other address was free: its claim says so, and a pool with a free address wakes it
      if (refused !== undefined && d.ok && d.address === refused && held?.claim) await markRouterHeld(deps, held.claim, name, report);
      if (leftRouters && d.ok) {
        deps.log.info('Moving an allocation off an address the router holds', { allocation: name, address: leftRouters, to: d.address, pool: d.pool });
        report.actions.push(`${name}: leaves ${leftRouters} (the router's own)`);
      }
      const pool = d.ok ? adopted.find((v) => v.name === d.pool)?.pool.spec : undefined;
      const next = allocatedStatus(current, d, pool ? { advertise: pool.advertise, ...(pool.interfaceName ? { interfaceName: pool.interfaceName } : {}) } : undefined, deps.now());
      if (known.defer && d.ok && !replaced && statusChanged(current.status, next)) {
        known.defer.push({ allocation: { ...current, status: next }, decision: d, pools: pools.items });
        kept = d.address;
        return deps.metrics?.decided(name);
      }
      if (claimed && !statusChanged(current.status, next) && !(await stillThere(deps, current))) {
        // the status already named this address, whose claim had gone (freed by a release of
        // the allocation running meanwhile): no status write follows the claim to prove the
        // allocation still there, so a read does; gone or being deleted, the claim goes again
        // (freed here: the finally would keep it, as the status of an allocation being deleted names it)
        claimedHere = claimedHere.filter((c) => c !== claimed);
        await freeClaims(deps, [claimed], report);
        return gone();
      }
      if (statusChanged(current.status, next)) {
        try {
          await deps.kube.replaceStatus('IPAllocation', { ...current, status: next });
        } catch (e) {
          if (isNotFound(e)) return gone(); // (a claim made here is freed below: `kept` is not its address)
          a = undefined; // the allocation itself changed: read it (and its Service) again
          owner = known.owner;
          throw e;
        }
        kept = d.ok ? d.address : undefined;
        report.actions.push(d.ok ? `${name}: ${d.address} from pool ${d.pool}` : `${name}: ${d.reason}`);
        if (current.status?.address !== next.address || current.status?.phase !== next.phase || !d.ok) await recordOutcome(deps, current, d, leftRouters ? { leftRouters } : {});
      }
      kept = d.ok ? d.address : undefined;
      if (claimed && claimed.address === kept) {
        if (known.claims) known.claims.push(claimed);
        else if (owner.state === 'present' && (await owningService(deps, current)).state === 'gone') await freeClaims(deps, [claimed], report);
      }
      deps.metrics?.decided(name, d.ok ? undefined : { pool: failedPool(current, adopted), reason: d.reason, ...(optionalFor(owner, current) ? { optional: true } : {}) });
      if (replaced) await freeClaims(deps, [replaced], report);
    }, () => {
      report.conflicts++;
      deps.onConflict?.();
    });
  } finally {
    await freeUnrecorded(deps, name, claimedHere.filter((c) => c.address !== kept), report);
  }
}

/**
 * Labels the claim of a refused address the allocation keeps (see LABEL_CLAIM_ROUTER_HELD),
 * once. Best effort: a claim changed or gone meanwhile is left as it is (the resync moves the
 * allocation all the same).
 */
async function markRouterHeld(deps: AllocateRun, claim: IPAddressClaim, allocation: string, report: Report): Promise<void> {
  if (claim.metadata.labels?.[LABEL_CLAIM_ROUTER_HELD] === 'true') return;
  try {
    await deps.kube.replace('IPAddressClaim', { ...claim, metadata: { ...claim.metadata, labels: { ...claim.metadata.labels, [LABEL_CLAIM_ROUTER_HELD]: 'true' } } });
  } catch (e) {
    if (isConflict(e) || isNotFound(e)) return;
    throw e;
  }
  deps.log.info('Keeping an address the router holds until another one is free', { allocation, address: claim.spec.address, pool: claim.spec.poolName });
  report.actions.push(`${allocation}: keeps ${claim.spec.address} (the router's own) until another address is free`);
}

/** Whether the allocation, read again, is the one the run decided for and not being deleted. */
async function stillThere(deps: AllocateRun, a: IPAllocation): Promise<boolean> {
  const now = await getAllocation(deps.kube, a.metadata.name);
  return now !== undefined && now.metadata.uid === a.metadata.uid && !now.metadata.deletionTimestamp;
}

/**
 * Claims this run made that its decision does not use (it lost a race, or failed) go again —
 * but only after a fresh read shows the allocation's status does not record them: a concurrent
 * run of the same allocation may have recorded the very claim this run made. When that read
 * fails, they stay for the resync's garbage collection rather than risk freeing a held address.
 */
async function freeUnrecorded(deps: AllocateRun, name: string, strays: readonly Holding[], report: Report): Promise<void> {
  if (strays.length === 0) return;
  try {
    const recorded = (await getAllocation(deps.kube, name))?.status?.address;
    await freeClaims(deps, strays.filter((c) => c.address !== recorded), report);
  } catch (e) {
    deps.log.warn('Left claims of a lost allocation attempt for garbage collection', { allocation: name, addresses: strays.map((c) => c.address), error: messageOf(e) });
  }
}

import { findCondition } from '../../lib/core/conditions.js';
import { POOL_COND_OUTSIDE } from '../../lib/core/pool-status.js';
import { formatCounts, holdsAddress, poolCounts, poolKeeping, viewPools } from '../../lib/core/pools.js';
import { claimNameOf } from '../../lib/k8s/claims.js';
import { LABEL_CLAIM_ALLOCATION_UID, LABEL_CLAIM_POOL, LABEL_SERVICE_UID } from '../../lib/k8s/keys.js';
import type { IPAddressClaim, IPAllocation } from '../../lib/k8s/schemas.js';
import { holdersOf, holdsClaim } from '../../lib/core/sharing.js';
import type { Violation, World } from './invariants.js';

/**
 * The invariants of holding addresses: one IPAddressClaim per held address, named by it and
 * carrying its holder's uid; claims nobody holds live no longer than release's GC allows; pool
 * counts are what the pool's claims say.
 */

/** Why nobody holds a claim, and whether release's GC collects it (see functions/release/gc.ts). */
export interface Unheld {
  claim: IPAddressClaim;
  why: string;
  /** GC deletes it once older than the grace period; otherwise allocate alone must free it. */
  collectable: boolean;
  /** From when the grace period counts: the holder's join of a shared claim, else the claim's creation. */
  since: string | undefined;
}

/**
 * The claims nobody holds, judged as the GC judges them: a claim is held by its allocation
 * while that exists and is being deleted (release frees it), or records this very address
 * (as text) in an Allocated or Programmed status; a live allocation that has settled on
 * another address, or none exists, leaves it to the GC. A claim of a live allocation that holds
 * no address at all is never collected: allocate keeps such a claim (and records it) or frees it.
 */
export function unheldClaims(w: World): Unheld[] {
  const byUid = new Map(w.allocations.map((a) => [a.metadata.uid ?? '', a]));
  const out: Unheld[] = [];
  for (const claim of w.claims) {
    // each holder of a shared claim is judged alone, as the GC judges it
    for (const h of holdersOf(claim.spec)) {
      const a = byUid.get(h.allocationUID);
      const who = claim.spec.holders ? `holder ${h.allocationName}: ` : '';
      const since = h.joinedAt ?? claim.metadata.creationTimestamp;
      if (!a) {
        out.push({ claim, why: `${who}its allocation no longer exists`, collectable: true, since });
        continue;
      }
      if (a.metadata.deletionTimestamp) continue;
      const settled = a.status?.phase === 'Allocated' || a.status?.phase === 'Programmed';
      if (settled && a.status?.address === claim.spec.address) continue;
      if (settled) out.push({ claim, why: `${who}${a.metadata.name} settled on ${a.status?.address ?? 'no address'}`, collectable: true, since });
      else out.push({ claim, why: `${who}${a.metadata.name} holds no address (${a.status?.phase ?? 'no status'})`, collectable: false, since });
    }
  }
  return out;
}

const claimText = (c: IPAddressClaim): string => `claim ${c.metadata.name} (${c.spec.address} for ${c.spec.allocationName}, pool ${c.spec.poolName})`;
const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The oldest creation time a claim nobody holds may have: the settle phase's last release
 * resync collected every one created before (its send time) minus the grace period, since the
 * GC's cutoff is its own clock (later) minus the grace. Undefined before any such resync: the
 * bridges' resync timer is longer than a run, so nothing promised to collect anything yet.
 */
export function collectedBefore(w: World): number | undefined {
  return w.resynced.release === undefined ? undefined : w.resynced.release - w.claimGraceMs;
}

/**
 * No address held by two allocations (by their statuses; claims cannot be, being named by it),
 * unless its claim is shared and lists every one of them as a holder.
 */
export function uniqueAddresses(w: World): Violation[] {
  const byAddress = new Map<string, IPAllocation[]>();
  for (const a of w.allocations.filter(holdsAddress)) {
    const address = a.status?.address ?? '';
    const key = claimNameOf(address) ?? address;
    byAddress.set(key, [...(byAddress.get(key) ?? []), a]);
  }
  const byName = new Map(w.claims.map((c) => [c.metadata.name, c]));
  const shared = (name: string, holders: readonly IPAllocation[]): boolean => {
    const c = byName.get(name);
    return c?.spec.sharingKey !== undefined && holders.every((a) => holdsClaim(c.spec, a.metadata.uid ?? ''));
  };
  return [...byAddress].filter(([name, holders]) => holders.length > 1 && !shared(name, holders))
    .map(([, holders]) => ({ invariant: 'unique-address', detail: `one address is held by ${holders.map((a) => `${a.metadata.name} (${a.status?.address ?? ''})`).join(', ')}` }));
}

/**
 * A claim on an address no pool keeps any more: its pool shrank under it (see `editPool`). The
 * allocation keeps the address, and its pool must say so once an allocate resync refreshed it
 * (`AddressesOutsidePool`); a claim naming a pool that does not exist is wrong.
 */
function shrunkOut(c: IPAddressClaim, w: World): string[] {
  const pool = w.pools.find((p) => p.metadata.name === c.spec.poolName);
  if (!pool) return [`names pool ${c.spec.poolName}, which does not exist, and no pool keeps that address`];
  if (w.resynced.allocate === undefined) return [];
  const outside = findCondition(pool.status?.conditions, POOL_COND_OUTSIDE);
  return outside?.status === 'True' ? [] : [`lies outside its pool ${pool.metadata.name}, which does not report it (${POOL_COND_OUTSIDE} ${outside?.status ?? 'missing'})`];
}

/** What is wrong with one claim on its own: its name, labels and pool must match its spec. */
function malformed(c: IPAddressClaim, w: World, views: ReturnType<typeof viewPools>): string[] {
  const out: string[] = [];
  const name = claimNameOf(c.spec.address);
  if (name !== c.metadata.name) out.push(`is not named by its address (that name is ${name ?? 'none: no address'})`);
  const labels = c.metadata.labels ?? {};
  if (labels[LABEL_CLAIM_POOL] !== c.spec.poolName) out.push(`has pool label ${labels[LABEL_CLAIM_POOL] ?? 'none'}`);
  if (labels[LABEL_CLAIM_ALLOCATION_UID] !== c.spec.allocationUID) out.push(`has allocation-uid label ${labels[LABEL_CLAIM_ALLOCATION_UID] ?? 'none'}, its spec ${c.spec.allocationUID}`);
  // (a claim whose allocations are all gone is judged as the GC judges it, by unheldClaims: the
  // pool it names may be gone too, deleted once no allocation held the address)
  const held = holdersOf(c.spec).some((h) => w.allocations.some((a) => a.metadata.uid === h.allocationUID));
  const keeper = poolKeeping(views, c.spec.address)?.name;
  if (held && keeper === undefined) out.push(...shrunkOut(c, w));
  else if (held && keeper !== c.spec.poolName) out.push(`names pool ${c.spec.poolName}, but pool ${keeper ?? ''} keeps that address`);
  const holder = w.allocations.find((a) => a.metadata.uid === c.spec.allocationUID);
  if (holder && holder.metadata.name !== c.spec.allocationName) out.push(`names allocation ${c.spec.allocationName}, whose uid is ${holder.metadata.name}'s`);
  // a shared claim keeps the service-uid label of whoever created it
  if (holder && c.spec.holders === undefined && labels[LABEL_SERVICE_UID] !== holder.metadata.labels?.[LABEL_SERVICE_UID]) out.push(`has service-uid label ${labels[LABEL_SERVICE_UID] ?? 'none'}, its allocation ${holder.metadata.labels?.[LABEL_SERVICE_UID] ?? 'none'}`);
  return out;
}

/**
 * Every live allocation holding an address has exactly its claim: named by the address,
 * recording the same text and its uid. A claim nobody holds is a violation once the GC had to
 * collect it (see `collectedBefore`), or at once if the GC never will (`Unheld.collectable`).
 */
export function claims(w: World): Violation[] {
  const out: Violation[] = [];
  const bad = (detail: string): number => out.push({ invariant: 'claim', detail });
  const views = viewPools(w.pools);
  for (const c of w.claims) for (const problem of malformed(c, w, views)) bad(`${claimText(c)} ${problem}`);
  const byName = new Map(w.claims.map((c) => [c.metadata.name, c]));
  for (const a of w.allocations.filter((x) => holdsAddress(x) && !x.metadata.deletionTimestamp)) {
    const address = a.status?.address ?? '';
    const name = claimNameOf(address);
    const c = name === undefined ? undefined : byName.get(name);
    if (!c) bad(`${a.metadata.name} holds ${address} (${a.status?.phase ?? ''}) without its claim ${name ?? '(no address)'}`);
    else if (!holdsClaim(c.spec, a.metadata.uid ?? '')) bad(`${a.metadata.name} (uid ${a.metadata.uid ?? ''}) holds ${address}, but ${claimText(c)} is held by uid ${c.spec.allocationUID}`);
    else if (c.spec.address !== address) bad(`${a.metadata.name} holds ${address}, but its ${claimText(c)} records "${c.spec.address}" (the GC compares the text)`);
  }
  const cutoff = collectedBefore(w);
  for (const u of unheldClaims(w)) {
    const created = Date.parse(u.since ?? '');
    if (!u.collectable) bad(`${claimText(u.claim)} is held by nobody: ${u.why}`);
    else if (cutoff !== undefined && created < cutoff) {
      bad(`${claimText(u.claim)} is held by nobody (${u.why}), since ${u.since ?? '?'}, yet a release resync sent at ${iso(w.resynced.release ?? 0)} with a grace period of ${w.claimGraceMs / 1000} s left it`);
    }
  }
  return out;
}

/**
 * Pool status after an allocate resync (which refreshes every pool from its claims; allocations
 * never do): converted to claims, the ledger gone, counts as `poolCounts` derives them from the
 * claims labelled with the pool (a pool being deleted has none free; one deleted before it was
 * converted keeps its ledger for release, and is not counted).
 */
export function poolStatusCounts(w: World): Violation[] {
  if (w.resynced.allocate === undefined) return [];
  const out: Violation[] = [];
  for (const v of viewPools(w.pools).filter((p) => p.claimsAdopted || !p.pool.metadata.deletionTimestamp)) {
    const status = v.pool.status;
    if (!v.claimsAdopted || v.ledger !== undefined) out.push({ invariant: 'pool-counts', detail: `pool ${v.name} is not converted to claims (claimsAdopted ${String(status?.claimsAdopted)}, ledger of ${v.ledger?.length ?? 'no'} entries)` });
    const mine = w.claims.filter((c) => c.metadata.labels?.[LABEL_CLAIM_POOL] === v.name).map((c) => c.spec);
    const want = formatCounts(poolCounts(v, mine));
    const got = { totalAddresses: status?.totalAddresses, allocatedAddresses: status?.allocatedAddresses, freeAddresses: status?.freeAddresses };
    if (JSON.stringify(want) !== JSON.stringify(got)) out.push({ invariant: 'pool-counts', detail: `pool ${v.name} counts ${JSON.stringify(got)}, its ${mine.length} claim(s) say ${JSON.stringify(want)}` });
  }
  return out;
}

/** The claim an allocation holds for `assignAddress`: the one its status names, else its only one. */
export function claimOf(w: World, a: IPAllocation): IPAddressClaim | undefined {
  const mine = w.claims.filter((c) => holdsClaim(c.spec, a.metadata.uid ?? ''));
  return mine.find((c) => c.spec.address === a.status?.address) ?? mine[0];
}

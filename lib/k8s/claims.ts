/**
 * IPAddressClaims: holding an address is one small object named by the address, created if
 * absent (after Kubernetes' own IPAddress objects, KEP-1880). Claims on different addresses
 * never conflict; a claim's create failing with AlreadyExists means the address is taken.
 */
import { addressName, formatAddress, parseAddress } from '../ip/index.js';
import { holdersOf, holdsClaim, joined, joinRefusal, left, newClaimSpec, sharingFits, sharingKeyOf, type Sharing } from '../core/sharing.js';
import type { Service } from './core-objects.js';
import { RetryLaterError } from './conflict.js';
import { isAlreadyExists, isConflict, isNotFound } from './errors.js';
import { LABEL_CLAIM_ALLOCATION_UID, LABEL_CLAIM_POOL, LABEL_SERVICE_UID } from './keys.js';
import type { KubeObject, KubePort } from './port.js';
import { API_VERSION, type ClaimHolder, type IPAddressClaim, type IPAddressClaimSpec, type IPAllocation } from './schemas.js';
import { getAllocation, getClaim, InvalidObjectError } from './typed.js';

/** The name of an address's claim; undefined for text that is no address. */
export function claimNameOf(address: string): string | undefined {
  const p = parseAddress(address);
  return p.ok ? addressName(p.family, p.value) : undefined;
}

function claimObject(name: string, spec: IPAddressClaimSpec, serviceUID: string | undefined): KubeObject {
  return {
    apiVersion: API_VERSION,
    kind: 'IPAddressClaim',
    metadata: {
      name,
      labels: {
        [LABEL_CLAIM_POOL]: spec.poolName,
        [LABEL_CLAIM_ALLOCATION_UID]: spec.allocationUID,
        ...(serviceUID ? { [LABEL_SERVICE_UID]: serviceUID } : {}),
      },
    },
    spec,
  };
}

export type ClaimResult =
  | { claimed: true; claim: IPAddressClaim | undefined; /** this call created the claim or joined it */ created: boolean }
  | { claimed: false; holder: IPAddressClaim; /** why it could not be joined, for a shared claim */ refusal?: string }
  /** The claim exists but is none we can read (made by hand or by another tool): taken by someone else, left as it is. */
  | { claimed: false; unreadable: { name: string; problem: string } };

/** How often a join or leave re-reads a claim that changed under it before giving up for now. */
const CLAIM_UPDATE_ATTEMPTS = 32;

/**
 * Claims an address for an allocation: created if absent (shared, when the Service brings a
 * sharing key); if present and held by the same allocation (a crash between the claim and the
 * allocation's status, or a racing instance), it is the allocation's; if shared under the
 * Service's key and none of its ports is used there, it is joined (an update carrying the
 * claim's resourceVersion, so concurrent joins never both take one port); else the holder is
 * returned. A claim deleted between the failed create and the read is tried once more.
 */
export async function claimAddress(kube: KubePort, spec: IPAddressClaimSpec, serviceUID?: string, sharing?: Sharing, now = new Date()): Promise<ClaimResult> {
  const name = claimNameOf(spec.address);
  if (name === undefined) throw new Error(`cannot claim "${spec.address}": not an address`);
  for (let attempt = 0; attempt < CLAIM_UPDATE_ATTEMPTS; attempt++) {
    try {
      await kube.create('IPAddressClaim', claimObject(name, newClaimSpec(spec, sharing, now.toISOString()), serviceUID));
      return { claimed: true, claim: undefined, created: true };
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
    const read = await readClaim(kube, name);
    if ('unreadable' in read) return { claimed: false, unreadable: { name, problem: read.unreadable } };
    const holder = read.claim;
    if (holder && holdsClaim(holder.spec, spec.allocationUID)) return { claimed: true, claim: holder, created: false };
    if (!holder) continue;
    const refusal = joinRefusal(holder.spec, spec.allocationUID, sharing);
    if (refusal !== undefined || !sharing) return { claimed: false, holder, ...(holder.spec.sharingKey !== undefined && refusal ? { refusal } : {}) };
    const me = { allocationName: spec.allocationName, allocationUID: spec.allocationUID, ports: sharing.ports, joinedAt: now.toISOString() };
    if (await updateClaim(kube, holder, joined(holder.spec, me, sharing))) return { claimed: true, claim: holder, created: true };
  }
  throw new RetryLaterError(`the claim of ${spec.address} keeps changing`);
}

/**
 * A claim by name (undefined: absent), or what is wrong with it: one that does not match our
 * schema, or whose spec names another address than its name, is no holding we could join or
 * verify — someone else's (made by hand, or by another tool), to be left as it is.
 */
export async function readClaim(kube: KubePort, name: string): Promise<{ claim: IPAddressClaim | undefined } | { unreadable: string }> {
  let claim: IPAddressClaim | undefined;
  try {
    claim = await getClaim(kube, name);
  } catch (e) {
    if (e instanceof InvalidObjectError) return { unreadable: e.detail.message };
    throw e;
  }
  const foreign = claim && misnamed(claim);
  return foreign === undefined ? { claim } : { unreadable: foreign };
}

/**
 * A claim by name, undefined when absent or none we can read (readClaim): such a claim holds its
 * address for someone else, none of ours — nothing to free, leave, join or program from it.
 */
export async function readableClaim(kube: KubePort, name: string): Promise<IPAddressClaim | undefined> {
  const read = await readClaim(kube, name);
  return 'claim' in read ? read.claim : undefined;
}

/** What is wrong with a claim whose spec names another address than its name (none of ours: we name each by its address). */
export function misnamed(claim: IPAddressClaim): string | undefined {
  if (claimNameOf(claim.spec.address) === claim.metadata.name) return undefined;
  return `spec.address: "${claim.spec.address.slice(0, 100)}" is not the address its name stands for`;
}

/** Writes a claim's new spec if it is still the version read; false when it changed meanwhile. */
async function updateClaim(kube: KubePort, claim: IPAddressClaim, spec: IPAddressClaimSpec, serviceUID?: string): Promise<boolean> {
  const [first] = holdersOf(spec);
  const labels = {
    ...claim.metadata.labels,
    ...(first ? { [LABEL_CLAIM_ALLOCATION_UID]: first.allocationUID } : {}),
    ...(serviceUID ? { [LABEL_SERVICE_UID]: serviceUID } : {}),
  };
  try {
    await kube.replace('IPAddressClaim', { ...claim, metadata: { ...claim.metadata, labels }, spec });
    return true;
  } catch (e) {
    if (isConflict(e) || isNotFound(e)) return false;
    throw e;
  }
}

/**
 * Brings a held shared claim up to date with the Service's sharing (ports changed, or a key
 * gained while it holds the address alone). False when the ports now clash or the claim is
 * shared under another key: the caller moves the allocation.
 */
export async function refreshSharing(kube: KubePort, claim: IPAddressClaim, allocationUID: string, sharing: Sharing | undefined, serviceUID?: string): Promise<boolean> {
  let current: IPAddressClaim | undefined = claim;
  for (let attempt = 0; attempt < CLAIM_UPDATE_ATTEMPTS && current; attempt++) {
    if (!holdsClaim(current.spec, allocationUID)) return false;
    if (sharingFits(current.spec, allocationUID, sharing)) return true;
    const alone = holdersOf(current.spec).length === 1;
    let next: IPAddressClaimSpec;
    if (!sharing) {
      if (!alone) return false;
      const { sharingKey: _k, holders: _h, ...single } = current.spec;
      next = single;
    } else {
      if (!alone && joinRefusal(current.spec, allocationUID, sharing) !== undefined) return false;
      const mine = holdersOf(current.spec).find((h) => h.allocationUID === allocationUID);
      next = joined(current.spec, { allocationName: mine?.allocationName ?? current.spec.allocationName, allocationUID, ports: sharing.ports, ...(mine?.joinedAt ? { joinedAt: mine.joinedAt } : {}) }, sharing);
    }
    // a claim that becomes the holder's own is labelled with its Service, as one it had created
    // (a shared claim keeps its creator's)
    if (await updateClaim(kube, current, next, next.sharingKey === undefined ? serviceUID : undefined)) return true;
    current = await getClaim(kube, claim.metadata.name);
  }
  return current !== undefined && holdsClaim(current.spec, allocationUID) && sharingFits(current.spec, allocationUID, sharing);
}

/** The claim of an address, if this allocation uid is among its holders (never of a claim we cannot read: someone else's). */
export async function claimHeldBy(kube: KubePort, address: string, allocationUID: string): Promise<IPAddressClaim | undefined> {
  const name = claimNameOf(address);
  if (name === undefined) return undefined;
  const claim = await readableClaim(kube, name);
  return claim && holdsClaim(claim.spec, allocationUID) ? claim : undefined;
}

/**
 * Which of a Service's allocations hold a shared address (canonical text): those whose claim
 * is shared now. A Service without a sharing key holds none it would plan as shared (no read);
 * one with a key reads the claim of each address, as its key alone does not say the claim is
 * shared yet (allocate records the key in the claim after the Service changed). A claim we
 * cannot read shares the address with none of ours.
 */
export async function sharedAddressesOf(kube: KubePort, svc: Service, allocations: readonly IPAllocation[]): Promise<ReadonlySet<string>> {
  if (sharingKeyOf(svc) === undefined) return NONE;
  const addresses = [...new Set(allocations.flatMap((a) => {
    const p = a.status?.address ? parseAddress(a.status.address) : undefined;
    return p?.ok ? [formatAddress(p.family, p.value)] : [];
  }))];
  const claims = await Promise.all(addresses.map((address) => readableClaim(kube, claimNameOf(address) ?? '')));
  return new Set(addresses.filter((_, i) => claims[i]?.spec.sharingKey !== undefined));
}

const NONE: ReadonlySet<string> = new Set();

/**
 * The pools the claims of these addresses (canonical text) were made from, by address: one
 * read per address, for the held addresses no pool keeps now (addressesOutsidePools in
 * lib/core/program-model.ts), nearly always none. A missing claim names no pool, nor one we cannot read.
 */
export async function claimPoolsOf(kube: KubePort, addresses: readonly string[]): Promise<ReadonlyMap<string, string>> {
  const claims = await Promise.all(addresses.map((address) => readableClaim(kube, claimNameOf(address) ?? '')));
  return new Map(addresses.flatMap((address, i) => {
    const pool = claims[i]?.spec.poolName;
    return pool === undefined ? [] : [[address, pool]];
  }));
}

/** What leaving a claim did: the address was freed (claim deleted), left to other holders, or was not held. */
export type Leave = 'freed' | 'left' | 'absent';

/**
 * The holders left after one leaves, without those whose allocation is gone: an allocation
 * exists before any claim made for it, so one missing now was deleted for good (a run that
 * claimed for an allocation released meanwhile and died before freeing the claim). Left in,
 * such a holder would keep a shared address — and its router entries — until the resync's
 * garbage collection (chaos, seed 6061006). One read per other holder, on a leave only.
 */
async function liveRest(kube: KubePort, spec: IPAddressClaimSpec, allocationUID: string): Promise<IPAddressClaimSpec | undefined> {
  let rest = left(spec, allocationUID);
  if (!rest) return undefined;
  const others = holdersOf(rest);
  const alive = await Promise.all(others.map(async (h) => (await getAllocation(kube, h.allocationName))?.metadata.uid === h.allocationUID));
  for (const [i, h] of others.entries()) if (!alive[i]) rest = rest && left(rest, h.allocationUID);
  return rest;
}

/**
 * An allocation gives an address up: it leaves a shared claim others still hold (an update
 * carrying the resourceVersion), or deletes the claim when it is the last holder whose
 * allocation still exists (with the claim's uid and resourceVersion as preconditions, so a
 * claim someone made or joined meanwhile is never deleted: it is read again). Absent, no
 * longer held by it, or turned into one we cannot read (someone else's), is fine.
 */
export async function leaveClaim(kube: KubePort, claim: IPAddressClaim, allocationUID: string): Promise<Leave> {
  let current: IPAddressClaim | undefined = claim;
  for (let attempt = 0; attempt < CLAIM_UPDATE_ATTEMPTS; attempt++) {
    if (!current || current.metadata.uid !== (claim.metadata.uid ?? current.metadata.uid) || !holdsClaim(current.spec, allocationUID)) return 'absent';
    const rest = await liveRest(kube, current.spec, allocationUID);
    if (rest && (await updateClaim(kube, current, rest))) return 'left';
    if (!rest && (await removeClaim(kube, current))) return 'freed';
    current = await readableClaim(kube, claim.metadata.name);
  }
  throw new RetryLaterError(`the claim of ${claim.spec.address} keeps changing`);
}

/**
 * Drops from a claim the holders whose allocation no longer exists (deleted without their
 * release: a finalizer taken off by hand, a run that claimed for an allocation deleted
 * meanwhile and died), deleting the claim when none is left. An allocation exists before any
 * claim made for it, so a holder missing now is gone for good (as liveRest judges); each write
 * carries the claim's resourceVersion (the delete its uid too), so a claim joined meanwhile
 * keeps its new holder. What it did: 'freed', 'left' (live holders stay), or undefined (every
 * holder lives, or the claim changed meanwhile).
 */
export async function dropGoneHolders(kube: KubePort, claim: IPAddressClaim, known?: readonly ClaimHolder[]): Promise<Exclude<Leave, 'absent'> | undefined> {
  const [gone] = known ?? await goneHolders(kube, claim);
  if (gone === undefined) return undefined;
  const outcome = await leaveClaim(kube, claim, gone.allocationUID);
  return outcome === 'absent' ? undefined : outcome;
}

/** The holders of a claim whose allocation no longer exists (see dropGoneHolders): one read each. */
export async function goneHolders(kube: KubePort, claim: IPAddressClaim): Promise<ClaimHolder[]> {
  const holders = holdersOf(claim.spec);
  const alive = await Promise.all(holders.map(async (h) => (await getAllocation(kube, h.allocationName))?.metadata.uid === h.allocationUID));
  return holders.filter((_, i) => !alive[i]);
}

async function removeClaim(kube: KubePort, claim: IPAddressClaim): Promise<boolean> {
  const { uid, resourceVersion } = claim.metadata;
  try {
    await kube.remove('IPAddressClaim', claim.metadata.name, undefined, { ...(uid ? { uid } : {}), ...(resourceVersion ? { resourceVersion } : {}) });
    return true;
  } catch (e) {
    if (isConflict(e)) return false;
    throw e;
  }
}

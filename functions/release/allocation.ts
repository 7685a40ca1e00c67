import { claimNameOf, claimPoolsOf, leaveClaim, readableClaim, sharedAddressesOf } from '../../lib/k8s/claims.js';
import { holdersOf, holdsClaim, sharedAddressOwner } from '../../lib/core/sharing.js';
import { addressesOutsidePools, advertisementWants, serviceProgram, sharedAddressEntries } from '../../lib/core/program-model.js';
import { serviceIntent } from '../../lib/core/service.js';
import { formatAddress, parseAddress } from '../../lib/ip/index.js';
import { SETTLE_ROUNDS, settleWrites, type SettleSteps } from '../../lib/core/settle.js';
import { type IPAddressClaim, type IPAllocation, type IPPool } from '../../lib/k8s/schemas.js';
import { claimsOfAllocation, serviceOfLabels, allocationsOfService, slicesOfService, LABEL_CLAIM_ALLOCATION_UID, LABEL_SERVICE_UID } from '../../lib/k8s/keys.js';
import { hasFinalizer } from '../../lib/k8s/finalizer.js';
import type { EndpointSlice, Service } from '../../lib/k8s/core-objects.js';
import { deepEqualJson } from '../../lib/core/equal.js';
import { getAllocation, getService, listAllocations, listClaims, listEndpointSlices, listPools, listServices } from '../../lib/k8s/typed.js';
import { readPools } from '../../lib/k8s/mirror.js';
import { SiblingUnrecordedError, type ReleaseDeps, type ReleaseReport } from './deps.js';
import { decisionUnrecorded } from '../../lib/core/allocation-status.js';
import { holdsAddress } from '../../lib/core/pools.js';
import { dropFinalizer, firstThen } from './finalizers.js';
import { applyOwner, dropOwners, onRouter } from './router.js';

/**
 * The claims an allocation holds (normally one; more only for a moment while it moves): those
 * labelled with it, and the shared one of its status address, where it may be a later holder
 * — or one it already left: an earlier run of this release left it to a Service that joined
 * meanwhile and then failed on the router while putting the address's entries back for that
 * Service (releaseClaims settles them again). Never one we cannot read (readClaim): someone else's.
 */
export async function claimsOf(deps: ReleaseDeps, a: IPAllocation): Promise<IPAddressClaim[]> {
  const uid = a.metadata.uid;
  if (!uid) return [];
  return heldOf(a, (await listClaims(deps.kube, claimsOfAllocation(uid))).items, (name) => readableClaim(deps.kube, name));
}

/** claimsOf from the claims labelled with the allocation, and a read of the claim of that name. */
async function heldOf(a: IPAllocation, labelled: IPAddressClaim[], named: (name: string) => Promise<IPAddressClaim | undefined>): Promise<IPAddressClaim[]> {
  const uid = a.metadata.uid ?? '';
  const address = a.status?.address;
  const name = address && !labelled.some((c) => c.spec.address === address) ? claimNameOf(address) : undefined;
  const shared = name === undefined ? undefined : await named(name);
  return shared && (holdsClaim(shared.spec, uid) || shared.spec.sharingKey !== undefined) ? [...labelled, shared] : labelled;
}

/** claimsOf for each of many allocations, from one list of every claim taken after they were read. */
async function claimsOfEach(deps: ReleaseDeps, allocations: readonly IPAllocation[]): Promise<IPAddressClaim[][]> {
  if (allocations.length === 0) return [];
  const claims = (await listClaims(deps.kube)).items;
  const byName = new Map(claims.map((c) => [c.metadata.name, c]));
  return Promise.all(allocations.map((a) => {
    const uid = a.metadata.uid;
    const labelled = uid ? claims.filter((c) => c.metadata.labels?.[LABEL_CLAIM_ALLOCATION_UID] === uid) : [];
    return uid ? heldOf(a, labelled, async (name) => byName.get(name)) : [];
  }));
}

/**
 * Whose router entries the allocation's address is among, verified against the cluster rather
 * than taken from its labels (which anyone who may create IPAllocations can write):
 * - `replan`: the live Service we manage whose uid the label names (found by the name labels,
 *   else among all Services), planned again without this allocation;
 * - `gone`: no live Service or operator reservation has that uid (or its Service is being
 *   deleted or no longer ours), so everything tagged with it goes;
 * - `own`: no Service label, or the uid is another live owner that cannot be planned from
 *   here: only entries tagged with the allocation's own uid go.
 */
type RouterOwner = { kind: 'replan'; svc: Service & { metadata: { uid: string; namespace: string } } } | { kind: 'gone'; uid: string } | { kind: 'own'; uid: string };

async function serviceWithUid(deps: ReleaseDeps, uid: string, ns: string | undefined, name: string | undefined): Promise<Service | undefined> {
  const named = ns && name ? await getService(deps.kube, ns, name) : undefined;
  if (named?.metadata.uid === uid) return named;
  return (await listServices(deps.kube)).items.find((s) => s.metadata.uid === uid);
}

async function routerOwner(deps: ReleaseDeps, a: IPAllocation): Promise<RouterOwner> {
  const labels = a.metadata.labels ?? {};
  const own: RouterOwner = { kind: 'own', uid: a.metadata.uid ?? '' };
  const uid = labels[LABEL_SERVICE_UID];
  if (!uid) return own;
  const named = serviceOfLabels(labels);
  const svc = await serviceWithUid(deps, uid, named?.namespace, named?.name);
  if (svc) {
    const { uid: svcUid, namespace } = svc.metadata;
    const live = !svc.metadata.deletionTimestamp && serviceIntent(svc, deps.classes).managed;
    if (live && svcUid && namespace) return { kind: 'replan', svc: { ...svc, metadata: { ...svc.metadata, uid: svcUid, namespace } } };
    return { kind: 'gone', uid };
  }
  const reservation = (await listAllocations(deps.kube)).items.some((x) => x.metadata.uid === uid && !x.metadata.labels?.[LABEL_SERVICE_UID]);
  return reservation ? own : { kind: 'gone', uid };
}

/**
 * Re-plans a live Service without the released allocation, from whole menus, then settles as
 * program does (lib/core/settle.ts): another of its allocations may be released while this
 * writes, and a write planned from the earlier read would put that one's entries back. Not
 * while allocate is still recording another of them (SiblingUnrecordedError). The entries of a
 * shared address a write planned are the address's, not the Service's: re-planned without the
 * allocation, the Service leaves them standing, so for each address written as shared that the
 * Service no longer holds after the settle (or at all, gone meanwhile), they are settled against
 * its claim (settleSharedEntries): the write may have put them back after the release of the
 * address's last holder took them off.
 */
async function replanWithout(deps: ReleaseDeps, a: IPAllocation, svc: Service & { metadata: { uid: string; namespace: string } }, report: ReleaseReport): Promise<void> {
  const { uid, namespace, name } = svc.metadata;
  const others = async (): Promise<IPAllocation[]> =>
    (await listAllocations(deps.kube, allocationsOfService(uid))).items.filter((x) => x.metadata.uid !== a.metadata.uid && !x.metadata.deletionTimestamp);
  const inputs = async (): Promise<Pick<PlannedFrom, 'slices' | 'pools'>> => {
    const [slices, pools] = await Promise.all([listEndpointSlices(deps.kube, namespace, slicesOfService(name)), listPools(deps.kube)]);
    return { slices: slices.items, pools: pools.items };
  };
  const [first, read] = await Promise.all([others(), inputs()]);
  const recording = first.find(decisionUnrecorded);
  if (recording) throw new SiblingUnrecordedError(`Waiting for allocate to record ${recording.metadata.name} before re-planning ${namespace}/${name} without ${a.metadata.name}.`);
  const writtenShared = new Set<string>(); // the addresses a write planned as shared (canonical text)
  let from: PlannedFrom = { svc, ...read }; // what the next write plans from (besides the allocations)
  let wrote = from; // what the last write planned from
  const steps: SettleSteps<Service> = {
    owner: async () => {
      const now = await getService(deps.kube, namespace, name);
      return now && now.metadata.uid === uid && !now.metadata.deletionTimestamp && serviceIntent(now, deps.classes).managed ? now : undefined;
    },
    allocations: others,
    write: async (current, planned) => {
      wrote = { ...from, svc: current };
      const { slices, pools } = wrote;
      const service = serviceProgram(current, serviceIntent(current, deps.classes), planned, slices, await sharedAddressesOf(deps.kube, current, planned));
      for (const address of Object.keys(service.addressOwners ?? {})) writtenShared.add(address);
      const claimPools = await claimPoolsOf(deps.kube, addressesOutsidePools(planned, pools));
      await onRouter(deps, `address ${a.status?.address ?? ''} of ${a.metadata.name}`, () => applyOwner(deps, { uid, service, adverts: advertisementWants(planned, pools, claimPools) }, report));
    },
    // the Service went (or is no longer ours) while this wrote: nothing of it stays
    gone: async () => void (await onRouter(deps, `entries of ${namespace}/${name}`, () => applyOwner(deps, { uid, adverts: [] }, report))),
    // a change of the Service, its slices or its pools that program wrote before this write
    // read the router was set back by it (planned from the earlier read): planned again
    moved: async (current) => {
      from = { svc: current, ...(await inputs()) };
      return plannedFromDiffers(wrote, from);
    },
  };
  await steps.write(svc, first);
  const settled = await settleWrites(steps, first, { whole: true });
  if (settled.kind === 'unsettled') {
    deps.log.warn('The Service\'s allocations kept changing while its router entries were re-planned; the next program or resync settles them', { service: `${namespace}/${name}`, allocation: a.metadata.name });
  }
  const held = new Set(settled.kind === 'gone' ? [] : settled.allocations.filter(holdsAddress).flatMap((x) => canonicalOf(x.status?.address)));
  for (const address of writtenShared) if (!held.has(address)) await settleSharedEntries(deps, address, report, 'unknown');
}

/** What a re-plan of a Service takes from the cluster besides its allocations. */
interface PlannedFrom {
  svc: Service;
  slices: readonly EndpointSlice[];
  pools: readonly IPPool[];
}

/** Whether a re-plan from `now` could differ from one from `before`: the Service's spec or annotations, a slice or a pool's spec changed. */
function plannedFromDiffers(before: PlannedFrom, now: PlannedFrom): boolean {
  const slices = (f: PlannedFrom): string => f.slices.map((s) => `${s.metadata.name}@${s.metadata.resourceVersion ?? ''}`).sort().join(',');
  const pools = (f: PlannedFrom): string => f.pools.map((p) => `${p.metadata.name}@${p.metadata.uid ?? ''}/${p.metadata.generation ?? 0}/${p.metadata.deletionTimestamp ?? ''}`).sort().join(',');
  const svc = (f: PlannedFrom): unknown => ({ spec: f.svc.spec, annotations: f.svc.metadata.annotations ?? {} });
  return slices(before) !== slices(now) || pools(before) !== pools(now) || !deepEqualJson(svc(before), svc(now));
}

/** An address's canonical text (as a Service program's addressOwners names it), or none. */
function canonicalOf(address: string | undefined): string[] {
  const p = address ? parseAddress(address) : undefined;
  return p?.ok ? [formatAddress(p.family, p.value)] : [];
}

/** Takes the allocation's address off the router: re-plan its live Service without it, or drop its owner's entries. */
async function releaseOnRouter(deps: ReleaseDeps, a: IPAllocation, report: ReleaseReport): Promise<void> {
  const owner = await routerOwner(deps, a);
  if (owner.kind === 'replan') return replanWithout(deps, a, owner.svc, report);
  if (owner.kind === 'own' && a.metadata.labels?.[LABEL_SERVICE_UID]) {
    deps.log.warn('An allocation names another owner in its labels; releasing only its own entries', { allocation: a.metadata.name, owner: a.metadata.labels[LABEL_SERVICE_UID] });
  }
  await onRouter(deps, `entries of ${a.metadata.name}`, () => applyOwner(deps, { uid: owner.uid, adverts: [] }, report));
}

/**
 * Frees the allocation's addresses: its claims go (each only if still the one read), or it
 * leaves those other holders share. The last holder of a shared address takes the address's
 * own router entries (advertisement, LB list) off first: they outlive every other holder.
 * Whether it is the last is decided from the claim as read, and another Service may join it
 * until the leave (which then finds the claim changed and leaves it to the joiner), its program
 * having found the entries standing and written none: so after a removal the entries are
 * settled against the claim as it is now (settleSharedEntries). A shared claim it no longer holds
 * is settled the same way: an earlier run may have left it, taken the entries off and failed
 * on the router before it put them back, and nothing else would (a holder change wakes no
 * program); while they stand this costs a read of the router and no write.
 */
async function releaseClaims(deps: ReleaseDeps, a: IPAllocation, claims: readonly IPAddressClaim[], report: ReleaseReport): Promise<string[]> {
  const uid = a.metadata.uid ?? '';
  for (const c of claims) {
    const owner = c.spec.sharingKey === undefined ? undefined : sharedAddressOwner(c.spec.address);
    const dropShared = async (): Promise<void> => {
      if (owner) await onRouter(deps, `shared address ${c.spec.address}`, () => applyOwner(deps, { uid: owner, adverts: [] }, report));
    };
    const last = holdersOf(c.spec).every((h) => h.allocationUID === uid);
    if (last) await dropShared();
    const outcome = await leaveClaim(deps.kube, c, uid);
    // the others left meanwhile (released at the same time): this one turned out the last
    if (outcome === 'freed' && !last) await dropShared();
    if (owner && (last || outcome !== 'left')) await settleSharedEntries(deps, c.spec.address, report, 'off');
    if (outcome !== 'absent') report.actions.push(`${outcome === 'freed' ? 'released' : 'left shared'} ${c.spec.address} of ${a.metadata.name} in pool ${c.spec.poolName}`);
  }
  return [...new Set(claims.map((c) => c.spec.poolName))];
}

/**
 * A holder of the shared claim of this name that stays: its allocation there and not being
 * deleted, nor its Service (whose release takes the address's entries off if it is the last).
 * Undefined when the claim is gone, no longer shared, none we can read (someone else's), or held
 * only by holders on their way out.
 */
async function stayingHolder(deps: ReleaseDeps, name: string): Promise<{ claim: IPAddressClaim; holder: IPAllocation } | undefined> {
  const claim = await readableClaim(deps.kube, name);
  if (claim?.spec.sharingKey === undefined) return undefined;
  for (const h of holdersOf(claim.spec)) {
    const a = await getAllocation(deps.kube, h.allocationName);
    if (!a || a.metadata.uid !== h.allocationUID || a.metadata.deletionTimestamp) continue;
    const named = serviceOfLabels(a.metadata.labels);
    const svc = named ? await getService(deps.kube, named.namespace, named.name) : undefined;
    if (named && !(svc && svc.metadata.uid === a.metadata.labels?.[LABEL_SERVICE_UID] && !svc.metadata.deletionTimestamp && serviceIntent(svc, deps.classes).managed)) continue;
    return { claim, holder: a };
  }
  return undefined;
}

/**
 * A shared address's own entries settled against its claim as it is now: written while a holder
 * stays (planned as every holder plans them), taken off while none does, and read again after
 * each write until what was written matches what the claim still says, as lib/core/settle.ts
 * settles a Service: a holder whose deletion shows after the last read is released after this
 * write, and its release takes them off; one that joins after it has its own program write them.
 * `known`: 'off' when this release has just taken them off (as the address's last holder), which
 * costs one read of the claim when it is gone; 'unknown' after a write that may have put them
 * back (a Service re-planned from a read in which the address was still its own).
 *
 * After this release took them off and gave the claim up, whoever holds the address now may
 * have joined between the read that made this one the last and the leave, and its program, run
 * before the removal, found the entries standing and wrote none (a holder change wakes no
 * program): its Service stayed Programmed with its address neither advertised nor in the LB
 * list until this puts them back.
 */
async function settleSharedEntries(deps: ReleaseDeps, address: string, report: ReleaseReport, known: 'off' | 'unknown'): Promise<void> {
  const parsed = parseAddress(address);
  const name = claimNameOf(address);
  const owner = sharedAddressOwner(address);
  if (!parsed.ok || name === undefined || owner === undefined) return;
  let written = known === 'off' ? false : undefined; // whether the entries stand, as far as this run knows
  let pools: IPPool[] | undefined;
  for (let round = 0; ; round++) {
    const staying = await stayingHolder(deps, name);
    if (written !== undefined && (staying !== undefined) === written) return;
    if (round === SETTLE_ROUNDS) {
      deps.log.warn('The holders of a shared address kept changing while its entries were settled; the next program or resync settles them', { address });
      return;
    }
    if (staying) {
      pools ??= (await readPools(deps.kube, deps.pools)).items;
      const entries = sharedAddressEntries(owner, { family: parsed.family, address }, staying.holder, pools, staying.claim.spec.poolName);
      const ops = await onRouter(deps, `shared address ${address}`, () => applyOwner(deps, { uid: owner, ...entries }, report));
      if (ops > 0) deps.log.info('Put back the entries of a shared address whose last holder was released while another Service joined it', { address, holder: staying.holder.metadata.name });
    } else {
      await onRouter(deps, `shared address ${address}`, () => applyOwner(deps, { uid: owner, adverts: [] }, report));
    }
    written = staying !== undefined;
  }
}

/**
 * An IPAllocation being deleted: its address off the router (if it ever had one), its claims
 * gone, then our finalizer. A router failure keeps the finalizer (retried later).
 */
export async function releaseAllocation(deps: ReleaseDeps, name: string, report: ReleaseReport, opts: { routerDone?: boolean } = {}): Promise<void> {
  const a = await getAllocation(deps.kube, name);
  if (a) await releaseRead(deps, a, report, opts.routerDone === true);
}

/** releaseAllocation from the allocation as read (and its claims, if listed). */
async function releaseRead(deps: ReleaseDeps, a: IPAllocation, report: ReleaseReport, routerDone: boolean, claims?: readonly IPAddressClaim[]): Promise<void> {
  const name = a.metadata.name;
  if (!a.metadata.deletionTimestamp || !hasFinalizer(a)) return;
  await freeAddresses(deps, a, report, { routerDone, ...(claims ? { claims } : {}) });
  await dropFinalizer(deps, 'IPAllocation', firstThen(a, () => getAllocation(deps.kube, name)), report);
  deps.log.info('Released an allocation', { allocation: name, address: a.status?.address });
}

/**
 * Allocations being deleted, each released as releaseAllocation releases it, but for those
 * whose Service label names an owner in `gone` (proven gone for good: see collectOrphans): each
 * read, then their claims found in one list of every claim (claimsOfEach), then the entries of
 * the owners of those that hold anything go together, from one read of the router taken after
 * all that (dropOwners), then their claims and finalizers, as the release of one does. One list
 * and one read instead of one of each per allocation.
 */
export async function releaseAllocations(deps: ReleaseDeps, names: readonly string[], report: ReleaseReport, gone: ReadonlySet<string>, attempt: Attempt = (work) => work()): Promise<void> {
  const read: IPAllocation[] = [];
  for (const name of names) {
    await attempt(async () => {
      const a = await getAllocation(deps.kube, name);
      const uid = a?.metadata.labels?.[LABEL_SERVICE_UID];
      if (!a?.metadata.deletionTimestamp || !hasFinalizer(a)) return;
      if (uid === undefined || !gone.has(uid)) return releaseRead(deps, a, report, false);
      read.push(a);
    });
  }
  const batched: { a: IPAllocation; claims: IPAddressClaim[] }[] = [];
  const owners = new Set<string>();
  let dropped = false;
  await attempt(async () => {
    // their claims from one list (not one per allocation), taken after every one of them was read
    const claims = await claimsOfEach(deps, read);
    for (const [i, a] of read.entries()) {
      batched.push({ a, claims: claims[i] ?? [] });
      if (holdsAnything(a, claims[i] ?? [])) owners.add(a.metadata.labels?.[LABEL_SERVICE_UID] ?? '');
    }
    await onRouter(deps, `entries of ${owners.size} gone owner(s)`, () => dropOwners(deps, [...owners], report));
    dropped = true;
  });
  // their entries may stand: their claims stay (the next run releases them)
  if (dropped) for (const { a, claims } of batched) await attempt(() => releaseRead(deps, a, report, true, claims));
}

/** Runs one object's work; the caller decides whether its failure stops the rest (the resync goes on, and fails at the end). */
export type Attempt = (work: () => Promise<void>) => Promise<void>;

/** Whether the allocation may have entries on the router: an address held now, or left since program last ran (formerAddresses). */
const holdsAnything = (a: IPAllocation, claims: readonly IPAddressClaim[]): boolean =>
  Boolean(a.status?.address) || claims.length > 0 || (a.status?.formerAddresses ?? []).length > 0;

/**
 * An allocation of a Service being deleted (its router entries already gone with the
 * Service's): its claims go, then the allocation, finalizer first, as listed, so it is deleted
 * at once rather than through a deletion pending on our finalizer (whose update would wake
 * release again). A claim made for it meanwhile (by an allocate run that read the Service
 * before its deletion) is freed by that run, which reads the Service again after claiming
 * (functions/allocate/service.ts). Until it is gone the Service keeps its own finalizer, so
 * a run that stops half-way is finished by the next.
 */
export async function releaseWithService(deps: ReleaseDeps, a: IPAllocation, claims: readonly IPAddressClaim[], report: ReleaseReport): Promise<void> {
  await freeAddresses(deps, a, report, { routerDone: true, claims });
  await dropFinalizer(deps, 'IPAllocation', firstThen(a, () => getAllocation(deps.kube, a.metadata.name)), report);
  await deps.kube.remove('IPAllocation', a.metadata.name, undefined, { uid: a.metadata.uid });
  deps.log.info('Released an allocation', { allocation: a.metadata.name, address: a.status?.address });
}

/** The allocation's address off the router (unless that is done) and its claims freed. */
async function freeAddresses(deps: ReleaseDeps, a: IPAllocation, report: ReleaseReport, opts: { routerDone: boolean; claims?: readonly IPAddressClaim[] }): Promise<void> {
  const name = a.metadata.name;
  if (a.status?.address && !parseAddress(a.status.address).ok) {
    deps.log.warn('Releasing an allocation whose status address is malformed', { allocation: name, address: a.status.address });
    await deps.kube.recordEvent({ regarding: { kind: 'IPAllocation', name, uid: a.metadata.uid }, type: 'Warning', reason: 'AddressInvalid', note: `Status address "${a.status.address}" is not a valid IP address; releasing by uid.`, action: 'Release' });
  }
  const claims = opts.claims ?? await claimsOf(deps, a);
  // nothing held now, nor left since program last ran (formerAddresses: their entries may stand)
  if (!holdsAnything(a, claims)) return;
  if (!opts.routerDone) await releaseOnRouter(deps, a, report);
  const pools = await releaseClaims(deps, a, claims, report);
  // looked at once the run's releases are done (releaseFreedPools)
  for (const p of pools) report.freedPools.set(p, (report.freedPools.get(p) ?? new Set()).add(a.metadata.uid ?? ''));
}

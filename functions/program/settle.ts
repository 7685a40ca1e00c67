import { advertisementWants, serviceProgram, type ClaimPools } from '../../lib/core/program-model.js';
import { menusToRead, ownersOf, partitionState, programOwner, type OwnerProgram } from '../../lib/core/router-program.js';
import { serviceIntent, type ServiceIntent } from '../../lib/core/service.js';
import type { EndpointSlice, Service } from '../../lib/k8s/core-objects.js';
import { type IPAllocation, type IPPool } from '../../lib/k8s/schemas.js';
import { allocationsOfService } from '../../lib/k8s/keys.js';
import { getAllocation, getService, listAllocations } from '../../lib/k8s/typed.js';
import { claimNameOf, readableClaim, sharedAddressesOf } from '../../lib/k8s/claims.js';
import { holdersOf, sharedAddressOwner, sharingKeyOf } from '../../lib/core/sharing.js';
import type { ProgramHolder } from './shared.js';
import { settleWrites, stillHolding, type SettleSteps } from '../../lib/core/settle.js';
import { DEFAULT_CLUSTER } from '../../lib/router/index.js';
import type { RouterEntry } from '../../lib/router/state.js';
import { RouterUnavailableError, type ProgramDeps, type ProgramReport } from './deps.js';
import { messageOf } from '../../lib/errors.js';

/**
 * Closing the program/release race. program reads the cluster, then writes the router; release
 * may run to completion in between (router entries removed, addresses freed, finalizers gone),
 * and program's write would then put a released owner's entries back. Release only acts on what
 * the API server already shows as deleted (or no longer managed) before it reads the router, so
 * whatever program wrote either was there for release to remove, or landed after that deletion
 * became visible: reading the cluster again after the write, and taking away what it no longer
 * wants, ends every interleaving with no entry of a released owner.
 */

const clusterOf = (deps: ProgramDeps): string => deps.classes.clusterName ?? DEFAULT_CLUSTER;

/** The owner's entries (this cluster's), read from whole menus: an entry the narrowed read would miss goes too. */
async function wholeOwnerState(deps: ProgramDeps, p: OwnerProgram): Promise<Record<string, RouterEntry[]>> {
  return partitionState(await deps.router.readMany(menusToRead()), clusterOf(deps))(p.uid, ownersOf(p));
}

const RELEASED = 'Took back router entries released while program wrote them';

async function reapply(deps: ProgramDeps, p: OwnerProgram, why: string, report: ProgramReport, msg = RELEASED): Promise<void> {
  let ops;
  try {
    ({ ops } = await programOwner(deps.router, { ...p, cluster: clusterOf(deps) }, { read: () => wholeOwnerState(deps, p) }));
  } catch (e) {
    const doing = p.service ? `Programming ${p.uid} again` : `Removing the router entries of ${p.uid}`;
    throw new RouterUnavailableError(`${doing} (${why}) failed: ${messageOf(e)}`);
  }
  report.routerOps += ops.length;
  if (ops.length > 0) report.actions.push(`router: ${ops.length} change(s) for ${p.uid} (${why})`);
  deps.log.info(msg, { owner: p.uid, why, ops: ops.length });
}

/**
 * Whether every allocation of `planned` that `now` does not hold as planned is still there with
 * no address recorded: the hand-off's, whose status allocate writes after program (see
 * programHandoff), none of them released.
 */
function onlyUnrecorded(planned: readonly IPAllocation[], now: readonly IPAllocation[]): boolean {
  const current = new Map(now.map((a) => [a.metadata.uid ?? '', a]));
  return planned.filter((a) => !stillHolding([a], now)).every((a) => {
    const c = current.get(a.metadata.uid ?? '');
    return c !== undefined && !c.metadata.deletionTimestamp && c.status?.address === undefined;
  });
}

/**
 * The shared addresses a released Service held whose claim is gone now (by their owners): release
 * took their entries off before the claim went, so what program wrote since is taken off here.
 * A claim we cannot read in its place (readClaim) is someone else's: the address is freed of ours.
 */
async function freedSharedAddresses(deps: ProgramDeps, svc: Service, live: readonly IPAllocation[]): Promise<Map<string, string>> {
  if (sharingKeyOf(svc) === undefined) return new Map();
  const freed = await Promise.all(live.map(async (a) => {
    const address = a.status?.address;
    const name = address ? claimNameOf(address) : undefined;
    const owner = address ? sharedAddressOwner(address) : undefined;
    return address && name && owner && !(await readableClaim(deps.kube, name)) ? [[owner, address] as const] : [];
  }));
  return new Map(freed.flat());
}

/**
 * After the entries of freed shared addresses were taken off: another Service (of the key, which
 * tries the key's address first) may have claimed one between the read that found it freed and
 * the removal, its program having found the entries standing and written none. Whoever shares
 * such an address now is programmed (one read of the claim per address).
 */
async function programNewSharers(deps: ProgramDeps, addresses: Iterable<string>, programHolder: ProgramHolder): Promise<void> {
  for (const address of addresses) {
    const claim = await readableClaim(deps.kube, claimNameOf(address) ?? '');
    if (claim?.spec.sharingKey !== undefined) for (const h of holdersOf(claim.spec)) await programHolder(h.allocationName);
  }
}

export interface ServiceRead {
  live: IPAllocation[];
  slices: readonly EndpointSlice[];
  pools: readonly IPPool[];
  /** The addresses of `live` whose claim is shared (see sharedAddressesOf). */
  shared: ReadonlySet<string>;
  /** The pools the claims of `live`'s addresses no pool keeps now were made from (see advertisementWants). */
  claimPools: ClaimPools;
}

/** What settleService found: the allocations whose status program may still write, and the Service as last read. */
export interface SettledService {
  live: IPAllocation[];
  svc: Service;
}

/**
 * After program wrote the router for a Service: the Service read again, and if it is gone,
 * deleting, re-created or no longer ours, every entry of its uid is removed (undefined: write
 * no status); if an allocation it programmed was released meanwhile, the Service is programmed
 * again without it, and read again after that write too, until a write was planned from what
 * the cluster still says after it.
 */
export async function settleService(deps: ProgramDeps, before: Service, read: ServiceRead, report: ProgramReport, programHolder: ProgramHolder): Promise<SettledService | undefined> {
  const uid = before.metadata.uid ?? '';
  let latest = before;
  let last = read.live; // what the last write was planned with
  const steps: SettleSteps<{ svc: Service; intent: ServiceIntent }> = {
    owner: async () => {
      const svc = await getService(deps.kube, before.metadata.namespace ?? 'default', before.metadata.name);
      const intent = svc && svc.metadata.uid === uid && !svc.metadata.deletionTimestamp ? serviceIntent(svc, deps.classes) : undefined;
      if (!svc || !intent?.managed) return undefined;
      latest = svc;
      return { svc, intent };
    },
    allocations: async () => (await listAllocations(deps.kube, allocationsOfService(uid))).items.filter((a) => !a.metadata.deletionTimestamp),
    write: async ({ svc, intent }, planned) => {
      // the hand-off's addresses whose statuses were not written (a router failure, a write that
      // met a change) go from the router until program runs on the statuses allocate writes:
      // nothing was released then, and the log says so
      const [why, msg] = onlyUnrecorded(last, planned) ? ['their statuses are not written yet', 'Took back router entries of addresses not recorded yet'] : ['an allocation was released', RELEASED];
      last = planned;
      // which addresses are shared, read again (no read without a sharing key): `planned` may
      // hold an allocation recorded since the first read (settleWrites), whose claim it did not see
      const shared = await sharedAddressesOf(deps.kube, svc, planned);
      await reapply(deps, { uid, service: serviceProgram(svc, intent, planned, read.slices, shared), adverts: advertisementWants(planned, read.pools, read.claimPools) }, why, report, msg);
    },
    gone: async (planned) => {
      // every allocation a write of this run planned with, once each. The freed shared addresses
      // are found first and everything this run wrote goes in one round of writes: nobody else
      // hears of these entries, so a process killed between two such writes left the second
      // to the resync's garbage collection (chaos, seed 1405980348)
      const written = [...new Map([...read.live, ...planned].map((a) => [a.metadata.uid ?? '', a])).values()];
      const freed = await freedSharedAddresses(deps, before, written);
      await Promise.all([
        reapply(deps, { uid, adverts: [] }, 'its Service was released', report),
        ...[...freed.keys()].map((owner) => reapply(deps, { uid: owner, adverts: [] }, 'its shared address was freed', report)),
      ]);
      await programNewSharers(deps, freed.values(), programHolder);
    },
  };
  const settled = await settleWrites(steps, read.live);
  if (settled.kind === 'gone') return undefined;
  if (settled.kind === 'unsettled') deps.log.warn('A Service\'s allocations kept changing while program settled its router entries; the next program or resync settles them', { owner: uid });
  // statuses only for allocations that kept their address
  return { live: read.live.filter((a) => stillHolding([a], settled.allocations)), svc: latest };
}

/** The same for an operator reservation: gone or deleting means its advertisement goes. */
export async function settleReservation(deps: ProgramDeps, before: IPAllocation, report: ProgramReport): Promise<boolean> {
  const a = await getAllocation(deps.kube, before.metadata.name);
  if (a && a.metadata.uid === before.metadata.uid && !a.metadata.deletionTimestamp) return true;
  await reapply(deps, { uid: before.metadata.uid ?? '', adverts: [] }, 'the reservation was released', report);
  return false;
}

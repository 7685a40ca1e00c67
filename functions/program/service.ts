import { addressesOutsidePools, advertisementWants, ignoredPortsNote, serviceProgram, unusableEndpoints, type ClaimPools } from '../../lib/core/program-model.js';
import { ingressFor, ingressToWrite, serviceCondition } from '../../lib/core/program-status.js';
import { setConditions } from '../../lib/core/conditions.js';
import { deepEqualJson } from '../../lib/core/equal.js';
import { matchAllocations, nothingValidNote, optionalFamily, serviceIntent, type ServiceIntent } from '../../lib/core/service.js';
import { formatAddress, parseAddress } from '../../lib/ip/index.js';
import { retryOnConflict } from '../../lib/k8s/conflict.js';
import type { EndpointSlice, Service } from '../../lib/k8s/core-objects.js';
import type { IPAllocation, IPPool } from '../../lib/k8s/schemas.js';
import { allocationsOfService, serviceOfLabels } from '../../lib/k8s/keys.js';
import { dropStaleSharedEntries, dropUnsharedEntries } from './shared.js';
import { claimPoolsOf, sharedAddressesOf } from '../../lib/k8s/claims.js';
import { readPools, readSlicesOf } from '../../lib/k8s/mirror.js';
import { getAllocation, getService, listAllocations } from '../../lib/k8s/typed.js';
import type { RouterEntry } from '../../lib/router/state.js';
import { RouterUnavailableError, type ProgramDeps, type ProgramReport } from './deps.js';
import type { Handed } from '../allocate/deps.js';
import { ownersOf, programOwner, routerFailure, type OwnerProgram } from '../../lib/core/router-program.js';
import { settleReservation, settleService, type ServiceRead, type SettledService } from './settle.js';
import { SETTLE_ROUNDS } from '../../lib/core/settle.js';
import { DEFAULT_CLUSTER, type FamilyAddress } from '../../lib/router/index.js';
import { recordAllocatedEvent, recordEvent, statusAfterRun, writeOutcomes } from './statuses.js';
import { decisionUnrecorded, outcomeChanged, statusChanged, type RouterOutcome } from '../../lib/core/allocation-status.js';
import { isConflict, isNotFound } from '../../lib/k8s/errors.js';
import { messageOf } from '../../lib/errors.js';
import { inBackground } from '../../lib/events/background.js';

/**
 * The whole router as a resync read it once: every Service is planned against it (so entries a
 * narrowed read would miss are found too). The resync reads it again after an owner reports
 * that the router may have changed.
 */
export interface RouterView {
  /** The state as one owner sees it (see partitionState). */
  entries: (uid: string, also?: readonly string[]) => Record<string, RouterEntry[]>;
}

/**
 * Talks to the router. A failure becomes a BackendError outcome for every advertisement, but for
 * the router refusing the advertisement of one address (see programOwner): that allocation alone
 * gets it, the others are programmed; either way `error` says the run failed (retried later).
 */
async function applyToRouter(deps: ProgramDeps, p: OwnerProgram, report: ProgramReport, state?: RouterView): Promise<{ outcomes: Map<string, RouterOutcome>; error?: string; wrote: boolean; added: boolean }> {
  try {
    const owner = { ...p, cluster: deps.classes.clusterName ?? DEFAULT_CLUSTER };
    // rules another cluster wrote for this Service would take its traffic: it is not programmed (twinEntry)
    const { ops, outcomes, refused } = await programOwner(deps.router, owner, { refuseTwins: true, ...(state ? { state: state.entries(p.uid, ownersOf(p)) } : {}) });
    report.routerOps += ops.length;
    if (ops.length) report.actions.push(`router: ${ops.length} change(s) for ${p.uid}`);
    return { outcomes, ...(refused === undefined ? {} : { error: refused }), wrote: ops.length > 0, added: ops.some((op) => op.op === 'add') };
  } catch (e) {
    // part of the plan may have landed: `wrote` says the router may have changed
    const message = routerFailure(e);
    return { outcomes: new Map(p.adverts.filter((w) => w.advertise).map((w) => [w.allocation.metadata.name, { kind: 'failed', message }])), error: message, wrote: true, added: true };
  }
}

/** One Warning event per invocation naming the slice addresses that are never NAT targets. */
async function warnUnusableEndpoints(deps: ProgramDeps, svc: Service, slices: readonly EndpointSlice[], report: ProgramReport): Promise<void> {
  const skipped = unusableEndpoints(slices);
  if (skipped.length === 0) return;
  const shown = skipped.slice(0, 10).map((s) => `${s.address} (${s.kind})`).join(', ');
  const note = `Skipped ${skipped.length} endpoint address(es) that cannot be load-balancing targets: ${shown}${skipped.length > 10 ? ', …' : ''}.`;
  const namespace = svc.metadata.namespace ?? 'default';
  deps.log.warn('Skipped unusable endpoint addresses', { service: `${namespace}/${svc.metadata.name}`, addresses: skipped.map((s) => s.address) });
  await deps.kube.recordEvent({ regarding: { kind: 'Service', name: svc.metadata.name, namespace, uid: svc.metadata.uid }, type: 'Warning', reason: 'EndpointsSkipped', note, action: 'Program' });
  report.actions.push(`skipped endpoints ${skipped.map((s) => s.address).join(', ')}`);
}

/**
 * One Warning event per invocation naming the Service's SCTP ports, which nothing forwards (its
 * condition still says Ready). Only for a Service whose address MikroLB forwards (`lbEnabled`):
 * a SNAT-only Service, or one with load balancing switched off, has no port MikroLB forwards,
 * so its SCTP ports lose nothing (the condition names them only then too).
 */
async function warnIgnoredPorts(deps: ProgramDeps, svc: Service, lbEnabled: boolean, report: ProgramReport): Promise<void> {
  const note = lbEnabled ? ignoredPortsNote(svc) : undefined;
  if (note === undefined) return;
  const namespace = svc.metadata.namespace ?? 'default';
  await deps.kube.recordEvent({ regarding: { kind: 'Service', name: svc.metadata.name, namespace, uid: svc.metadata.uid }, type: 'Warning', reason: 'SCTPPortsIgnored', note, action: 'Program' });
  report.actions.push('ignored SCTP ports');
}

/** Whether program writes `status.loadBalancer.ingress`: not for a SNAT-only Service, whose ingress is not ours. */
type IngressWant = { publish: false } | { publish: true; lbEnabled: boolean };

/** The Service's next status (ingress and our condition), or undefined when it would not change. */
function serviceStatusNext(deps: ProgramDeps, svc: Service, lbAllocations: readonly IPAllocation[], all: readonly IPAllocation[], want: IngressWant, routerError: string | undefined): Service['status'] | undefined {
  const current = svc.status?.loadBalancer?.ingress ?? [];
  const published = new Set(current.flatMap((i) => i.ip ? [i.ip] : []));
  const ingress = !want.publish ? current : ingressToWrite(current, want.lbEnabled ? ingressFor([...lbAllocations], svc.spec.ipFamilies ?? [], published) : []);
  const condition = serviceCondition([...all], {
    ...(routerError ? { routerError } : {}),
    ...(all.length === 0 ? { nothingValid: nothingValidNote(serviceIntent(svc, deps.classes)) } : {}),
    lbDisabled: want.publish && !want.lbEnabled,
    optionalFamily: optionalFamily(svc),
    // a SNAT-only Service forwards nothing through MikroLB anyway (its SNAT is not per port)
    ...(want.publish && want.lbEnabled ? { ignoredPorts: ignoredPortsNote(svc) } : {}),
  });
  const conditions = setConditions(svc.status?.conditions, [condition], svc.metadata.generation, deps.now());
  if (deepEqualJson({ i: current, c: svc.status?.conditions ?? [] }, { i: ingress, c: conditions })) return undefined;
  return { ...svc.status, ...(want.publish ? { loadBalancer: { ...svc.status?.loadBalancer, ingress } } : {}), conditions };
}

const ingressText = (status: Service['status']): string => (status?.loadBalancer?.ingress ?? []).map((i) => i.ip).join(', ') || 'none';

/**
 * The Service's status from its allocations' statuses. After a conflict both are read again:
 * the writer that changed the Service may be a concurrent run that recorded an address these
 * allocations (read before it) do not show yet — its ingress must not be taken back.
 */
async function writeServiceStatus(deps: ProgramDeps, first: Service, allocations: IPAllocation[], plan: StatusPlan, report: ProgramReport): Promise<void> {
  await retryOnConflict(`updating Service ${first.metadata.name}`, deps.retry, async (attempt) => {
    const svc = attempt === 1 ? first : await getService(deps.kube, first.metadata.namespace ?? 'default', first.metadata.name);
    if (!svc?.metadata.uid || svc.metadata.uid !== first.metadata.uid) return;
    // being deleted, or no longer ours (made a ClusterIP Service, say) since it was read: its
    // status is release's to clear (the API server refuses an ingress on a ClusterIP Service)
    const intent = serviceIntent(svc, deps.classes);
    if (svc.metadata.deletionTimestamp || !intent.managed) return;
    // still ours but no longer a LoadBalancer (a SNAT-only Service now): the API server dropped
    // its ingress and refuses one; what else changed, the run that change woke publishes
    const want: IngressWant = intent.loadBalancer ? plan.want : { publish: false };
    const all = attempt === 1 ? allocations : (await listAllocations(deps.kube, allocationsOfService(svc.metadata.uid))).items.filter((a) => !a.metadata.deletionTimestamp);
    const next = serviceStatusNext(deps, svc, all.filter((a) => plan.lbNames.has(a.metadata.name)), all, want, plan.routerError);
    if (!next) return;
    try {
      await deps.kube.replaceStatus('Service', { ...svc, status: next });
    } catch (e) {
      if (isNotFound(e)) return; // deleted and gone since it was read: no status to write
      throw e;
    }
    report.actions.push(`Service ${svc.metadata.namespace}/${svc.metadata.name}: ingress ${ingressText(next)}`);
  });
}

/** What program writes into the statuses after the router: the router's outcomes, and how the Service's ingress is published. */
interface StatusPlan {
  outcomes: ReadonlyMap<string, RouterOutcome>;
  /** The allocations whose addresses are the Service's ingress. */
  lbNames: ReadonlySet<string>;
  want: IngressWant;
  routerError: string | undefined;
  /** Former addresses of the allocations whose entries this run took off (none after a router failure). */
  cleared: ReadonlySet<string>;
}

/**
 * The hand-off's allocations (statuses unwritten, so every write changes them), each with its
 * pool: the writes record their `IPAllocated` events, naming them in `announced`.
 */
interface Announcing {
  pools: ReadonlyMap<string, string>;
  announced: Set<string>;
}

async function writeStatuses(deps: ProgramDeps, svc: Service, allocations: readonly IPAllocation[], plan: StatusPlan, report: ProgramReport): Promise<void> {
  const written = await writeOutcomes(deps, allocations, plan.outcomes, report, plan.cleared);
  await writeServiceStatus(deps, svc, written, plan, report);
}

/**
 * After a router write, the statuses written with the resourceVersions program read before it:
 * when every allocation it programmed and the Service take their write unchanged, none of them
 * was deleted, released or changed between that read and now, so release cannot have taken
 * the router entries away meanwhile, and the re-read that settleService makes is not needed
 * (two requests fewer for every Service programmed). False — as soon as one write meets a
 * changed or missing object, or one status would not change (nothing to carry the
 * precondition) — sends the caller the long way: settle, then write what is left. A write
 * made here before that is valid regardless: its object had not changed.
 */
async function writeProven(deps: ProgramDeps, svc: Service, live: readonly IPAllocation[], plan: StatusPlan, report: ProgramReport, opts: { handed?: Announcing } = {}): Promise<boolean> {
  const nexts: IPAllocation[] = [];
  const before = new Map(live.map((a) => [a.metadata.name, a.status]));
  for (const a of live) {
    const outcome = plan.outcomes.get(a.metadata.name);
    const status = outcome ? statusAfterRun(a, outcome, plan.cleared, deps.now()) : undefined;
    // (statuses allocate handed over unwritten always change: the API server has none yet)
    if (!outcome || !status || (!opts.handed && !statusChanged(a.status, status))) return false;
    nexts.push({ ...a, status });
  }
  const svcStatus = serviceStatusNext(deps, svc, nexts.filter((a) => plan.lbNames.has(a.metadata.name)), nexts, plan.want, plan.routerError);
  if (!svcStatus) return false;
  const unchanged = async (write: () => Promise<unknown>): Promise<boolean> => {
    try {
      await write();
      return true;
    } catch (e) {
      if (isConflict(e) || isNotFound(e)) return false;
      throw e;
    }
  };
  // Written together: each write carries its own precondition, so all of them taking proves
  // what writing them one after another did (nothing changed since the read), and the ingress
  // does not wait for the allocations' writes. When one meets a change the caller settles and
  // writes what differs (an ingress written here included: its write then meets our own).
  const written: IPAllocation[] = [];
  const writes = await Promise.allSettled([
    ...nexts.map(async (a) => {
      if (!(await unchanged(() => deps.kube.replaceStatus('IPAllocation', a)))) return false;
      written.push(a);
      report.actions.push(`${a.metadata.name}: ${plan.outcomes.get(a.metadata.name)?.kind ?? ''}`);
      return true;
    }),
    (async () => {
      if (!(await unchanged(() => deps.kube.replaceStatus('Service', { ...svc, status: svcStatus })))) return false;
      report.actions.push(`Service ${svc.metadata.namespace}/${svc.metadata.name}: ingress ${ingressText(svcStatus)}`);
      return true;
    })(),
  ]);
  // the events after the writes: the ingress need not share the API server with them
  await Promise.all(written.map((a) => {
    const outcome = plan.outcomes.get(a.metadata.name);
    const pool = opts.handed?.pools.get(a.metadata.name);
    if (!outcome) return undefined;
    if (pool === undefined) return outcomeChanged(before.get(a.metadata.name), a.status) ? inBackground(recordEvent(deps, a, outcome)) : undefined;
    opts.handed?.announced.add(a.metadata.name);
    return inBackground(recordAllocatedEvent(deps, a, pool, outcome));
  }));
  const failed = writes.find((w) => w.status === 'rejected');
  if (failed) throw failed.reason;
  return writes.every((w) => w.status === 'fulfilled' && w.value);
}

/**
 * Makes the router carry a Service's rules and its addresses' advertisements, then writes
 * what happened into the allocations' and the Service's status. Resolves with whether the
 * router may have changed (a router failure is thrown after the statuses are written).
 */
export async function programService(deps: ProgramDeps, namespace: string, name: string, report: ProgramReport, state?: RouterView, round = 0): Promise<boolean> {
  const svc = await getService(deps.kube, namespace, name);
  if (!svc?.metadata.uid || svc.metadata.deletionTimestamp) return false;
  const intent = serviceIntent(svc, deps.classes);
  if (!intent.managed) return false;
  const [allocations, slices, pools] = await Promise.all([
    listAllocations(deps.kube, allocationsOfService(svc.metadata.uid)),
    readSlicesOf(deps.kube, deps.slices, namespace, name),
    readPools(deps.kube, deps.pools),
  ]);
  const live = allocations.items.filter((a) => !a.metadata.deletionTimestamp);
  const recording = live.find(decisionUnrecorded);
  if (recording) {
    report.actions.push(`${recording.metadata.name}: allocate has not recorded its decision yet (its status write programs the Service)`);
    return false;
  }
  const [shared, claimPools] = await Promise.all([sharedAddressesOf(deps.kube, svc, live), claimPoolsOf(deps.kube, addressesOutsidePools(live, pools.items))]);
  const read: ServiceRead = { live, slices, pools: pools.items, shared, claimPools };
  const { error, wrote, added, plan, owner } = await programRead(deps, svc, intent, read, report, state);
  let after: Service | undefined; // the Service as read after the router write, unless its status write proved it unchanged
  let kept = true; // every allocation programmed is still held (else settle planned the Service again, from whole menus)
  if (!wrote || !(await provenOrSettled(deps, svc, read, plan, owner, report))) {
    const settled = wrote ? await settleAfterWrite(deps, svc, read, owner, report) : { live: read.live, svc };
    if (!settled) return true; // released meanwhile: its entries are gone again, and there is no status to write
    after = settled.svc;
    kept = settled.live.length === read.live.length;
    await writeStatuses(deps, svc, settled.live, plan, report);
  }
  if (error) {
    const held = read.live.flatMap((a) => (a.status?.address ? [a.status.address] : []));
    await dropStaleSharedEntries(deps, held, report, (holder) => programAllocation(deps, holder, report));
    throw new RouterUnavailableError(error);
  }
  if (!wrote || round >= SETTLE_ROUNDS) return wrote;
  // Not proven by the status writes: another run may have written the router meanwhile, from
  // the same read (two bridges, Knative instances, a duplicated event), adding the same rules
  // twice; planned once more from a fresh read of the router, the doubles go, and what that
  // wrote is checked as any write. Only a write that added entries can leave one doubled: two
  // runs that set or move the same entries, or remove them, from one read end with each entry
  // once (the usual endpoint change sets a rule's targets). (Not when settle planned the
  // Service again without a released allocation: it read whole menus after this write, and
  // planning from this run's read would put the address back.) That write is planned from this
  // run's read of the cluster too, so it settles as the first did: a release that read the
  // router before it would leave what it put back (chaos, seed 8675309).
  let again = await inputsMoved(deps, svc, read, after);
  if (!again && after && kept && added && (await applyToRouter(deps, owner, report)).wrote) {
    if (!(await settleAfterWrite(deps, svc, read, owner, report))) return true; // released meanwhile: its entries are gone again
    again = 'the router changed beside this write';
  }
  if (again) {
    report.actions.push(`${again}: program runs again`);
    await programService(deps, namespace, name, report, undefined, round + 1);
  }
  return wrote;
}

/**
 * writeProven after a router write; when a status write fails outright (the API server
 * unavailable or timing out), the write is still settled before the failure is reported: the
 * retried invocation finds a Service released meanwhile gone, and without its uid could not
 * take back what this write put there (chaos, seed 31337: the rules of a released Service stood
 * until the resync).
 */
async function provenOrSettled(deps: ProgramDeps, svc: Service, read: ServiceRead, plan: StatusPlan, owner: OwnerProgram, report: ProgramReport): Promise<boolean> {
  try {
    return await writeProven(deps, svc, read.live, plan, report);
  } catch (e) {
    await settleAfterWrite(deps, svc, read, owner, report).catch((settling: unknown) => {
      deps.log.debug('Settling a router write after a failed status write failed too', { service: `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`, error: messageOf(settling) });
    });
    throw e;
  }
}

/**
 * settleService after a write planned from `read`; and a shared address released while it
 * wrote: its own entries, which the write may have put back after its last holder took them
 * off, go unless it is still shared.
 */
async function settleAfterWrite(deps: ProgramDeps, svc: Service, read: ServiceRead, owner: OwnerProgram, report: ProgramReport): Promise<SettledService | undefined> {
  const settled = await settleService(deps, svc, read, report, (holder) => programAllocation(deps, holder, report));
  if (!settled || settled.live.length === read.live.length || !owner.service?.addressOwners) return settled;
  const released = read.live.filter((a) => !settled.live.includes(a)).flatMap((a) => (a.status?.address ? [a.status.address] : []));
  for (const address of released) await dropUnsharedEntries(deps, address, report, (holder) => programAllocation(deps, holder, report));
  return settled;
}

/**
 * Whether an operator reservation has anything on the router to program: the address it holds,
 * or addresses it left (given back as Failed, or moved from) whose advertisement may still stand.
 */
export const reservationOnRouter = (a: IPAllocation): boolean => a.status?.address !== undefined || (a.status?.formerAddresses ?? []).length > 0;

/** Programs an allocation: its Service's, or an operator reservation's own advertisement. */
export async function programAllocation(deps: ProgramDeps, name: string, report: ProgramReport): Promise<void> {
  const a = await getAllocation(deps.kube, name);
  if (!a || a.metadata.deletionTimestamp) return;
  const svc = serviceOfLabels(a.metadata.labels);
  if (svc) await programService(deps, svc.namespace, svc.name, report);
  else if (reservationOnRouter(a)) await programReservation(deps, a, report);
}

/**
 * Closing the race of two program runs for one Service (two bridges, Knative instances, a
 * duplicated event): each plans the router from what it read, and a run that read before the
 * Service, its slices or its pools changed can write after the run that read the change — its
 * entries would then stand until a resync. So after a router write, program checks whether what
 * it planned from still holds: the Service's spec and annotations (`after`: as settle read it
 * after the write; undefined when the status writes, each carrying the Service's
 * resourceVersion, proved it unchanged), its slices, how its pools advertise its addresses, and
 * which of its addresses are shared (for a Service with a sharing key: a claim that became
 * shared meanwhile wakes program for its holders, which skips a Service allocate is still
 * recording — the hand-off's — see decisionUnrecorded). If not, it runs again: a run that
 * read the change either wrote before this one's write (and this one's second run puts it
 * back) or wrote after it. (Its allocations: settle.)
 */
async function inputsMoved(deps: ProgramDeps, svc: Service, read: ServiceRead, after: Service | undefined): Promise<string | undefined> {
  // its spec itself, not its generation: the API server gives a Service none
  if (after && (!deepEqualJson(after.spec, svc.spec) || !deepEqualJson(after.metadata.annotations ?? {}, svc.metadata.annotations ?? {}))) return 'the Service changed while programming';
  const [slices, pools, shared] = await Promise.all([
    readSlicesOf(deps.kube, deps.slices, svc.metadata.namespace ?? 'default', svc.metadata.name),
    readPools(deps.kube, deps.pools),
    sharedAddressesOf(deps.kube, svc, read.live),
  ]);
  if (sliceVersions(slices) !== sliceVersions(read.slices)) return 'its slices changed while programming';
  if ([...shared].sort().join() !== [...read.shared].sort().join()) return 'the sharing of its addresses changed while programming';
  const claimPools = await claimPoolsOf(deps.kube, addressesOutsidePools(read.live, pools.items));
  return advertising(read.live, pools.items, claimPools) === advertising(read.live, read.pools, read.claimPools) ? undefined : 'its pools changed while programming';
}

/** How the allocations' addresses are advertised, as their pools say: what program takes from the pools. */
const advertising = (live: readonly IPAllocation[], pools: readonly IPPool[], claimPools: ClaimPools): string =>
  JSON.stringify(advertisementWants(live, pools, claimPools).map((w) => [w.address, w.advertise, w.interfaceName ?? '', w.pool ?? '']));

/**
 * The addresses the Service may still carry entries for that none of its allocations holds
 * now (see OwnerProgram.formerAddresses): those it last published (its ingress, written by
 * program after the router carried them) and those its allocations left when allocate moved
 * them (their `formerAddresses`: a run that failed half-way published nothing, yet may have
 * written some of the address's entries).
 */
function formerAddressesOf(svc: Service | undefined, live: readonly IPAllocation[], current: readonly FamilyAddress[]): FamilyAddress[] {
  const held = new Set(current.map((a) => a.address));
  const named = [...(svc?.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip === undefined ? [] : [i.ip])), ...live.flatMap((a) => a.status?.formerAddresses ?? [])];
  const out = new Map<string, FamilyAddress>();
  for (const ip of named) {
    const p = parseAddress(ip);
    if (!p.ok) continue;
    const address = formatAddress(p.family, p.value);
    if (!held.has(address)) out.set(address, { family: p.family, address });
  }
  return [...out.values()];
}

/** The allocations' former addresses a run that wrote without a router failure took off (or finds held again). */
function clearedBy(live: readonly IPAllocation[], error: string | undefined): Set<string> {
  return new Set(error ? [] : live.flatMap((a) => a.status?.formerAddresses ?? []));
}

/** The router made to carry what the Service and its allocations ask for, and the statuses that follow. */
async function programRead(deps: ProgramDeps, svc: Service, intent: ServiceIntent, read: ServiceRead, report: ProgramReport, state?: RouterView): Promise<{ error: string | undefined; wrote: boolean; added: boolean; plan: StatusPlan; owner: OwnerProgram }> {
  const model = serviceProgram(svc, intent, read.live, read.slices, read.shared);
  await warnUnusableEndpoints(deps, svc, read.slices, report);
  await warnIgnoredPorts(deps, svc, model.lbEnabled, report);
  const adverts = advertisementWants(read.live, read.pools, read.claimPools);
  const formerAddresses = formerAddressesOf(svc, read.live, [...model.lbAddresses, ...model.snatAddresses, ...adverts]);
  const owner: OwnerProgram = { uid: svc.metadata.uid ?? '', service: model, adverts, ...(formerAddresses.length > 0 ? { formerAddresses } : {}) };
  const { outcomes, error, wrote, added } = await applyToRouter(deps, owner, report, state);
  const plan: StatusPlan = {
    outcomes,
    lbNames: new Set([...matchAllocations(intent, read.live).matched].filter(([, d]) => d.roles.lb).map(([name]) => name)),
    want: intent.loadBalancer ? { publish: true, lbEnabled: model.lbEnabled } : { publish: false },
    routerError: error,
    cleared: clearedBy(read.live, error),
  };
  return { error, wrote, added, plan, owner };
}

/**
 * The all-in-one controller's hand-off from allocate: a Service allocate has just given its
 * finalizer and its allocations, which hold claimed addresses whose statuses allocate has not
 * written yet (`allocations` carry them in memory, with the resourceVersions of their create;
 * `svc` is the Service as the finalizer write returned it). Program acts on them in the same
 * invocation (one listing of the slices; the Service, its allocations and the pools are what
 * allocate holds), then writes the statuses — Programmed at once, not Allocated first — with
 * those resourceVersions as preconditions: when every write takes, nothing changed since
 * allocate read the Service (so release has not begun: the allocations will be found by its
 * listing, and no entry written here can outlive the Service). Resolves true then; false when a
 * write met a change or the router failed: whatever the router got of this Service is taken
 * back if the Service or an address went meanwhile, and allocate records the statuses itself
 * (Allocated), after which program runs as usual.
 *
 * A slice that changed while the statuses were unwritten woke a program that found no address
 * to act on, and nobody hears of an address that arrives Programmed: when the Service's slices
 * differ after the writes from what was programmed, program runs for the Service once more.
 */
export async function programHandoff(deps: ProgramDeps, svc: Service, handed: readonly Handed[], pools: readonly IPPool[], report: ProgramReport, announced: Set<string>): Promise<boolean> {
  const allocations = handed.map((h) => h.allocation);
  const intent = serviceIntent(svc, deps.classes);
  if (!svc.metadata.uid || !intent.managed) return false;
  const namespace = svc.metadata.namespace ?? 'default';
  const [slices, shared, claimPools] = await Promise.all([
    readSlicesOf(deps.kube, deps.slices, namespace, svc.metadata.name),
    sharedAddressesOf(deps.kube, svc, allocations),
    claimPoolsOf(deps.kube, addressesOutsidePools(allocations, pools)),
  ]);
  const read: ServiceRead = { live: [...allocations], slices, pools, shared, claimPools };
  const { error, wrote, plan, owner } = await programRead(deps, svc, intent, read, report);
  let proven = false;
  let after: Service | undefined;
  try {
    const handedPools = new Map(handed.map((h) => [h.allocation.metadata.name, h.pool]));
    proven = !error && (await writeProven(deps, svc, read.live, plan, report, { handed: { pools: handedPools, announced } }));
  } finally {
    // (after a failed write too) settled against what the API server records: the addresses
    // whose statuses were not written go from the router again until program runs anew (all of
    // the Service's entries, if it went); for those written, the statuses left are written
    // the long way, the Service's ingress too (nobody else hears of a Programmed address); a
    // shared address released meanwhile loses its own entries, which the write may have put back
    if (!proven) {
      const settled = await settleAfterWrite(deps, svc, read, owner, report);
      if (settled) await writeStatuses(deps, svc, settled.live, plan, report);
      after = settled?.svc;
    }
  }
  // proven: checked whether the router changed or not (a slice change while the statuses were
  // unwritten woke a program that found no address); a router failure: allocate records the
  // statuses, which wake program as usual
  const moved = proven || (wrote && !error && after) ? await inputsMoved(deps, svc, read, after) : undefined;
  if (moved) {
    report.actions.push(`${moved}: program runs again`);
    if (deps.again) deps.again(namespace, svc.metadata.name);
    else await programService(deps, namespace, svc.metadata.name, report);
  }
  return proven;
}

/** Which slices, at which resourceVersions (a slice written, added or removed changes it). */
const sliceVersions = (slices: readonly EndpointSlice[]): string =>
  slices.map((s) => `${s.metadata.name}@${s.metadata.resourceVersion ?? ''}`).sort().join(',');

/** An operator reservation (no Service): only its advertisement. Resolves as programService does. */
export async function programReservation(deps: ProgramDeps, allocation: IPAllocation, report: ProgramReport, state?: RouterView, round = 0): Promise<boolean> {
  const pools = await readPools(deps.kube, deps.pools);
  const claimPoolsIn = (given: readonly IPPool[]): Promise<ClaimPools> => claimPoolsOf(deps.kube, addressesOutsidePools([allocation], given));
  const claimPools = await claimPoolsIn(pools.items);
  const adverts = advertisementWants([allocation], pools.items, claimPools);
  const formerAddresses = formerAddressesOf(undefined, [allocation], adverts);
  const owner: OwnerProgram = { uid: allocation.metadata.uid ?? '', adverts, ...(formerAddresses.length > 0 ? { formerAddresses } : {}) };
  const { outcomes, error, wrote } = await applyToRouter(deps, owner, report, state);
  if (wrote && !(await settleReservation(deps, allocation, report))) return true;
  await writeOutcomes(deps, [allocation], outcomes, report, clearedBy([allocation], error));
  if (error) throw new RouterUnavailableError(error);
  // its pool changed while this wrote (see inputsMoved): programmed again
  const poolsNow = wrote && round < SETTLE_ROUNDS ? (await readPools(deps.kube, deps.pools)).items : undefined;
  if (poolsNow && advertising([allocation], poolsNow, await claimPoolsIn(poolsNow)) !== advertising([allocation], pools.items, claimPools)) {
    report.actions.push('its pool changed while programming: program runs again');
    const now = await getAllocation(deps.kube, allocation.metadata.name);
    if (now && reservationOnRouter(now) && !now.metadata.deletionTimestamp) await programReservation(deps, now, report, undefined, round + 1);
  }
  return wrote;
}

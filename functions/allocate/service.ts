import { addressesAskedFor, annotationWarning, managedAndLive, matchAllocations, nothingValidNote, optionalFamily, requestOf, sameRequest, serviceIntent, type AnnotationProblem, type DesiredAllocation } from '../../lib/core/service.js';
import { serviceCondition } from '../../lib/core/program-status.js';
import { setConditions } from '../../lib/core/conditions.js';
import { deepEqualJson } from '../../lib/core/equal.js';
import { isAlreadyExists, isNotFound } from '../../lib/k8s/errors.js';
import { ServiceSchema, type Service } from '../../lib/k8s/core-objects.js';
import { retryOnConflict } from '../../lib/k8s/conflict.js';
import { getAllocation, getService, listAllocations } from '../../lib/k8s/typed.js';
import { API_VERSION, IPAllocationSchema, type IPAllocation } from '../../lib/k8s/schemas.js';
import { allocationsOfService, FINALIZER, LABEL_SERVICE_NAMESPACE, LABEL_SERVICE_NAME, LABEL_SERVICE_UID } from '../../lib/k8s/keys.js';
import { hasFinalizer, withFinalizer } from '../../lib/k8s/finalizer.js';
import { allocateAddress, freeClaims, recordOutcome, type Deferred, type OwnerState } from './allocation.js';
import type { Holding } from '../../lib/core/assign.js';
import { messageOf } from '../../lib/errors.js';
import { inBackground } from '../../lib/events/background.js';
import { sharingOf } from '../../lib/core/sharing.js';
import type { AllocateRun, Report } from './deps.js';


/**
 * The Service as this process's watch saw it, if it is new (no finalizer yet): the finalizer's
 * write carries its resourceVersion, so a stale hint meets a conflict and the Service is read.
 */
function newServiceHint(deps: AllocateRun, namespace: string, name: string): Service | undefined {
  const hint = ServiceSchema.safeParse(deps.recent?.take(namespace, name));
  return hint.success && hint.data.metadata.resourceVersion && !hasFinalizer(hint.data) ? hint.data : undefined;
}

/** The Service with our finalizer on it, and whether this run put it there. */
async function ensureFinalizer(deps: AllocateRun, first: Service, report: Report): Promise<{ svc: Service; added: boolean } | undefined> {
  const namespace = first.metadata.namespace ?? 'default';
  const name = first.metadata.name;
  return retryOnConflict(`adding the finalizer to ${namespace}/${name}`, deps.retry, async (attempt) => {
    const svc = attempt === 1 ? first : await getService(deps.kube, namespace, name);
    if (!svc || svc.metadata.deletionTimestamp) return undefined;
    if (hasFinalizer(svc)) return { svc, added: false };
    if (!serviceIntent(svc, deps.classes).managed) return { svc, added: false };
    let raw: unknown;
    try {
      raw = await deps.kube.replace('Service', withFinalizer(svc));
    } catch (e) {
      // deleted since it was read (the watch's hint may not have seen the deletion yet): done
      if (isNotFound(e)) return undefined;
      throw e;
    }
    const written = ServiceSchema.safeParse(raw);
    report.actions.push(`added finalizer to Service ${namespace}/${name}`);
    const now = written.success ? written.data : await getService(deps.kube, namespace, name);
    return now ? { svc: now, added: true } : undefined;
  });
}

async function createAllocation(deps: AllocateRun, svc: Service, want: DesiredAllocation, report: Report): Promise<IPAllocation | undefined> {
  const { name, roles: _roles, ...spec } = want;
  const obj = {
    apiVersion: API_VERSION,
    kind: 'IPAllocation',
    metadata: {
      name,
      labels: {
        [LABEL_SERVICE_NAMESPACE]: svc.metadata.namespace ?? 'default',
        [LABEL_SERVICE_NAME]: svc.metadata.name,
        [LABEL_SERVICE_UID]: svc.metadata.uid ?? '',
      },
      finalizers: [FINALIZER],
    },
    spec,
  };
  try {
    const created = IPAllocationSchema.safeParse(await deps.kube.create('IPAllocation', obj));
    report.actions.push(`created IPAllocation ${name}`);
    return created.success ? created.data : undefined;
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    return undefined;
  }
}

/**
 * An allocation paired with a want it does not ask for itself — it holds the address its Service
 * now asks for by name (`matchAllocations`) — takes that want's request as its spec, written with
 * the resourceVersion read (read again after a conflict). It keeps its claim: the address passes
 * to the request without leaving the Service, where a new allocation for it would find the claim
 * still held by the old one, being released. Undefined when it went, or is being deleted.
 */
async function respec(deps: AllocateRun, first: IPAllocation, want: DesiredAllocation, report: Report): Promise<IPAllocation | undefined> {
  const name = first.metadata.name;
  return retryOnConflict(`updating the spec of IPAllocation ${name}`, deps.retry, async (attempt) => {
    const a = attempt === 1 ? first : await getAllocation(deps.kube, name);
    if (!a || a.metadata.uid !== first.metadata.uid || a.metadata.deletionTimestamp) return undefined;
    if (sameRequest(want, a.spec)) return a;
    try {
      const written = IPAllocationSchema.parse(await deps.kube.replace('IPAllocation', { ...a, spec: requestOf(want) }));
      report.actions.push(`${name}: now asks for ${want.address ?? want.poolName ?? want.ipFamily ?? ''}, as its Service does (it keeps its address)`);
      return written;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }, () => {
    report.conflicts++;
    deps.onConflict?.();
  });
}

/** One AnnotationInvalid Warning (and one log line) per Service and invocation, however many problems. */
async function warnInvalidAnnotations(deps: AllocateRun, svc: Service, problems: readonly AnnotationProblem[]): Promise<void> {
  const note = annotationWarning(problems);
  const [first] = problems;
  if (note === undefined || first === undefined) return;
  const { name, namespace = 'default', uid } = svc.metadata;
  deps.log.warn('Invalid annotation value', { service: `${namespace}/${name}`, annotation: first.annotation, value: first.value.slice(0, 200), problems: problems.length });
  await deps.kube.recordEvent({ regarding: { kind: 'Service', name, namespace, uid }, type: 'Warning', reason: 'AnnotationInvalid', note, action: 'Allocate' });
}

/**
 * The LoadBalancerReady condition of a Service that asks for no address MikroLB can allocate
 * and holds no allocation, worded as program words it (`AnnotationInvalid`). No allocation's
 * change will wake program for such a Service, and one without a selector has no EndpointSlice
 * either, so allocate, which found out, writes it. Read again after a conflict: a Service whose
 * annotations were fixed meanwhile is left to its allocations.
 */
async function sayNothingValid(deps: AllocateRun, first: Service, report: Report): Promise<void> {
  const { namespace = 'default', name } = first.metadata;
  await retryOnConflict(`updating Service ${namespace}/${name}`, deps.retry, async (attempt) => {
    const svc = attempt === 1 ? first : await getService(deps.kube, namespace, name);
    if (!svc || svc.metadata.uid !== first.metadata.uid || svc.metadata.deletionTimestamp) return;
    const intent = serviceIntent(svc, deps.classes);
    const note = nothingValidNote(intent);
    if (!intent.managed || note === undefined) return;
    const conditions = setConditions(svc.status?.conditions, [serviceCondition([], { nothingValid: note })], svc.metadata.generation, deps.now());
    if (deepEqualJson(conditions, svc.status?.conditions ?? [])) return;
    try {
      await deps.kube.replaceStatus('Service', { ...svc, status: { ...svc.status, conditions } });
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    report.actions.push(`Service ${namespace}/${name}: condition AnnotationInvalid`);
  });
}

/**
 * Converges a Service's IPAllocations to what its spec and annotations ask for, then allocates
 * each of them in the same invocation (it never relies on its own writes to wake it again).
 */
export async function reconcileService(deps: AllocateRun, namespace: string, name: string, report: Report, opts: { verify?: boolean } = {}): Promise<void> {
  const first = newServiceHint(deps, namespace, name) ?? await getService(deps.kube, namespace, name);
  if (!first || first.metadata.deletionTimestamp) return;
  const firstIntent = serviceIntent(first, deps.classes);
  // Annotations of a Service that is not ours are not ours to complain about: anyone may write them.
  if (!firstIntent.managed) return;
  await warnInvalidAnnotations(deps, first, firstIntent.problems);
  const ensured = await ensureFinalizer(deps, first, report);
  const svc = ensured?.svc;
  if (!svc?.metadata.uid) return;
  // decided on the Service as it is now: a conflict on the finalizer's write read it again
  const intent = svc === first ? firstIntent : serviceIntent(svc, deps.classes);
  if (!intent.managed) return;
  // Allocations are made only once the finalizer is on, and release takes them all before it
  // drops it: a Service this run just gave the finalizer to has none (the usual case, a new Service).
  // One still being deleted is found by name when it is created again, and its deletion wakes
  // this function for its Service (see the routing table).
  const existing = !ensured?.added ? (await listAllocations(deps.kube, allocationsOfService(svc.metadata.uid))).items : [];
  const { matched, missing, stale } = matchAllocations(intent, existing);
  // with allocations to delete, their deletion wakes program, which writes the condition
  if (existing.length === 0 && intent.allocations.length === 0) await sayNothingValid(deps, svc, report);
  for (const a of stale) {
    await deps.kube.remove('IPAllocation', a.metadata.name, undefined, { uid: a.metadata.uid });
    report.actions.push(`deleted IPAllocation ${a.metadata.name} (no longer wanted)`);
  }
  const sharing = sharingOf(svc);
  const optional = optionalFamily(svc);
  const owner: OwnerState = {
    state: 'present', key: `${namespace}/${name}`, ipFamilies: svc.spec.ipFamilies ?? [], namespace, labels: svc.metadata.labels ?? {}, ...(sharing ? { sharing } : {}),
    askedFor: addressesAskedFor(intent), ...(optional ? { optionalFamily: optional } : {}),
  };
  const verify = opts.verify === true;
  const claimed: Holding[] = []; // proven by one read of the Service at the end (settleAfterClaims)
  // pool and family allocations first: one that gives up an address its Service now asks for by
  // name frees it for the explicit allocation decided after it
  const kept = existing.flatMap((a) => {
    const want = matched.get(a.metadata.name);
    return want ? [{ a, want }] : [];
  }).sort((x, y) => Number(x.want.address !== undefined) - Number(y.want.address !== undefined));
  for (const { a, want } of kept) {
    const current = sameRequest(want, a.spec) ? a : await respec(deps, a, want, report);
    if (current) await allocateAddress(deps, a.metadata.name, report, { allocation: current, owner, verify, claims: claimed, yieldAskedFor: want.address === undefined });
  }
  // a new Service's allocations (all of them made now) go to program before their statuses are written
  const deferred: Deferred[] | undefined = deps.handoff && ensured?.added ? [] : undefined;
  const made: IPAllocation[] = [];
  for (const want of missing) {
    const created = await createAllocation(deps, svc, want, report);
    if (created) made.push(created);
    await allocateAddress(deps, want.name, report, { ...(created ? { allocation: created } : {}), owner, verify, claims: claimed, ...(created && deferred ? { defer: deferred } : {}) });
  }
  if (deferred && deferred.length > 0) {
    // program's status writes proved the Service unchanged since the creates and claims: settled
    if (await handedOff(deps, svc, deferred, missing.length, report)) return;
    // recorded as without the hand-off (each claim is found again through the hint)
    for (const d of deferred) await allocateAddress(deps, d.allocation.metadata.name, report, { owner, verify, claims: claimed });
  }
  if (made.length > 0 || claimed.length > 0) await settleAfterClaims(deps, svc, made, claimed, report);
}

/**
 * Hands a new Service to program when every allocation it wants was made and claimed here. The
 * addresses are allocated (their claims are taken) whatever program then does: each gets its
 * `IPAllocated` event once, from program once the status it wrote took (saying what the router
 * did: one event instead of `IPAllocated` and `Programmed`), or from here when program wrote
 * them all; when it did not, an address whose status program left unwritten is recorded by the
 * caller's status write (allocateAddress records it), so here it would be recorded twice.
 */
async function handedOff(deps: AllocateRun, svc: Service, deferred: readonly Deferred[], wanted: number, report: Report): Promise<boolean> {
  if (!deps.handoff || deferred.length !== wanted) return false;
  const pools = deferred[0]?.pools ?? [];
  const announced = new Set<string>();
  let proven = false;
  try {
    proven = await deps.handoff(svc, deferred.map((d) => ({ allocation: d.allocation, pool: d.decision.pool })), pools, report, announced);
    return proven;
  } catch (e) {
    deps.log.warn('Programming a new Service in the allocating invocation failed; its statuses are written for program to run as usual', { service: `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`, error: messageOf(e) });
    return false;
  } finally {
    const recorded = proven ? deferred : deferred.filter((d) => announced.has(d.allocation.metadata.name));
    await Promise.all(recorded.map((d) => inBackground(recordOutcome(deps, d.allocation, d.decision, { eventRecorded: announced.has(d.allocation.metadata.name) }))));
  }
}

/**
 * Closing the allocate/release race: allocate read the Service, then created allocations and
 * claimed addresses; release may have released the Service in between (listing its
 * allocations and their claims before these existed) — deleted, or no longer ours (made a
 * ClusterIP Service, say: release then takes the finalizer off, and nothing would ever take
 * what was made here, as allocate and program leave such a Service alone and the resync
 * collects only allocations whose Service is gone). Reading the Service again after the
 * creates and claims ends every interleaving: if its deletion (a new uid, or that it is no
 * longer ours) is visible now, the new allocations are deleted here (their finalizer lets
 * release free what they hold) and the claims this run made are freed; if not, the release
 * came after them and its listing finds them.
 */
async function settleAfterClaims(deps: AllocateRun, svc: Service, made: readonly IPAllocation[], claimed: readonly Holding[], report: Report): Promise<void> {
  const now = await getService(deps.kube, svc.metadata.namespace ?? 'default', svc.metadata.name);
  if (now && now.metadata.uid === svc.metadata.uid && managedAndLive(now, deps.classes)) return;
  for (const a of made) {
    await deps.kube.remove('IPAllocation', a.metadata.name, undefined, { uid: a.metadata.uid });
    report.actions.push(`deleted IPAllocation ${a.metadata.name} (its Service went while it was created)`);
  }
  await freeClaims(deps, claimed, report);
}

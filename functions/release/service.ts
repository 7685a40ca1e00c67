import { SERVICE_CONDITION } from '../../lib/core/program-status.js';
import { isForeignLoadBalancer, serviceIntent } from '../../lib/core/service.js';
import { retryOnConflict } from '../../lib/k8s/conflict.js';
import { allocationsOfService, claimsOfService } from '../../lib/k8s/keys.js';
import { hasFinalizer } from '../../lib/k8s/finalizer.js';
import { ServiceSchema, type Service } from '../../lib/k8s/core-objects.js';
import { getService, listAllocations, listClaims } from '../../lib/k8s/typed.js';
import { claimsOf, releaseAllocation, releaseWithService } from './allocation.js';
import type { ReleaseDeps, ReleaseReport } from './deps.js';
import { dropFinalizer, firstThen } from './finalizers.js';
import { applyOwner, dropOwners, onRouter } from './router.js';
import type { Attempt } from './allocation.js';

/**
 * Takes our condition off a Service we no longer manage, and the ingress we published. The
 * ingress of a LoadBalancer another controller serves is that controller's: it stays. Starts
 * from the Service as read (re-read on a conflict); resolves to the Service as it now is, as
 * far as this run knows. `mine` tells whether a Service read is still release's to finish.
 */
async function clearStatus(deps: ReleaseDeps, read: Service, report: ReleaseReport, mine: (svc: Service) => boolean): Promise<Service | undefined> {
  const { namespace = 'default', name } = read.metadata;
  const current = firstThen(read, () => getService(deps.kube, namespace, name));
  return retryOnConflict(`clearing the status of ${namespace}/${name}`, deps.retry, async () => {
    const svc = await current();
    // gone, being deleted, another of that name, or ours again meanwhile (allocate has taken it
    // up: the status is its): nothing of ours to clear
    if (!svc || svc.metadata.uid !== read.metadata.uid || svc.metadata.deletionTimestamp || !mine(svc)) return undefined;
    const clearIngress = (svc.status?.loadBalancer?.ingress ?? []).length > 0 && !isForeignLoadBalancer(svc, deps.classes);
    const conditions = (svc.status?.conditions ?? []).filter((c) => c.type !== SERVICE_CONDITION);
    if (!clearIngress && conditions.length === (svc.status?.conditions ?? []).length) return svc;
    const status = { ...svc.status, conditions, ...(clearIngress ? { loadBalancer: { ...svc.status?.loadBalancer, ingress: [] } } : {}) };
    const written = ServiceSchema.safeParse(await deps.kube.replaceStatus('Service', { ...svc, status }));
    report.actions.push(`cleared the load-balancer status of ${namespace}/${name}`);
    return written.success ? written.data : undefined;
  });
}

/** Whether release has work on a Service as read: it holds our finalizer and is being deleted or no longer ours. */
export function releasable(deps: Pick<ReleaseDeps, 'classes'>, svc: Service): boolean {
  if (!svc.metadata.uid || !hasFinalizer(svc)) return false;
  return svc.metadata.deletionTimestamp !== undefined || !serviceIntent(svc, deps.classes).managed;
}

/**
 * A Service deleted, or no longer ours (type, class or SNAT annotation changed): its router
 * entries go, its IPAllocations are released and deleted, its status cleared (unless it is
 * being deleted), then our finalizer. A Service none of whose allocations got past Pending is
 * released without router calls. What this run read is what it writes against: each write
 * carries the resourceVersion it was read at and reads again only after a conflict.
 */
export async function releaseService(deps: ReleaseDeps, namespace: string, name: string, report: ReleaseReport, opts: { routerDoneFor?: string } = {}): Promise<void> {
  const svc = await getService(deps.kube, namespace, name);
  const uid = svc?.metadata.uid;
  if (!svc || !uid || !releasable(deps, svc)) return;
  const deleting = svc.metadata.deletionTimestamp !== undefined;
  const allocations = (await listAllocations(deps.kube, allocationsOfService(uid))).items;
  // a Failed allocation may have given an address up (one shared that no longer fits its
  // Service) whose rules program has not taken off yet: only one that never got further than
  // Pending, with no claim, has nothing on the router; nor one whose entries the caller took off
  // (routerDoneFor: its uid, being deleted, see releaseListedServices)
  const programmed = uid !== opts.routerDoneFor && (allocations.some((a) => a.status?.address || a.status?.phase === 'Failed') || (await listClaims(deps.kube, claimsOfService(uid))).items.length > 0);
  const router = programmed ? onRouter(deps, `Service ${namespace}/${name}`, () => applyOwner(deps, { uid, adverts: [] }, report)) : undefined;
  // a Service being deleted: its allocations' claims are listed while the router is written,
  // and freed once its entries are gone (an allocate run claiming meanwhile frees its own claim:
  // it reads the Service again after claiming)
  const [, claims] = await Promise.all([router, deleting ? Promise.all(allocations.map((a) => claimsOf(deps, a))) : undefined]);
  for (const [i, a] of allocations.entries()) {
    if (deleting) await releaseWithService(deps, a, claims?.[i] ?? [], report);
    else {
      // the Service lives on, so allocate would still claim for a live allocation of it: each
      // is marked deleted first, which allocate leaves alone
      await deps.kube.remove('IPAllocation', a.metadata.name, undefined, { uid: a.metadata.uid });
      await releaseAllocation(deps, a.metadata.name, report, { routerDone: true });
    }
  }
  // a Service that became ours again meanwhile (its type, class or annotations changed back)
  // keeps its status and the finalizer, which allocate counts on as it takes it up
  let oursAgain = false;
  const mine = (again: Service): boolean => {
    if (releasable(deps, again)) return true;
    oursAgain ||= hasFinalizer(again); // with our finalizer on and not releasable: managed, not being deleted
    return false;
  };
  // a Service being deleted keeps its status until it is gone
  const now = deleting ? svc : await clearStatus(deps, svc, report, mine);
  // read again after a conflict
  const reread = async (): Promise<Service | undefined> => {
    const again = await getService(deps.kube, namespace, name);
    return again?.metadata.uid === uid && mine(again) ? again : undefined;
  };
  await dropFinalizer(deps, 'Service', now ? firstThen(now, reread) : reread, report);
  const fields = { service: `${namespace}/${name}`, allocations: allocations.length, routerTouched: programmed || uid === opts.routerDoneFor };
  if (!oursAgain) return deps.log.info('Released a Service', fields);
  report.actions.push(`kept the finalizer of Service ${namespace}/${name}: it is ours again`);
  deps.log.info('Released the allocations of a Service that is ours again', fields);
}

/**
 * The resync's Services to release, as listed (see releasable). The router entries of those
 * being deleted come off together, from one read of the router (dropOwners), before each is
 * released as releaseService releases it: their owners are gone for good (a deletion is never
 * undone, and program writes nothing for a Service being deleted, taking off what it wrote while
 * the deletion came), so taking one's entries off leaves the others' shares of that read as a new
 * read would show them. One read instead of one per Service (N Services deleted while the
 * controller was down read the router whole N times). If that fails, each is released alone.
 */
export async function releaseListedServices(deps: ReleaseDeps, listed: readonly Service[], report: ReleaseReport, attempt: Attempt): Promise<void> {
  const services = listed.filter((s) => releasable(deps, s));
  const deleting = services.flatMap((s) => (s.metadata.deletionTimestamp && s.metadata.uid ? [s.metadata.uid] : []));
  let dropped = false;
  if (deleting.length > 0) {
    await attempt(async () => {
      await onRouter(deps, `entries of ${deleting.length} Service(s) being deleted`, () => dropOwners(deps, deleting, report));
      dropped = true;
    });
  }
  for (const s of services) {
    const done = dropped && s.metadata.deletionTimestamp ? { routerDoneFor: s.metadata.uid } : {};
    await attempt(() => releaseService(deps, s.metadata.namespace ?? 'default', s.metadata.name, report, done));
  }
}

import { SERVICE_CONDITION } from '../../lib/core/program-status.js';
import { isForeignLoadBalancer, serviceIntent } from '../../lib/core/service.js';
import { retryOnConflict } from '../../lib/k8s/conflict.js';
import { allocationsOfService, claimsOfService } from '../../lib/k8s/keys.js';
import { hasFinalizer } from '../../lib/k8s/finalizer.js';
import { getService, listAllocations, listClaims } from '../../lib/k8s/typed.js';
import { releaseAllocation } from './allocation.js';
import type { ReleaseDeps, ReleaseReport } from './deps.js';
import { dropFinalizer } from './finalizers.js';
import { applyOwner, onRouter } from './router.js';

/**
 * Takes our condition off a Service we no longer manage, and the ingress we published. The
 * ingress of a LoadBalancer another controller serves is that controller's: it stays.
 */
async function clearStatus(deps: ReleaseDeps, namespace: string, name: string, report: ReleaseReport): Promise<void> {
  await retryOnConflict(`clearing the status of ${namespace}/${name}`, deps.retry, async () => {
    const svc = await getService(deps.kube, namespace, name);
    if (!svc || svc.metadata.deletionTimestamp) return;
    const clearIngress = (svc.status?.loadBalancer?.ingress ?? []).length > 0 && !isForeignLoadBalancer(svc, deps.classes);
    const conditions = (svc.status?.conditions ?? []).filter((c) => c.type !== SERVICE_CONDITION);
    if (!clearIngress && conditions.length === (svc.status?.conditions ?? []).length) return;
    const status = { ...svc.status, conditions, ...(clearIngress ? { loadBalancer: { ...svc.status?.loadBalancer, ingress: [] } } : {}) };
    await deps.kube.replaceStatus('Service', { ...svc, status });
    report.actions.push(`cleared the load-balancer status of ${namespace}/${name}`);
  });
}

/**
 * A Service deleted, or no longer ours (type, class or SNAT annotation changed): its router
 * entries go, its IPAllocations are deleted and released, its status cleared, then our
 * finalizer. A Service that never held an address is released without router calls.
 */
export async function releaseService(deps: ReleaseDeps, namespace: string, name: string, report: ReleaseReport): Promise<void> {
  const svc = await getService(deps.kube, namespace, name);
  const uid = svc?.metadata.uid;
  if (!svc || !uid || !hasFinalizer(svc)) return;
  if (!svc.metadata.deletionTimestamp && serviceIntent(svc, deps.classes).managed) return;
  const allocations = (await listAllocations(deps.kube, allocationsOfService(uid))).items;
  const programmed = allocations.some((a) => a.status?.address) || (await listClaims(deps.kube, claimsOfService(uid))).items.length > 0;
  if (programmed) await onRouter(deps, `Service ${namespace}/${name}`, () => applyOwner(deps, { uid, adverts: [] }, report));
  for (const a of allocations) {
    await deps.kube.remove('IPAllocation', a.metadata.name, undefined, { uid: a.metadata.uid });
    await releaseAllocation(deps, a.metadata.name, report, { routerDone: true });
  }
  await clearStatus(deps, namespace, name, report);
  await dropFinalizer(deps, 'Service', async () => {
    const now = await getService(deps.kube, namespace, name);
    return now?.metadata.uid === uid ? now : undefined;
  }, report);
  deps.log.info('Released a Service', { service: `${namespace}/${name}`, allocations: allocations.length, routerTouched: programmed });
}

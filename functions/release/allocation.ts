import { poolStatus } from '../../lib/core/pool-status.js';
import { viewPools } from '../../lib/core/pools.js';
import { advertisementWants, serviceProgram } from '../../lib/core/program-model.js';
import { serviceIntent } from '../../lib/core/service.js';
import { parseAddress } from '../../lib/ip/index.js';
import { retryOnConflict } from '../../lib/k8s/conflict.js';
import { FINALIZER, LABEL_SERVICE_NAME, LABEL_SERVICE_NAMESPACE, LABEL_SERVICE_UID, type IPAllocation } from '../../lib/k8s/schemas.js';
import { getAllocation, getService, listAllocations, listEndpointSlices, listPools } from '../../lib/k8s/typed.js';
import type { ReleaseDeps, ReleaseReport } from './deps.js';
import { dropFinalizer } from './finalizers.js';
import { releasePoolIfDeleting } from './pool.js';
import { applyOwner, onRouter } from './router.js';

/** Whether the allocation may have left anything on the router or in a ledger. */
async function everHeldAddress(deps: ReleaseDeps, a: IPAllocation): Promise<boolean> {
  if (a.status?.address) return true;
  const pools = await listPools(deps.kube);
  return pools.items.some((p) => p.status?.allocations?.some((e) => e.allocationUID === a.metadata.uid));
}

/** Takes the allocation's address off the router: re-plan its live Service without it, or drop its owner's entries. */
async function releaseOnRouter(deps: ReleaseDeps, a: IPAllocation, report: ReleaseReport): Promise<void> {
  const labels = a.metadata.labels ?? {};
  const ns = labels[LABEL_SERVICE_NAMESPACE];
  const name = labels[LABEL_SERVICE_NAME];
  const svc = ns && name ? await getService(deps.kube, ns, name) : undefined;
  const live = svc && svc.metadata.uid === labels[LABEL_SERVICE_UID] && !svc.metadata.deletionTimestamp && serviceIntent(svc, deps.classes).managed;
  if (svc?.metadata.uid && ns && name && live) {
    const intent = serviceIntent(svc, deps.classes);
    const [allocs, slices, pools] = await Promise.all([
      listAllocations(deps.kube, `${LABEL_SERVICE_UID}=${svc.metadata.uid}`), listEndpointSlices(deps.kube, ns, `kubernetes.io/service-name=${name}`), listPools(deps.kube),
    ]);
    const others = allocs.items.filter((x) => x.metadata.uid !== a.metadata.uid && !x.metadata.deletionTimestamp);
    await onRouter(deps, `address ${a.status?.address ?? ''} of ${a.metadata.name}`, () =>
      applyOwner(deps, { uid: svc.metadata.uid ?? '', service: serviceProgram(svc, intent, others, slices.items), adverts: advertisementWants(others, pools.items) }, report));
    return;
  }
  const owner = labels[LABEL_SERVICE_UID] ?? a.metadata.uid ?? '';
  await onRouter(deps, `entries of ${a.metadata.name}`, () => applyOwner(deps, { uid: owner, adverts: [] }, report));
}

/** Removes the allocation's ledger entry (by uid) from every pool that has one. */
async function releaseLedger(deps: ReleaseDeps, a: IPAllocation, report: ReleaseReport): Promise<string[]> {
  return retryOnConflict(`releasing the ledger entry of ${a.metadata.name}`, deps.retry, async () => {
    const views = viewPools((await listPools(deps.kube)).items);
    const touched: string[] = [];
    for (const v of views) {
      if (!v.ledger?.some((e) => e.allocationUID === a.metadata.uid)) continue;
      const ledger = v.ledger.filter((e) => e.allocationUID !== a.metadata.uid);
      await deps.kube.replaceStatus('IPPool', { ...v.pool, status: poolStatus(v, ledger, deps.now()) });
      report.actions.push(`released ${a.status?.address ?? 'the reservation'} of ${a.metadata.name} in pool ${v.name}`);
      touched.push(v.name);
    }
    return touched;
  });
}

/**
 * An IPAllocation being deleted: its address off the router (if it ever had one), its ledger
 * entry gone, then our finalizer. A router failure keeps the finalizer (retried later).
 */
export async function releaseAllocation(deps: ReleaseDeps, name: string, report: ReleaseReport, opts: { routerDone?: boolean } = {}): Promise<void> {
  const a = await getAllocation(deps.kube, name);
  if (!a?.metadata.deletionTimestamp || !a.metadata.finalizers?.includes(FINALIZER)) return;
  if (a.status?.address && !parseAddress(a.status.address).ok) {
    deps.log.warn('Releasing an allocation whose status address is malformed', { allocation: name, address: a.status.address });
    await deps.kube.recordEvent({ regarding: { kind: 'IPAllocation', name, uid: a.metadata.uid }, type: 'Warning', reason: 'AddressInvalid', note: `Status address "${a.status.address}" is not a valid IP address; releasing by uid.`, action: 'Release' });
  }
  if (await everHeldAddress(deps, a)) {
    if (!opts.routerDone) await releaseOnRouter(deps, a, report);
    const pools = await releaseLedger(deps, a, report);
    for (const p of pools) await releasePoolIfDeleting(deps, p, report);
  }
  await dropFinalizer(deps, 'IPAllocation', () => getAllocation(deps.kube, name), report);
  deps.log.info('Released an allocation', { allocation: name, address: a.status?.address });
}

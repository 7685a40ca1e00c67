import type { FunctionHandler, Invocation } from '../../lib/events/invocation.js';
import { settle } from '../../lib/events/outcome.js';
import { pastFailures } from '../../lib/events/past-failures.js';
import { classifyKubeError } from '../../lib/k8s/classify.js';
import { listAllocations, listPools, listServices } from '../../lib/k8s/typed.js';
import { LABEL_SERVICE_UID } from '../../lib/k8s/keys.js';
import { allocateAddress } from './allocation.js';
import { claimChanged } from './claim-event.js';
import { allocateRun, newReport, type AllocateDeps, type AllocateRun, type Report } from './deps.js';
import { reconcilePool } from './pool.js';
import { namespaceChanged } from './namespace.js';
import { reconcileService } from './service.js';
import { managedAndLive } from '../../lib/core/service.js';
import { viewPools } from '../../lib/core/pools.js';
import { reportUnreadable } from './unreadable.js';

async function resync(deps: AllocateRun, report: Report): Promise<void> {
  // one Service, pool or reservation that keeps failing must not starve the others
  const { attempt, rethrow } = pastFailures();
  await deps.hint.load(deps.kube, deps.now().getTime(), true);
  // a Service listed as not ours (or being deleted) is not read again: a change after the list
  // sends allocate its own event (most Services of a cluster are ClusterIP ones)
  for (const svc of (await listServices(deps.kube)).items) {
    if (!managedAndLive(svc, deps.classes)) continue;
    await attempt(() => reconcileService(deps, svc.metadata.namespace ?? 'default', svc.metadata.name, report, { verify: true }));
  }
  const pools = (await listPools(deps.kube)).items;
  // claims someone else made that we cannot read hold their addresses: said on every resync
  await reportUnreadable(deps, viewPools(pools));
  for (const pool of pools) await attempt(() => reconcilePool(deps, pool.metadata.name, report));
  // operator reservations (no Service) are converged too; every claim is checked
  for (const a of (await listAllocations(deps.kube)).items) {
    if (!a.metadata.labels?.[LABEL_SERVICE_UID]) await attempt(() => allocateAddress(deps, a.metadata.name, report, { allocation: a, verify: true }));
  }
  rethrow();
}

async function route(deps: AllocateRun, inv: Invocation, report: Report): Promise<void> {
  if (inv.type === 'resync') return resync(deps, report);
  const { kind, name, namespace } = inv.ref;
  switch (kind) {
    case 'Service':
      // an update may have dropped the Service's sharing key, which its claims must record
      // (a shared claim it holds alone becomes its own): its existing allocations are checked
      // against their claims, as a resync checks them (an allocation's status cannot tell)
      return reconcileService(deps, namespace ?? 'default', name, report, { verify: inv.change === 'update' });
    case 'IPAllocation':
      // an update may be the deletion of its claim by hand (the bridge sends it as the
      // allocations the claim named): a settled one checks that its claim is still there, and
      // takes it again if not (its status cannot tell). An update sent whole (Knative's
      // ApiServerSource) is the allocation's own change, each status write of program's among
      // them: the claim's deletion reaches allocate as the claim, naming its holders
      return allocateAddress(deps, name, report, { checkClaim: inv.change === 'update' && inv.sentWhole === undefined });
    case 'IPPool':
      return reconcilePool(deps, name, report);
    case 'EndpointSlice':
      report.actions.push('nothing to allocate for an EndpointSlice');
      return;
    case 'IPAddressClaim':
      return claimChanged(deps, name, report, inv.sentWhole?.holders ?? []);
    case 'Namespace':
      return namespaceChanged(deps, name, report);
  }
}

/** The allocate function: level-triggered, it re-reads everything the event names. */
export function createAllocate(given: AllocateDeps): FunctionHandler {
  const deps = allocateRun(given);
  return async (inv) => {
    const report = newReport();
    return settle(() => route(deps, inv, report), () => ({ function: 'allocate', ...report }), classifyKubeError);
  };
}

import type { FunctionHandler, Invocation } from '../../lib/events/invocation.js';
import { RetryLaterError } from '../../lib/k8s/conflict.js';
import { listAllocations, listPools, listServices } from '../../lib/k8s/typed.js';
import { LABEL_SERVICE_UID } from '../../lib/k8s/keys.js';
import { allocateAddress } from './allocation.js';
import { claimChanged } from './claim-event.js';
import { newReport, type AllocateDeps, type Report } from './deps.js';
import { reconcilePool } from './pool.js';
import { reconcileService } from './service.js';

async function resync(deps: AllocateDeps, report: Report): Promise<void> {
  for (const svc of (await listServices(deps.kube)).items) {
    await reconcileService(deps, svc.metadata.namespace ?? 'default', svc.metadata.name, report);
  }
  for (const pool of (await listPools(deps.kube)).items) await reconcilePool(deps, pool.metadata.name, report);
  // operator reservations (no Service) are converged too
  for (const a of (await listAllocations(deps.kube)).items) {
    if (!a.metadata.labels?.[LABEL_SERVICE_UID]) await allocateAddress(deps, a.metadata.name, report);
  }
}

async function route(deps: AllocateDeps, inv: Invocation, report: Report): Promise<void> {
  if (inv.type === 'resync') return resync(deps, report);
  const { kind, name, namespace } = inv.ref;
  switch (kind) {
    case 'Service':
      return reconcileService(deps, namespace ?? 'default', name, report);
    case 'IPAllocation':
      return allocateAddress(deps, name, report);
    case 'IPPool':
      return reconcilePool(deps, name, report);
    case 'EndpointSlice':
      report.actions.push('nothing to allocate for an EndpointSlice');
      return;
    case 'IPAddressClaim':
      return claimChanged(deps, name, report);
  }
}

/** The allocate function: level-triggered, it re-reads everything the event names. */
export function createAllocate(deps: AllocateDeps): FunctionHandler {
  return async (inv) => {
    const report = newReport();
    try {
      await route(deps, inv, report);
    } catch (e) {
      if (e instanceof RetryLaterError) {
        return { status: 409, body: { function: 'allocate', error: e.message, ...report }, retryAfterSeconds: e.retryAfterSeconds };
      }
      throw e;
    }
    return { status: 200, body: { function: 'allocate', ...report } };
  };
}

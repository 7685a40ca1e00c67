import type { FunctionHandler, Invocation } from '../../lib/events/invocation.js';
import { blocked, settle } from '../../lib/events/outcome.js';
import { pastFailures } from '../../lib/events/past-failures.js';
import { classifyKubeError } from '../../lib/k8s/classify.js';
import { messageOf } from '../../lib/errors.js';
import { GC_COLLECTED } from '../../lib/metrics.js';
import { listAllocations, listPools, listServices } from '../../lib/k8s/typed.js';
import { releaseAllocation, releaseAllocations } from './allocation.js';
import { claimChanged, heldClaimLeft } from './claim-event.js';
import { newReleaseReport, RouterReleaseError, type ReleaseDeps, type ReleaseReport } from './deps.js';
import { collectGarbage, goneOwners } from './gc.js';
import { releaseFreedPools, releasePoolIfDeleting } from './pool.js';
import { releaseListedServices, releaseService } from './service.js';
import { wholeRouterOf } from './router.js';

/**
 * Everything being deleted released, then the garbage collected. One object whose release
 * fails (its router entries refused, say) must not keep the others, or the collection, waiting
 * for it: each goes on, and the first failure ends the resync ("retry later") once all ran.
 */
async function resync(deps: ReleaseDeps, report: ReleaseReport): Promise<void> {
  const { attempt, rethrow } = pastFailures();
  // a Service listed with nothing to release (no finalizer of ours, or managed and not being
  // deleted) is not read again: a change after the list sends release its own event
  await releaseListedServices(deps, (await listServices(deps.kube)).items, report, attempt);
  // those of Services gone for good share one read of the router (goneOwners: the Services are listed again, after the allocations)
  const allocations = (await listAllocations(deps.kube)).items;
  const deleting = allocations.filter((a) => a.metadata.deletionTimestamp).map((a) => a.metadata.name);
  if (deleting.length > 0) {
    const gone = goneOwners(allocations, (await listServices(deps.kube)).items);
    await releaseAllocations(deps, deleting, report, gone, attempt);
  }
  // every pool is looked at here, after the releases above (those they freed need no other look)
  report.freedPools.clear();
  for (const p of (await listPools(deps.kube)).items) await attempt(() => releasePoolIfDeleting(deps, p.metadata.name, report));
  await attempt(() => collectGarbage(deps, report));
  for (const [what, n] of Object.entries(report.collected)) if (n > 0) deps.counters?.add(GC_COLLECTED, { what }, n);
  rethrow();
}

/**
 * The invocation's work, then the pools it freed claims of, each looked at once
 * (releaseFreedPools). Those freed before a later step failed are looked at all the same (as
 * they were when each was looked at right after its release); the step's failure is the answer.
 */
async function routeThenPools(deps: ReleaseDeps, inv: Invocation, report: ReleaseReport): Promise<void> {
  const failed = await route(deps, inv, report).then(() => undefined, (e: unknown) => ({ e }));
  const pools = releaseFreedPools(deps, report);
  if (!failed) return pools;
  await pools.catch((e: unknown) => deps.log.warn('Could not look at the pools whose claims were freed', { error: messageOf(e) }));
  throw failed.e;
}

async function route(deps: ReleaseDeps, inv: Invocation, report: ReleaseReport): Promise<void> {
  if (inv.type === 'resync') return resync(deps, report);
  // a deleted allocation sent whole (Knative's ApiServerSource) names its Service for allocate
  // and program; release's part is the claim of the address it held, as the bridge routes it
  if (inv.sentWhole?.held) return heldClaimLeft(deps, inv.sentWhole.held.name, report);
  const { kind, name, namespace } = inv.ref;
  switch (kind) {
    case 'Service':
      return releaseService(deps, namespace ?? 'default', name, report);
    case 'IPAllocation':
      return releaseAllocation(deps, name, report);
    case 'IPPool':
      return releasePoolIfDeleting(deps, name, report);
    case 'EndpointSlice':
      return;
    case 'IPAddressClaim':
      return claimChanged(deps, name, report, inv.change);
    case 'Namespace':
      return;
  }
}

/** The release function: takes apart what allocate and program built, never too early. */
export function createRelease(given: ReleaseDeps): FunctionHandler {
  const deps: ReleaseDeps = { ...given, wholeRouter: wholeRouterOf(given) };
  return async (inv) => {
    const report = newReleaseReport();
    const work = async (): Promise<void> => {
      try {
        await routeThenPools(deps, inv, report);
      } catch (e) {
        // the event is best effort: the router's failure is what the invocation reports (an
        // event cannot be created in a namespace being deleted, say, whose Services release)
        if (e instanceof RouterReleaseError) {
          await recordRouterFailure(deps, inv, e.message).catch((recording: unknown) => {
            deps.log.warn('Could not record the ReleaseFailed event', { error: messageOf(recording) });
          });
        }
        throw e;
      }
    };
    const outcome = await settle(work, () => ({ function: 'release', actions: report.actions, collected: report.collected }), classifyKubeError);
    // one object waiting on its users is blocked; a resync that met such an object is done
    if (outcome.kind !== 'done' || !report.waiting || inv.type !== 'object') return outcome;
    return blocked(report.waiting.reason, report.waiting.message, outcome.body);
  };
}

/** A Warning event on the object whose release waits for the router. */
async function recordRouterFailure(deps: ReleaseDeps, inv: Invocation, message: string): Promise<void> {
  if (inv.type !== 'object' || (inv.ref.kind !== 'Service' && inv.ref.kind !== 'IPAllocation')) return;
  const raw = await deps.kube.get(inv.ref.kind, inv.ref.name, inv.ref.namespace);
  const uid = typeof raw === 'object' && raw !== null && 'metadata' in raw && typeof raw.metadata === 'object' && raw.metadata !== null && 'uid' in raw.metadata && typeof raw.metadata.uid === 'string' ? raw.metadata.uid : undefined;
  if (!uid) return;
  await deps.kube.recordEvent({ regarding: { kind: inv.ref.kind, name: inv.ref.name, uid, ...(inv.ref.namespace ? { namespace: inv.ref.namespace } : {}) }, type: 'Warning', reason: 'ReleaseFailed', note: message, action: 'Release' });
}

import type { FunctionHandler, Invocation } from '../../lib/events/invocation.js';
import { settle } from '../../lib/events/outcome.js';
import { classifyKubeError } from '../../lib/k8s/classify.js';
import { EndpointSliceSchema } from '../../lib/k8s/core-objects.js';
import { claimsOfPool, LABEL_SLICE_SERVICE_NAME, serviceOfLabels, LABEL_SERVICE_UID } from '../../lib/k8s/keys.js';
import { listAllocations, listClaims, listPools, listServices } from '../../lib/k8s/typed.js';
import { newProgramReport, type ProgramDeps, type ProgramReport } from './deps.js';
import { menusToRead, partitionState, soleOwnerOf } from '../../lib/core/router-program.js';
import { DEFAULT_CLUSTER, type Op } from '../../lib/router/index.js';
import type { RouterPort } from '../../lib/router/port.js';
import { programAllocation, programReservation, programService, reservationOnRouter, type RouterView } from './service.js';
import { addressOfClaim, claimSharingChanged } from './shared.js';
import { managedAndLive } from '../../lib/core/service.js';
import { eachHolder } from '../../lib/core/sharing.js';

async function programEndpointSlice(deps: ProgramDeps, namespace: string, name: string, report: ProgramReport): Promise<void> {
  const raw = await deps.kube.get('EndpointSlice', name, namespace);
  const slice = EndpointSliceSchema.safeParse(raw);
  const svc = slice.success ? slice.data.metadata.labels?.[LABEL_SLICE_SERVICE_NAME] : undefined;
  if (svc) await programService(deps, namespace, svc, report);
}

/**
 * Which spec of each pool (its uid, generation and deletion) an instance has programmed every
 * holder for. A hint: a cold instance, or a pool changed since, programs them all.
 */
type PoolsProgrammed = Map<string, string>;

/**
 * A pool changed (advertise, interface): reprogram every allocation holding one of its
 * addresses — every holder of a shared one, each of which records where its address is.
 * Under Knative Eventing program hears every write of a pool, its status's recounts too (one
 * after each burst of claims), which change nothing program writes: an update of a pool whose
 * spec this instance has programmed already is left alone (the bridge sends program a pool's
 * spec and metadata changes only). The pools are listed afresh for it, never taken from the
 * instance's mirror.
 */
async function programPool(deps: ProgramDeps, name: string, report: ProgramReport, done: PoolsProgrammed): Promise<void> {
  // a list, not a get: program may only list pools (deploy/base/rbac-program.yaml), and there are few
  const pool = (await listPools(deps.kube)).items.find((p) => p.metadata.name === name);
  const spec = pool ? `${pool.metadata.uid ?? ''}/${pool.metadata.generation ?? 0}/${pool.metadata.deletionTimestamp ?? ''}` : undefined;
  if (spec !== undefined && done.get(name) === spec) {
    report.actions.push(`pool ${name}: its holders are programmed for its spec already`);
    return;
  }
  done.delete(name);
  await programHolders(deps, name, report);
  if (spec !== undefined) done.set(name, spec);
}

async function programHolders(deps: ProgramDeps, name: string, report: ProgramReport): Promise<void> {
  const holders = new Set((await listClaims(deps.kube, claimsOfPool(name))).items.flatMap((c) => eachHolder(c.spec).map((h) => h.allocationName)));
  const services = new Set<string>();
  for (const a of (await listAllocations(deps.kube)).items) {
    if (!holders.has(a.metadata.name)) continue;
    const svc = serviceOfLabels(a.metadata.labels);
    if (svc) services.add(`${svc.namespace}/${svc.name}`);
    else await programAllocation(deps, a.metadata.name, report);
  }
  for (const key of services) {
    const [ns = '', svc = ''] = key.split('/');
    await programService(deps, ns, svc, report);
  }
}

/**
 * Every owner planned against one whole read of the router. Read again after an owner's run
 * wrote anything beyond its own share of it (see soleOwnerOf): a global rule, a shared
 * address's entries, or a run that failed part way. A write confined to the owner's own entries
 * leaves every other owner's share as a new read would show it, so the read is kept: after a
 * router reset, re-reading it whole after each of N Services cost O(N²) entries.
 */
async function resync(deps: ProgramDeps, report: ProgramReport): Promise<void> {
  let failure: unknown;
  let view: (RouterView & { soleOwner: (ops: readonly Op[]) => string | undefined }) | undefined;
  let stale = true;
  // the owners whose own entries were written since the read: their share of it is out of date
  const written = new Set<string>();
  const sent: Op[] = [];
  const router: RouterPort = {
    readMany: (menus) => deps.router.readMany(menus),
    read: (requests) => deps.router.read(requests),
    execute: (ops) => {
      sent.push(...ops);
      return deps.router.execute(ops);
    },
  };
  const fresh = async (): Promise<RouterView | undefined> => {
    if (!stale) return view;
    written.clear();
    try {
      const cluster = deps.classes.clusterName ?? DEFAULT_CLUSTER;
      const state = await router.readMany(menusToRead());
      view = { entries: partitionState(state, cluster), soleOwner: soleOwnerOf(state, cluster) };
      stale = false;
    } catch {
      view = undefined; // each owner then reports the router's failure itself
    }
    return view;
  };
  const attempt = async (uid: string, fn: (d: ProgramDeps, state: RouterView | undefined) => Promise<boolean>): Promise<void> => {
    if (written.has(uid)) stale = true;
    sent.length = 0;
    try {
      if (await fn({ ...deps, router }, await fresh())) {
        const sole = view?.soleOwner(sent);
        if (sole === uid) written.add(uid);
        else stale = true;
      }
    } catch (e) {
      stale = true; // part of a plan may have landed
      failure ??= e; // keep going: one broken Service must not starve the others
    }
  };
  // a Service listed as not ours (or being deleted) is not read again: a change after the list
  // sends program its own event (most Services of a cluster are ClusterIP ones)
  for (const svc of (await listServices(deps.kube)).items) {
    if (!managedAndLive(svc, deps.classes)) continue;
    await attempt(svc.metadata.uid ?? '', (d, state) => programService(d, svc.metadata.namespace ?? 'default', svc.metadata.name, report, state));
  }
  for (const a of (await listAllocations(deps.kube)).items) {
    if (a.metadata.labels?.[LABEL_SERVICE_UID] || !reservationOnRouter(a) || a.metadata.deletionTimestamp) continue;
    await attempt(a.metadata.uid ?? '', (d, state) => programReservation(d, a, report, state));
  }
  if (failure) throw failure;
}

async function route(deps: ProgramDeps, inv: Invocation, report: ProgramReport, pools: PoolsProgrammed): Promise<void> {
  if (inv.type === 'resync') return resync(deps, report);
  const { kind, name, namespace } = inv.ref;
  switch (kind) {
    case 'Service':
      await programService(deps, namespace ?? 'default', name, report);
      return;
    case 'IPAllocation':
      return programAllocation(deps, name, report);
    case 'EndpointSlice':
      return programEndpointSlice(deps, namespace ?? 'default', name, report);
    case 'IPPool':
      // a new pool holds no address yet (an ApiServerSource sends program every pool's add, and
      // lists every pool as new when it starts: see the bridge's routing table)
      if (inv.change === 'add') return;
      return programPool(deps, name, report, pools);
    case 'IPAddressClaim': {
      // a claim whose sharing changed: shared now, its holders write the address's own entries;
      // no longer (freed, or kept by one Service without a key), those go (claimSharingChanged).
      // A new claim changed nothing (an ApiServerSource sends program every claim's add).
      if (inv.change === 'add') return;
      const address = addressOfClaim(name);
      if (address) await claimSharingChanged(deps, address, report, (holder) => programAllocation(deps, holder, report));
      return;
    }
    case 'Namespace':
      report.actions.push('nothing to program for a Namespace');
      return;
  }
}

/** The program function: the router and the statuses follow what the cluster says. */
export function createProgram(deps: ProgramDeps): FunctionHandler {
  const pools: PoolsProgrammed = new Map();
  return async (inv) => {
    const report = newProgramReport();
    return settle(() => route(deps, inv, report, pools), () => ({ function: 'program', ...report }), classifyKubeError);
  };
}

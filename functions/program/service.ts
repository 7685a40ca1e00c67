import { advertisementWants, serviceProgram } from '../../lib/core/program-model.js';
import { ingressFor, serviceCondition, type RouterOutcome } from '../../lib/core/program-status.js';
import { setConditions } from '../../lib/core/conditions.js';
import { deepEqualJson } from '../../lib/core/equal.js';
import { matchAllocations, serviceIntent } from '../../lib/core/service.js';
import { parseAddress } from '../../lib/ip/index.js';
import { retryOnConflict } from '../../lib/k8s/conflict.js';
import type { Service } from '../../lib/k8s/core-objects.js';
import { LABEL_SERVICE_UID, type IPAllocation } from '../../lib/k8s/schemas.js';
import { getService, listAllocations, listEndpointSlices, listPools } from '../../lib/k8s/typed.js';
import type { RouterEntry } from '../../lib/routeros/state.js';
import { RouterUnavailableError, type ProgramDeps, type ProgramReport } from './deps.js';
import { programOwner, type OwnerProgram } from '../../lib/core/router-program.js';
import { DEFAULT_CLUSTER } from '../../lib/router/index.js';
import { writeOutcomes } from './statuses.js';

/**
 * The whole router as a resync read it once: every Service is planned against it (so entries a
 * narrowed read would miss are found too); after a change it is read again.
 */
export interface RouterView {
  /** The state as one owner sees it (see partitionState). */
  entries: (uid: string) => Record<string, RouterEntry[]>;
  changed: boolean;
}

const familyOf = (ip: string) => {
  const p = parseAddress(ip);
  return p.ok ? p.family : undefined;
};

/** Talks to the router; a failure becomes a BackendError outcome for every advertisement. */
async function applyToRouter(deps: ProgramDeps, p: OwnerProgram, report: ProgramReport, state?: RouterView): Promise<{ outcomes: Map<string, RouterOutcome>; error?: string }> {
  try {
    const owner = { ...p, cluster: deps.classes.clusterName ?? DEFAULT_CLUSTER };
    const { ops, outcomes } = await programOwner(deps.router, owner, state ? { state: state.entries(p.uid) } : {});
    if (ops.length > 0 && state) state.changed = true;
    report.routerOps += ops.length;
    if (ops.length) report.actions.push(`router: ${ops.length} change(s) for ${p.uid}`);
    return { outcomes };
  } catch (e) {
    const message = `The router refused or did not answer: ${e instanceof Error ? e.message : String(e)}`;
    return { outcomes: new Map(p.adverts.filter((w) => w.advertise).map((w) => [w.allocation.metadata.name, { kind: 'failed', message }])), error: message };
  }
}

async function writeServiceStatus(deps: ProgramDeps, first: Service, lbAllocations: IPAllocation[], all: IPAllocation[], lbEnabled: boolean, routerError: string | undefined, report: ProgramReport): Promise<void> {
  await retryOnConflict(`updating Service ${first.metadata.name}`, deps.retry, async (attempt) => {
    const svc = attempt === 1 ? first : await getService(deps.kube, first.metadata.namespace ?? 'default', first.metadata.name);
    if (!svc || svc.metadata.uid !== first.metadata.uid) return;
    const ingress = lbEnabled ? ingressFor(lbAllocations, svc.spec.ipFamilies ?? [], familyOf) : [];
    const conditions = setConditions(svc.status?.conditions, [serviceCondition(all, routerError)], svc.metadata.generation, deps.now());
    const next = { ...svc.status, loadBalancer: { ...svc.status?.loadBalancer, ingress }, conditions };
    if (deepEqualJson({ i: svc.status?.loadBalancer?.ingress ?? [], c: svc.status?.conditions ?? [] }, { i: ingress, c: conditions })) return;
    await deps.kube.replaceStatus('Service', { ...svc, status: next });
    report.actions.push(`Service ${svc.metadata.namespace}/${svc.metadata.name}: ingress ${ingress.map((i) => i.ip).join(', ') || 'none'}`);
  });
}

/**
 * Makes the router carry a Service's rules and its addresses' advertisements, then writes
 * what happened into the allocations' and the Service's status.
 */
export async function programService(deps: ProgramDeps, namespace: string, name: string, report: ProgramReport, state?: RouterView): Promise<void> {
  const svc = await getService(deps.kube, namespace, name);
  if (!svc?.metadata.uid || svc.metadata.deletionTimestamp) return;
  const intent = serviceIntent(svc, deps.classes);
  if (!intent.managed) return;
  const [allocations, slices, pools] = await Promise.all([
    listAllocations(deps.kube, `${LABEL_SERVICE_UID}=${svc.metadata.uid}`),
    listEndpointSlices(deps.kube, namespace, `kubernetes.io/service-name=${name}`),
    listPools(deps.kube),
  ]);
  const live = allocations.items.filter((a) => !a.metadata.deletionTimestamp);
  const model = serviceProgram(svc, intent, live, slices.items);
  const owner: OwnerProgram = { uid: svc.metadata.uid, service: model, adverts: advertisementWants(live, pools.items) };
  const { outcomes, error } = await applyToRouter(deps, owner, report, state);
  const written = await writeOutcomes(deps, live, outcomes, report);
  const lbNames = new Set([...matchAllocations(intent, live).matched].filter(([, d]) => d.roles.lb).map(([name]) => name));
  await writeServiceStatus(deps, svc, written.filter((a) => lbNames.has(a.metadata.name)), written, model.lbEnabled, error, report);
  if (error) throw new RouterUnavailableError(error);
}

/** An operator reservation (no Service): only its advertisement. */
export async function programReservation(deps: ProgramDeps, allocation: IPAllocation, report: ProgramReport, state?: RouterView): Promise<void> {
  const pools = await listPools(deps.kube);
  const owner: OwnerProgram = { uid: allocation.metadata.uid ?? '', adverts: advertisementWants([allocation], pools.items) };
  const { outcomes, error } = await applyToRouter(deps, owner, report, state);
  await writeOutcomes(deps, [allocation], outcomes, report);
  if (error) throw new RouterUnavailableError(error);
}

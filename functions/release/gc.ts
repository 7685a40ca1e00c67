import { leaveClaim } from '../../lib/k8s/claims.js';
import { holdersOf, sharedAddressOwner } from '../../lib/core/sharing.js';
import { serviceIntent } from '../../lib/core/service.js';
import { menusToRead, prepareGlobals } from '../../lib/core/router-program.js';
import { poolFamilies } from '../../lib/core/pools.js';
import { parseAddress, type IPFamily } from '../../lib/ip/index.js';
import { readPools } from '../../lib/k8s/mirror.js';
import { type IPAllocation } from '../../lib/k8s/schemas.js';
import { LABEL_SERVICE_UID, serviceOfLabels } from '../../lib/k8s/keys.js';
import { hasFinalizer } from '../../lib/k8s/finalizer.js';
import type { Service } from '../../lib/k8s/core-objects.js';
import { getService, listAllocations, listClaims, listServices } from '../../lib/k8s/typed.js';
import { DEFAULT_CLUSTER, scopes, type Owner } from '../../lib/router/index.js';
import { releaseAllocations } from './allocation.js';
import type { ReleaseDeps, ReleaseReport } from './deps.js';
import { onRouter, removeScoped } from './router.js';

/**
 * Claims nobody holds: those whose allocation is gone, at once, and those whose allocation's
 * status, settled on an address, names another one (a claim made by an instance that lost the
 * race), once older than the grace period (an allocation in flight may have claimed but not
 * yet recorded its address). The claims are listed before the allocations: an allocation
 * exists before any claim made for it, so a holder missing from the later list was deleted
 * for good (a claim its run made after the release, whose run then died before freeing it:
 * chaos, seed 6061006, where such a claim kept a shared address's entries for the grace
 * period). Each holder of a shared claim is judged alone (from when it joined); the claim
 * goes with the last.
 */
async function collectClaims(deps: ReleaseDeps, report: ReleaseReport): Promise<void> {
  const claims = (await listClaims(deps.kube)).items;
  const allocations = (await listAllocations(deps.kube)).items;
  const cutoff = deps.now().getTime() - deps.claimGraceMs;
  const byUid = new Map(allocations.map((a) => [a.metadata.uid ?? '', a]));
  for (const c of claims) {
    for (const h of holdersOf(c.spec)) {
      const a = byUid.get(h.allocationUID);
      if (a !== undefined && Date.parse(h.joinedAt ?? c.metadata.creationTimestamp ?? '') >= cutoff) continue;
      const settledElsewhere = a !== undefined && !a.metadata.deletionTimestamp && (a.status?.phase === 'Allocated' || a.status?.phase === 'Programmed') && a.status.address !== c.spec.address;
      if (a !== undefined && !settledElsewhere) continue;
      await leaveClaim(deps.kube, c, h.allocationUID);
      report.collected.claims++;
      deps.log.info('Collected a claim nobody holds', { address: c.spec.address, pool: c.spec.poolName, allocation: h.allocationName });
      break; // a shared claim changed: the next resync judges its other holders
    }
  }
}

function familyOf(a: IPAllocation): IPFamily | undefined {
  const p = a.status?.address ? parseAddress(a.status.address) : undefined;
  return p?.ok ? p.family : undefined;
}

/** The uids of the Services there are, each with whether it is ours and not being deleted. */
async function serviceStates(deps: ReleaseDeps): Promise<Map<string, boolean>> {
  return new Map((await listServices(deps.kube)).items.map((s) => [s.metadata.uid ?? '', serviceIntent(s, deps.classes).managed && !s.metadata.deletionTimestamp]));
}

/**
 * Whether a Service keeps its allocations: it is ours (and not being deleted), or carries our
 * finalizer (release takes it apart: it is being deleted, or no longer ours).
 */
const keepsAllocations = (deps: ReleaseDeps, s: Service): boolean =>
  hasFinalizer(s) || (serviceIntent(s, deps.classes).managed && !s.metadata.deletionTimestamp);

/**
 * Allocations of Services that no longer exist (or were re-created with a new uid), and of
 * Services that are no longer ours and lost our finalizer (taken off by hand, then the type or
 * class changed: no release ever comes for them). The Services are listed after the
 * allocations: an allocation listed earlier whose Service is absent from the later list lost it
 * for good (a uid never comes back), while a Service created between two lists taken the other
 * way round would have its new allocation collected (chaos, seed 99991). A Service that is not
 * ours may become ours again at any moment, so it is read once more before its allocation goes.
 */
async function collectOrphans(deps: ReleaseDeps, allocations: readonly IPAllocation[], report: ReleaseReport): Promise<void> {
  const listed = (await listServices(deps.kube)).items;
  const services = new Map(listed.map((s) => [s.metadata.uid ?? '', keepsAllocations(deps, s)]));
  const collected: string[] = [];
  for (const a of allocations) {
    const uid = a.metadata.labels?.[LABEL_SERVICE_UID];
    if (!uid || services.get(uid) === true || a.metadata.deletionTimestamp) continue;
    const exists = services.has(uid);
    if (exists && (await keptNow(deps, a, uid))) continue;
    await deps.kube.remove('IPAllocation', a.metadata.name, undefined, { uid: a.metadata.uid });
    collected.push(a.metadata.name);
    report.collected.allocations++;
    deps.log.info(exists ? 'Collected an allocation whose Service is no longer ours' : 'Collected an allocation whose Service is gone', { allocation: a.metadata.name });
  }
  await releaseAllocations(deps, collected, report, goneOwners(allocations, listed));
}

/**
 * The owners the allocations' labels name that are gone for good, from a list of the Services
 * taken after the allocations' (theirs): a uid a label named when the allocations were listed,
 * no Service's in the later list and no allocation's in the earlier one, is nobody's for good (no
 * object takes a uid already named). The release of an allocation labelled with one takes
 * everything tagged with it off the router, as routerOwner would find, and these releases share
 * one read of the router (releaseAllocations).
 */
export function goneOwners(allocations: readonly IPAllocation[], servicesAfter: readonly Service[]): Set<string> {
  const known = new Set([...allocations, ...servicesAfter].map((o) => o.metadata.uid));
  return new Set(allocations.flatMap((a) => a.metadata.labels?.[LABEL_SERVICE_UID] ?? []).filter((uid) => !known.has(uid)));
}

/** Whether the allocation's Service, read again, keeps it (see keepsAllocations). */
async function keptNow(deps: ReleaseDeps, a: IPAllocation, uid: string): Promise<boolean> {
  const named = serviceOfLabels(a.metadata.labels);
  const svc = named ? await getService(deps.kube, named.namespace, named.name) : undefined;
  return svc?.metadata.uid === uid && keepsAllocations(deps, svc);
}

/** Whose router entries may stay: a managed Service, an operator reservation, a shared address's claim. */
interface RouterKeepers {
  owners: Set<string>;
  /** The families whose global rules are still needed. */
  families: Set<IPFamily>;
}

/**
 * Read after the router: an owner created while the router was read (a new Service, programmed
 * at once) is in these lists, so only entries whose owner was gone before they were read go.
 */
async function routerKeepers(deps: ReleaseDeps): Promise<RouterKeepers> {
  const [services, allocations, claims, pools] = await Promise.all([serviceStates(deps), listAllocations(deps.kube), listClaims(deps.kube), readPools(deps.kube, deps.pools)]);
  const owners = new Set<string>([...services].filter(([, managed]) => managed).map(([uid]) => uid));
  for (const c of claims.items) {
    const owner = c.spec.sharingKey === undefined ? undefined : sharedAddressOwner(c.spec.address);
    if (owner) owners.add(owner);
  }
  // a family some pool serves keeps its globals: the controller creates them at start
  // (prepareGlobals) and would otherwise see them collected at every resync before a Service uses them
  const families = poolFamilies(pools.items);
  for (const a of allocations.items) {
    const svc = a.metadata.labels?.[LABEL_SERVICE_UID];
    if (!svc) owners.add(a.metadata.uid ?? '');
    const f = familyOf(a);
    if (f && (!svc || owners.has(svc)) && !a.metadata.deletionTimestamp) families.add(f);
  }
  return { owners, families };
}

/**
 * Resync garbage collection: claims nobody holds, allocations of vanished Services, router
 * entries tagged for this cluster whose owner no longer exists, and this cluster's global
 * rules of a family that nothing uses any more (no address held, no pool left). Other
 * clusters' entries are never touched. Each is logged and counted in the response. Whatever is
 * judged gone is judged by lists taken after it was read (see collectOrphans, routerKeepers):
 * the router entries and the global rules alike are removed from the one read that comes before
 * the lists.
 */
export async function collectGarbage(deps: ReleaseDeps, report: ReleaseReport): Promise<void> {
  await collectOrphans(deps, (await listAllocations(deps.kube)).items, report);
  await collectClaims(deps, report);
  await onRouter(deps, 'garbage', async () => {
    const state = await deps.router.readMany(menusToRead());
    const { owners, families } = await routerKeepers(deps);
    const cluster = deps.classes.clusterName ?? DEFAULT_CLUSTER;
    const orphaned = (o: Owner): boolean => o.cluster === cluster && o.kind === 'service' && !owners.has(o.uid);
    report.collected.routerEntries += await removeScoped(deps, state, orphaned);
    const unused = FAMILIES.filter((f) => !families.has(f));
    const removed: IPFamily[] = [];
    for (const f of unused) {
      const familyState = Object.fromEntries(Object.entries(state).filter(([m]) => m.startsWith(FAMILY_PREFIX[f])));
      const n = await removeScoped(deps, familyState, scopes.global(cluster));
      report.collected.globalRules += n;
      if (n > 0) removed.push(f);
    }
    if (removed.length > 0) await restoreGlobals(deps, removed, cluster, report);
  });
  if (report.collected.routerEntries + report.collected.globalRules > 0) {
    deps.log.info('Collected router entries', { orphaned: report.collected.routerEntries, globalRules: report.collected.globalRules });
  }
}

const FAMILIES: readonly IPFamily[] = ['IPv4', 'IPv6'];
const FAMILY_PREFIX: Record<IPFamily, string> = { IPv4: '/ip/', IPv6: '/ipv6/' };

/**
 * After a family's global rules were taken off: the family's first pool may have been created
 * between the lists that found it unused and the removal, and a Service of it programmed in
 * that gap found the rules standing and wrote none. So the lists are taken again, and the rules
 * of a family needed now are written back (as the controller prepares them at start): a program
 * run after these lists reads the router after the removal, and writes them itself.
 */
async function restoreGlobals(deps: ReleaseDeps, removed: readonly IPFamily[], cluster: string, report: ReleaseReport): Promise<void> {
  const { families } = await routerKeepers(deps);
  const needed = removed.filter((f) => families.has(f));
  if (needed.length === 0) return;
  const ops = await prepareGlobals(deps.router, needed, cluster);
  report.actions.push(`router: ${ops.length} change(s) putting back the global rules of ${needed.join(', ')}, needed again`);
  deps.log.info('Put back the global rules of a family needed again while they were collected', { families: needed, ops: ops.length });
}

import { leaveClaim } from '../../lib/k8s/claims.js';
import { holdersOf, sharedAddressOwner } from '../../lib/core/sharing.js';
import { serviceIntent } from '../../lib/core/service.js';
import { menusToRead } from '../../lib/core/router-program.js';
import { poolFamilies } from '../../lib/core/pools.js';
import { parseAddress, type IPFamily } from '../../lib/ip/index.js';
import { readPools } from '../../lib/k8s/mirror.js';
import { type IPAllocation } from '../../lib/k8s/schemas.js';
import { LABEL_SERVICE_UID } from '../../lib/k8s/keys.js';
import { listAllocations, listClaims, listServices } from '../../lib/k8s/typed.js';
import { DEFAULT_CLUSTER, scopes, type Owner } from '../../lib/router/index.js';
import { releaseAllocation } from './allocation.js';
import type { ReleaseDeps, ReleaseReport } from './deps.js';
import { onRouter, removeScoped } from './router.js';

/**
 * Claims nobody holds, once older than the grace period (an allocation in flight may have
 * claimed but not yet recorded its address): the allocation is gone, or its status, settled
 * on an address, names another one (a claim made by an instance that lost the race). Each
 * holder of a shared claim is judged alone (from when it joined); the claim goes with the last.
 * Resolves with the router owners of the shared claims that remain.
 */
async function collectClaims(deps: ReleaseDeps, allocations: readonly IPAllocation[], report: ReleaseReport): Promise<Set<string>> {
  const cutoff = deps.now().getTime() - deps.claimGraceMs;
  const byUid = new Map(allocations.map((a) => [a.metadata.uid ?? '', a]));
  const sharedOwners = new Set<string>();
  for (const c of (await listClaims(deps.kube)).items) {
    let freed = false;
    for (const h of holdersOf(c.spec)) {
      if (Date.parse(h.joinedAt ?? c.metadata.creationTimestamp ?? '') >= cutoff) continue;
      const a = byUid.get(h.allocationUID);
      const settledElsewhere = a !== undefined && !a.metadata.deletionTimestamp && (a.status?.phase === 'Allocated' || a.status?.phase === 'Programmed') && a.status.address !== c.spec.address;
      if (a !== undefined && !settledElsewhere) continue;
      const outcome = await leaveClaim(deps.kube, c, h.allocationUID);
      freed ||= outcome === 'freed';
      report.collected.claims++;
      deps.log.info('Collected a claim nobody holds', { address: c.spec.address, pool: c.spec.poolName, allocation: h.allocationName });
      break; // a shared claim changed: the next resync judges its other holders
    }
    const owner = c.spec.sharingKey === undefined || freed ? undefined : sharedAddressOwner(c.spec.address);
    if (owner) sharedOwners.add(owner);
  }
  return sharedOwners;
}

function familyOf(a: IPAllocation): IPFamily | undefined {
  const p = a.status?.address ? parseAddress(a.status.address) : undefined;
  return p?.ok ? p.family : undefined;
}

/** Allocations of Services that no longer exist (or were re-created with a new uid). */
async function collectOrphans(deps: ReleaseDeps, services: Map<string, boolean>, allocations: IPAllocation[], report: ReleaseReport): Promise<void> {
  for (const a of allocations) {
    const uid = a.metadata.labels?.[LABEL_SERVICE_UID];
    if (!uid || services.has(uid) || a.metadata.deletionTimestamp) continue;
    await deps.kube.remove('IPAllocation', a.metadata.name, undefined, { uid: a.metadata.uid });
    await releaseAllocation(deps, a.metadata.name, report);
    report.collected.allocations++;
    deps.log.info('Collected an allocation whose Service is gone', { allocation: a.metadata.name });
  }
}

/**
 * Resync garbage collection: claims nobody holds, allocations of vanished Services, router
 * entries tagged for this cluster whose owner no longer exists, and this cluster's global
 * rules of a family that nothing uses any more (no address held, no pool left). Other
 * clusters' entries are never touched. Each is logged and counted in the response.
 */
export async function collectGarbage(deps: ReleaseDeps, report: ReleaseReport): Promise<void> {
  const services = new Map((await listServices(deps.kube)).items.map((s) => [s.metadata.uid ?? '', serviceIntent(s, deps.classes).managed && !s.metadata.deletionTimestamp]));
  const allocations = (await listAllocations(deps.kube)).items;
  await collectOrphans(deps, services, allocations, report);
  const sharedOwners = await collectClaims(deps, (await listAllocations(deps.kube)).items, report);
  const owners = new Set<string>([...services].filter(([, managed]) => managed).map(([uid]) => uid).concat([...sharedOwners]));
  // a family some pool serves keeps its globals: the controller creates them at start
  // (prepareGlobals) and would otherwise see them collected at every resync before a Service uses them
  const families = poolFamilies((await readPools(deps.kube, deps.pools)).items);
  for (const a of allocations) {
    const svc = a.metadata.labels?.[LABEL_SERVICE_UID];
    if (!svc) owners.add(a.metadata.uid ?? '');
    const f = familyOf(a);
    if (f && (!svc || owners.has(svc)) && !a.metadata.deletionTimestamp) families.add(f);
  }
  await onRouter(deps, 'garbage', async () => {
    const state = await deps.router.readMany(menusToRead());
    const cluster = deps.classes.clusterName ?? DEFAULT_CLUSTER;
    const orphaned = (o: Owner): boolean => o.cluster === cluster && o.kind === 'service' && !owners.has(o.uid);
    report.collected.routerEntries += await removeScoped(deps, state, orphaned);
    for (const f of ['IPv4', 'IPv6'] as const) {
      if (families.has(f)) continue;
      const fresh = await deps.router.readMany(menusToRead());
      const prefix = f === 'IPv4' ? '/ip/' : '/ipv6/';
      const familyState = Object.fromEntries(Object.entries(fresh).filter(([m]) => m.startsWith(prefix)));
      report.collected.globalRules += await removeScoped(deps, familyState, scopes.global(cluster));
    }
  });
  if (report.collected.routerEntries + report.collected.globalRules > 0) {
    deps.log.info('Collected router entries', { orphaned: report.collected.routerEntries, globalRules: report.collected.globalRules });
  }
}

import { allocatedStatus, statusChanged } from '../../lib/core/allocation-status.js';
import { assignAddress, findReservation, type Decision } from '../../lib/core/assign.js';
import { poolStatus } from '../../lib/core/pool-status.js';
import { adoptedLedger, viewPools, type PoolView } from '../../lib/core/pools.js';
import { RetryLaterError, retryOnConflict } from '../../lib/k8s/conflict.js';
import type { IPFamily } from '../../lib/ip/index.js';
import { getAllocation, getService, listAllocations, listPools } from '../../lib/k8s/typed.js';
import { type IPAllocation, type LedgerEntry } from '../../lib/k8s/schemas.js';
import { serviceOfLabels, LABEL_SERVICE_UID } from '../../lib/k8s/keys.js';
import type { AllocateDeps, Report } from './deps.js';

interface World {
  views: PoolView[];
  ledgers: Map<string, LedgerEntry[]>;
}

/** Pools with their effective ledgers; pools without one adopt what allocation statuses hold. */
async function readWorld(deps: AllocateDeps): Promise<World> {
  const pools = await listPools(deps.kube);
  for (const bad of pools.invalid) deps.log.warn('Skipping an IPPool that does not match the schema', { pool: bad.name, problem: bad.message });
  const views = viewPools(pools.items);
  const needAdoption = views.some((v) => v.ledger === undefined);
  const allocations = needAdoption ? (await listAllocations(deps.kube)).items : [];
  const ledgers = new Map(views.map((v) => [v.name, v.ledger ?? adoptedLedger(v, allocations, deps.now())]));
  return { views, ledgers };
}

/** The Service an allocation belongs to: absent (operator reservation), present, or gone. */
async function owningService(deps: AllocateDeps, a: IPAllocation): Promise<{ state: 'none' } | { state: 'gone' } | { state: 'present'; key: string; ipFamilies: IPFamily[] }> {
  const named = serviceOfLabels(a.metadata.labels);
  if (!named) return { state: 'none' };
  const svc = await getService(deps.kube, named.namespace, named.name);
  const uid = a.metadata.labels?.[LABEL_SERVICE_UID];
  if (!svc || (uid && svc.metadata.uid !== uid) || svc.metadata.deletionTimestamp) return { state: 'gone' };
  return { state: 'present', key: `${named.namespace}/${named.name}`, ipFamilies: svc.spec.ipFamilies ?? [] };
}

/** How often one allocation may find (and release) a stale reservation before it retries later. */
const MAX_STALE_RELEASES = 3;

/** Writes the pool's ledger (and the counts derived from it) guarded by the resourceVersion read. */
async function writeLedger(deps: AllocateDeps, view: PoolView, ledger: LedgerEntry[]): Promise<void> {
  const status = poolStatus(view, ledger, deps.now());
  await deps.kube.replaceStatus('IPPool', { ...view.pool, status });
}

async function dropStaleReservation(deps: AllocateDeps, world: World, a: IPAllocation, d: Decision, report: Report): Promise<boolean> {
  const held = findReservation({ allocation: a, pools: world.views, ledgers: world.ledgers });
  if (!held || (d.ok && d.pool === held.pool.name && d.address === held.entry.address)) return false;
  const ledger = (world.ledgers.get(held.pool.name) ?? []).filter((e) => e.allocationUID !== a.metadata.uid);
  await writeLedger(deps, held.pool, ledger);
  report.actions.push(`released stale reservation ${held.entry.address} of ${a.metadata.name} in pool ${held.pool.name}`);
  return true;
}

async function reserve(deps: AllocateDeps, world: World, a: IPAllocation, d: Decision & { ok: true }, report: Report): Promise<void> {
  const view = world.views.find((v) => v.name === d.pool);
  if (!view) return;
  const ledger = world.ledgers.get(d.pool) ?? [];
  if (d.reserved && view.ledger !== undefined) return;
  const entry: LedgerEntry = { address: d.address, allocationName: a.metadata.name, allocationUID: a.metadata.uid ?? '', reservedAt: deps.now().toISOString() };
  const next = d.reserved ? ledger : [...ledger, entry];
  await writeLedger(deps, view, next);
  report.actions.push(d.reserved ? `adopted the ledger of pool ${d.pool}` : `reserved ${d.address} in pool ${d.pool} for ${a.metadata.name}`);
}

async function recordOutcome(deps: AllocateDeps, a: IPAllocation, d: Decision): Promise<void> {
  const regarding = { kind: 'IPAllocation' as const, name: a.metadata.name, uid: a.metadata.uid };
  if (d.ok) {
    await deps.kube.recordEvent({ regarding, type: 'Normal', reason: 'IPAllocated', note: `Allocated address ${d.address} from pool ${d.pool}.`, action: 'Allocate' });
    deps.log.info('Allocated an address', { allocation: a.metadata.name, address: d.address, pool: d.pool });
  } else {
    await deps.kube.recordEvent({ regarding, type: 'Warning', reason: d.reason, note: d.message, action: 'Allocate' });
    deps.log.warn('Allocation failed', { allocation: a.metadata.name, reason: d.reason, message: d.message });
  }
}

/**
 * Converges one IPAllocation: an address reserved in its pool's ledger (guarded by the pool's
 * resourceVersion), then the allocation's status. Re-invocation finds the reservation by uid,
 * so a crash between the two writes is completed with the same address.
 */
export async function allocateAddress(deps: AllocateDeps, name: string, report: Report): Promise<void> {
  // The allocation and its Service are read again only when the allocation's own write
  // conflicts; a conflict on the pool (the common case under load) re-reads just the pools.
  let a: IPAllocation | undefined;
  let owner: Awaited<ReturnType<typeof owningService>> | undefined;
  await retryOnConflict(`allocating ${name}`, deps.retry, async () => {
    if (!a || !owner) {
      a = await getAllocation(deps.kube, name);
      if (!a || a.metadata.deletionTimestamp) return;
      owner = await owningService(deps, a);
    }
    if (owner.state === 'gone') {
      report.actions.push(`skipped ${name}: its Service is gone`);
      return;
    }
    const current = a;
    const service = owner.state === 'present' ? { key: owner.key, ipFamilies: owner.ipFamilies } : undefined;
    // A reservation of another address than the one chosen is released first; the choice is
    // then made again from fresh reads (the release changed the pool).
    let world = await readWorld(deps);
    let d = assignAddress({ allocation: current, pools: world.views, ledgers: world.ledgers, ...(service ? { service } : {}) });
    for (let released = 0; await dropStaleReservation(deps, world, current, d, report); released++) {
      if (released >= MAX_STALE_RELEASES) throw new RetryLaterError(`allocating ${name}: a stale reservation came back ${released} times`);
      world = await readWorld(deps);
      d = assignAddress({ allocation: current, pools: world.views, ledgers: world.ledgers, ...(service ? { service } : {}) });
    }
    if (d.ok) await reserve(deps, world, current, d, report);
    const pool = d.ok ? world.views.find((v) => v.name === d.pool)?.pool.spec : undefined;
    const next = allocatedStatus(current, d, pool ? { advertise: pool.advertise, ...(pool.interfaceName ? { interfaceName: pool.interfaceName } : {}) } : undefined, deps.now());
    if (!statusChanged(current.status, next)) return;
    try {
      await deps.kube.replaceStatus('IPAllocation', { ...current, status: next });
    } catch (e) {
      a = undefined; // the allocation itself changed: read it (and its Service) again
      throw e;
    }
    report.actions.push(d.ok ? `${name}: ${d.address} from pool ${d.pool}` : `${name}: ${d.reason}`);
    if (current.status?.address !== next.address || current.status?.phase !== next.phase || !d.ok) await recordOutcome(deps, current, d);
  }, () => {
    report.conflicts++;
    deps.onConflict?.();
  });
}

import { poolStatus } from '../../lib/core/pool-status.js';
import { adoptedHoldings, poolKeeping, type PoolView } from '../../lib/core/pools.js';
import { messageOf } from '../../lib/errors.js';
import { claimAddress } from '../../lib/k8s/claims.js';
import { retryOnConflict } from '../../lib/k8s/conflict.js';
import { LABEL_SERVICE_UID } from '../../lib/k8s/keys.js';
import type { IPAllocation } from '../../lib/k8s/schemas.js';
import { getPool, listAllocations } from '../../lib/k8s/typed.js';
import type { AllocateRun, Report } from './deps.js';
import { sayClaimUnreadable } from './unreadable.js';

/**
 * Converts pools to per-address claims: every address a pool's ledger (earlier versions) or an
 * allocation's status (upstream MikroLB, which keeps no ledger) says is held gets its claim,
 * then the pool is marked `claimsAdopted` and its ledger dropped. Until then a pool hands out
 * nothing. Idempotent and safe to run in several instances at once: claims are
 * create-if-absent, the pool's status write carries its resourceVersion.
 * A pool being deleted is converted too: its holders keep their addresses until they are
 * released, and only a claim proves that (unconverted, each of their runs took the claim anew,
 * found the pool being deleted, gave the claim back and tried again, until it gave up: every
 * resync failed there). Release reads the ledger as well as the claims until the pool's status
 * says it is converted, and the claims are made before that status: no holder is missed.
 */
export async function adoptClaims(deps: AllocateRun, views: readonly PoolView[], report: Report): Promise<Withheld> {
  const withheld: Withheld = new Map();
  const pending = views.filter((v) => !v.claimsAdopted);
  if (pending.length === 0) return withheld;
  const allocations: IPAllocation[] = (await listAllocations(deps.kube)).items;
  // one pool whose conversion keeps failing must not fail every allocation (each runs this):
  // it is withheld, says why, and is tried again by the next run
  for (const view of pending) {
    try {
      await adoptPool(deps, view, allocations, report);
    } catch (e) {
      withheld.set(view.name, e);
      await sayNotAdopted(deps, view, e);
    }
  }
  return withheld;
}

/**
 * The pools whose conversion failed in this run, with the error: they hand out nothing, and an
 * allocation that needs one of them ends with its error (retried), see `needsWithheld`.
 */
export type Withheld = Map<string, unknown>;

async function adoptPool(deps: AllocateRun, view: PoolView, allocations: readonly IPAllocation[], report: Report): Promise<void> {
  const holdings = adoptedHoldings(view, allocations);
  for (const h of holdings) {
    const svc = allocations.find((a) => a.metadata.uid === h.allocationUID)?.metadata.labels?.[LABEL_SERVICE_UID];
    const r = await claimAddress(deps.kube, h, svc);
    if (!r.claimed && 'unreadable' in r) await sayClaimUnreadable(deps, view.pool, r.unreadable, h.allocationName);
    else if (!r.claimed) {
      deps.log.warn('An address two allocations held is kept by the one that claimed it first', { address: h.address, pool: view.name, kept: r.holder.spec.allocationName, other: h.allocationName });
    }
  }
  const converted = await retryOnConflict(`adopting claims in pool ${view.name}`, deps.retry, async () => {
    const pool = await getPool(deps.kube, view.name);
    if (!pool || pool.status?.claimsAdopted) return false;
    await deps.kube.replaceStatus('IPPool', { ...pool, status: poolStatus({ ...view, pool }, holdings, deps.now()) });
    return true;
  });
  // Another instance converted it meanwhile (with the same claims): it said so.
  if (!converted) return;
  report.actions.push(`pool ${view.name}: ${holdings.length} held address(es) converted to claims`);
  deps.log.info('Converted a pool to address claims', { pool: view.name, claims: holdings.length, fromLedger: view.ledger !== undefined });
}

/** A Warning event on the pool (best effort: the run goes on for the other pools either way). */
async function sayNotAdopted(deps: AllocateRun, view: PoolView, e: unknown): Promise<void> {
  const error = messageOf(e);
  deps.log.warn('A pool could not be converted to address claims; it hands out nothing until it is', { pool: view.name, error });
  const note = `Pool ${view.name} could not be converted to address claims: ${error}. It hands out no address until it is; each allocation tries again.`;
  try {
    await deps.kube.recordEvent({ regarding: { kind: 'IPPool', name: view.name, uid: view.pool.metadata.uid }, type: 'Warning', reason: 'ClaimsNotAdopted', note, action: 'Allocate' });
  } catch (err) {
    deps.log.warn('Could not record an event', { pool: view.name, reason: 'ClaimsNotAdopted', error: messageOf(err) });
  }
}

/**
 * Which withheld pool the allocation needs, if any: the pool it names, the one that keeps the
 * address it names or holds, or — a family allocation that found no address — one of its
 * family that may have had one. Undefined when it can be decided without them.
 */
export function needsWithheld(a: IPAllocation, views: readonly PoolView[], withheld: Withheld, held: string | undefined, found: boolean): string | undefined {
  if (withheld.size === 0) return undefined;
  const keeping = (address: string | undefined): string | undefined => (address === undefined ? undefined : poolKeeping(views, address)?.name);
  const named = [a.spec.poolName, keeping(a.spec.address), keeping(held)];
  if (!found && a.spec.ipFamily) named.push(...views.filter((v) => v.family === a.spec.ipFamily).map((v) => v.name));
  return named.find((n) => n !== undefined && withheld.has(n));
}

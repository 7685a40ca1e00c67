import type { IPAllocation } from '../k8s/schemas.js';

/**
 * Closing the races between a router write planned from a Service's allocations and the release
 * of one of them. A release takes an allocation's entries off the router once, after the
 * allocation's deletion is visible in the API server; a write planned from an earlier read of
 * the allocations, landing after that, would put them back for good (until a resync). So after
 * each such write the owner and its allocations are read again, and while an allocation the
 * write was planned with is gone (or holds another address), the owner is planned from what the
 * cluster says now and written again: the loop ends with a write planned from what the cluster
 * still said after it. Whatever is released later is released after that write, and its release
 * takes its entries off. program (after its write) and release (after re-planning a Service
 * without an allocation) both settle this way.
 */
export interface SettleSteps<O> {
  /** The owner as the cluster says now; undefined once it is gone, being deleted or no longer ours. */
  owner(): Promise<O | undefined>;
  /** The owner's allocations as the cluster says now. */
  allocations(): Promise<IPAllocation[]>;
  /**
   * Plans the owner from `planned` and writes the router, against whole menus: every entry of
   * the owner it did not plan goes (see settleWrites on what that means for new allocations).
   */
  write(owner: O, planned: IPAllocation[]): Promise<void>;
  /** The owner went while the router was written: everything of it goes. `planned`: what the last write was planned with. */
  gone(planned: IPAllocation[]): Promise<void>;
  /**
   * Whether what the last write was planned from besides the allocations (the owner's spec, its
   * endpoints, its pools) changed since; the next write then plans from it as it is now. Asked
   * only once the allocations are settled. Without it, only the allocations count.
   */
  moved?(owner: O): Promise<boolean>;
}

export type Settled =
  | { kind: 'settled'; allocations: IPAllocation[] }
  | { kind: 'gone' }
  /** Still changing after the last write allowed: the next program or resync settles it. */
  | { kind: 'unsettled'; allocations: IPAllocation[] };

/** How many more writes a settle makes for an owner whose allocations keep changing under it. */
export const SETTLE_ROUNDS = 5;

/**
 * After a write planned from `planned`: reads again, and re-plans and writes (at most `rounds`
 * times) until settled. `whole`: that first write was planned against whole menus, as every
 * write of `steps.write` is — it took off the entries of an allocation it did not plan with,
 * which a program run that read that allocation (recorded after `planned` was read) may have
 * written just before. So after such a write an allocation holding an address it did not plan
 * counts as a change too, and the owner is planned again with it (a release re-planning a
 * Service whose new allocation was programmed meanwhile left it Programmed with nothing on the
 * router until the resync). A narrowed write reads only the entries of the addresses it plans,
 * and leaves those of a new allocation alone.
 */
export async function settleWrites<O>(steps: SettleSteps<O>, planned: IPAllocation[], opts: { whole?: boolean; rounds?: number } = {}): Promise<Settled> {
  const rounds = opts.rounds ?? SETTLE_ROUNDS;
  let whole = opts.whole === true;
  for (let round = 0; ; round++) {
    const owner = await steps.owner();
    if (owner === undefined) {
      await steps.gone(planned);
      return { kind: 'gone' };
    }
    const now = await steps.allocations();
    if (stillHolding(planned, now) && (!whole || noneNew(planned, now)) && !(await steps.moved?.(owner))) return { kind: 'settled', allocations: now };
    if (round === rounds) return { kind: 'unsettled', allocations: now };
    await steps.write(owner, now);
    planned = now;
    whole = true;
  }
}

/**
 * Whether each of `planned` is still among `current` (not being deleted) with the same status
 * address: what a router write planned from `planned` put there is still wanted. (New
 * allocations in `current` do not count: nothing of theirs was written.)
 */
export function stillHolding(planned: readonly IPAllocation[], current: readonly IPAllocation[]): boolean {
  const now = new Map(current.filter((a) => !a.metadata.deletionTimestamp).map((a) => [a.metadata.uid ?? '', a.status?.address ?? '']));
  return planned.every((a) => now.get(a.metadata.uid ?? '') === (a.status?.address ?? ''));
}

/**
 * Whether every allocation of `current` that holds an address (not being deleted) was planned
 * with that address: none is new to a write planned from `planned`, nor recorded an address since.
 */
export function noneNew(planned: readonly IPAllocation[], current: readonly IPAllocation[]): boolean {
  return stillHolding(current.filter((a) => !a.metadata.deletionTimestamp && a.status?.address !== undefined), planned);
}

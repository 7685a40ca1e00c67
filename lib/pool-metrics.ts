import * as z from 'zod';
import { COND_ALLOCATED } from './core/allocation-status.js';
import { FAILURE_REASONS, type FailureReason } from './core/assign.js';
import { poolKeeping, type PoolCounts, type PoolView } from './core/pools.js';
import { createRegistry, type Labels } from './exposition.js';
import type { IPFamily } from './ip/index.js';
import type { IPAllocation } from './k8s/schemas.js';

/** The names a MetalLB user knows (`metallb_allocator_addresses_*`), under MikroLB's prefix. */
export const ADDRESSES_IN_USE = 'mikrolb_allocator_addresses_in_use_total';
export const ADDRESSES_TOTAL = 'mikrolb_allocator_addresses_total';
export const ALLOCATION_FAILURES = 'mikrolb_allocator_failures_total';
export const ALLOCATIONS_FAILED = 'mikrolb_allocator_allocations_failed';


/**
 * Per-pool usage and allocation failures, as the allocate function sees them: it recounts a
 * pool from its claims whenever the pool or one of its claims changes (the figures of the
 * pool's status, exact instead of `1K`), and decides every allocation.
 */
export interface PoolMetrics {
  /** A pool was recounted from its claims. */
  counted(pool: string, family: IPFamily, counts: PoolCounts): void;
  /** These are all the pools there are: the series of any other pool go (its gauges, and its failure counter's). */
  retain(pools: Iterable<string>): void;
  /**
   * An allocation was decided: failed (counted, and it is failing until decided otherwise) or
   * not. A failure of a family its Service can go without (`optional`) is neither.
   */
  decided(allocation: string, failure?: Failure): void;
  /**
   * Every allocation that is not settled (every failed one among them), as just listed: those
   * no longer failed (or gone) stop counting as failing; `pools` place the ones asking for an
   * address (`failedPool`).
   */
  listed(allocations: readonly IPAllocation[], pools: readonly PoolView[]): void;
  render(): string;
}

export interface Failure {
  /** See `failedPool`. */
  pool: string;
  reason: FailureReason;
  /**
   * The allocation is of the family a PreferDualStack Service can go without (`optionalFamily`
   * in lib/core/service.ts): the Service is ready without it (`SecondaryFamilyUnavailable`), so
   * its failure is no failure to count or alert on. Remembered, so that the list of a pool's
   * recount (which cannot tell) does not count it as failing either.
   */
  optional?: boolean;
}

interface Counted {
  family: IPFamily;
  total: number;
  allocated: number;
}

export interface PoolMetricsOptions {
  /**
   * Whether this process's figures are current (default: always). A controller replica that
   * lost its lease no longer runs allocate: its gauges would stay as they were, so they are
   * left out (its counters stay: they count what it did).
   */
  current?: () => boolean;
}

export function createPoolMetrics(opts: PoolMetricsOptions = {}): PoolMetrics {
  const current = opts.current ?? (() => true);
  const registry = createRegistry();
  const pools = new Map<string, Counted>();
  const gauge = (pick: (c: Counted) => number) => (): (readonly [Labels, number])[] =>
    !current() ? [] : [...pools].sort(([a], [b]) => a.localeCompare(b)).map(([pool, c]) => [{ pool, family: c.family }, pick(c)] as const);
  registry.gauge(ADDRESSES_IN_USE, 'Addresses of the pool held by an address claim (allocated), by pool and family.', gauge((c) => c.allocated));
  registry.gauge(ADDRESSES_TOTAL, 'Addresses the pool can hand out (its spec less avoidBuggyIPs and addresses an older pool owns), by pool and family.', gauge((c) => c.total));
  const failures = registry.counter(ALLOCATION_FAILURES, 'Allocation decisions that failed, by pool (the one asked for or containing the asked address; empty for a family) and reason.');
  const zero = (pool: string): void => FAILURE_REASONS.forEach((reason) => failures.inc({ pool, reason }, 0));
  zero('');
  const failing = new Map<string, { pool: string; reason: string; optional?: boolean }>();
  const counted = (): Labels[] => [...failing.values()].flatMap((f) => (f.optional ? [] : [{ pool: f.pool, reason: f.reason }]));
  registry.gauge(ALLOCATIONS_FAILED, 'IPAllocations whose last decision failed (phase Failed), by pool and reason; not those of a family their Service can go without.', () => (current() ? tally(counted()) : []));
  return {
    counted(pool, family, counts) {
      if (!pools.has(pool)) zero(pool);
      // beyond 2^53 a float is as close as Prometheus can hold anyway (an IPv6 /64 is 1.8e19)
      pools.set(pool, { family, total: Number(counts.total), allocated: Number(counts.allocated) });
    },
    retain(names) {
      const keep = new Set(names);
      for (const pool of pools.keys()) if (!keep.has(pool)) pools.delete(pool);
      // a deleted pool's counter series would stay for good, one per reason, with every pool
      // ever created and deleted; were it created again, its counter starts again at zero
      failures.drop((labels) => (labels.pool ?? '') !== '' && !keep.has(labels.pool ?? ''));
    },
    decided(allocation, failure) {
      if (!failure) return void failing.delete(allocation);
      if (failure.optional) return void failing.set(allocation, { pool: failure.pool, reason: failure.reason, optional: true });
      // a pool that does not exist is any name a Service writes: as a counter's label it would
      // add a series for good (the gauge's series go with the allocation)
      failures.inc({ pool: failure.reason === 'PoolNotFound' ? '' : failure.pool, reason: failure.reason });
      failing.set(allocation, { pool: failure.pool, reason: failure.reason });
    },
    listed(allocations, views) {
      const failed = new Map(allocations.flatMap((a) => {
        const reason = a.status?.phase === 'Failed' && !a.metadata.deletionTimestamp ? failureReason(a) : undefined;
        return reason ? [[a.metadata.name, { pool: failedPool(a, views), reason }] as const] : [];
      }));
      for (const name of failing.keys()) if (!failed.has(name)) failing.delete(name);
      for (const [name, f] of failed) if (!failing.has(name)) failing.set(name, f);
    },
    render: () => registry.render(),
  };
}

const ReleasedShape = z.object({ metadata: z.object({ name: z.string(), deletionTimestamp: z.string().optional() }) });

/**
 * Allocations the watch sees being deleted, or gone, stop counting as failing: allocate is not
 * woken for them (they are release's alone), and a failed allocation frees no address, so no
 * recount of its pool would notice. For the all-in-one controller's watch (a WatchMirror's
 * `seen` and `gone`).
 */
export function forgetReleased(metrics: Pick<PoolMetrics, 'decided'>): { seen(obj: unknown): void; gone(obj: unknown): void } {
  const forget = (obj: unknown, always: boolean): void => {
    const parsed = ReleasedShape.safeParse(obj);
    if (parsed.success && (always || parsed.data.metadata.deletionTimestamp !== undefined)) metrics.decided(parsed.data.metadata.name);
  };
  return { seen: (obj) => forget(obj, false), gone: (obj) => forget(obj, true) };
}

/** Series of how many share each label set, in a stable order. */
function tally(entries: Iterable<Labels>): (readonly [Labels, number])[] {
  const counts = new Map<string, readonly [Labels, number]>();
  for (const labels of entries) {
    const key = JSON.stringify(labels);
    counts.set(key, [labels, (counts.get(key)?.[1] ?? 0) + 1]);
  }
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([, series]) => series);
}

/** The reason a failed allocation's Allocated condition gives. */
const failureReason = (a: IPAllocation): string | undefined =>
  a.status?.conditions?.find((c) => c.type === COND_ALLOCATED && c.status === 'False')?.reason;

/**
 * The pool a failed allocation is counted under: the one it names, else the one holding the
 * address it asks for; '' for an allocation of a family (no pool had an address) or of an
 * address in no pool.
 */
export function failedPool(a: IPAllocation, pools: readonly PoolView[]): string {
  if (a.spec.poolName) return a.spec.poolName;
  return a.spec.address ? (poolKeeping(pools, a.spec.address)?.name ?? '') : '';
}

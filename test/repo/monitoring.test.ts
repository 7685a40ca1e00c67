/**
 * The alerts and the dashboard of deploy/components/monitoring speak about series the code
 * exports, with labels those series have: a renamed metric or label fails here, not silently
 * in someone's Prometheus.
 */
import { describe, expect, it } from 'vitest';
import { ADDRESSES_IN_USE, ADDRESSES_TOTAL, ALLOCATIONS_FAILED, ALLOCATION_FAILURES } from '../../lib/pool-metrics.js';
import {
  alertsOf, dashboardExprs, exportedSeries, labelsIn, readDashboard, readRule, seriesIn, TARGET_LABELS,
} from '../deploy/monitoring.js';

const exported = exportedSeries();

/** What is wrong with an expression: series the code does not export, labels they do not carry. */
function problemsOf(expr: string): string[] {
  const series = seriesIn(expr);
  const problems = series.length === 0 ? [`${expr}: selects no series`] : [];
  problems.push(...series.filter((s) => !exported.has(s)).map((s) => `${expr}: ${s} is not exported`));
  const carried = new Set([...TARGET_LABELS, ...series.flatMap((s) => [...(exported.get(s) ?? [])])]);
  problems.push(...labelsIn(expr).filter((l) => !carried.has(l)).map((l) => `${expr}: no series of it has label ${l}`));
  return problems;
}

describe('reading PromQL (the check itself can fail)', () => {
  it('finds series and labels, and flags a name or label the code does not export', () => {
    const expr = 'histogram_quantile(0.95, sum by (function, le) (rate(mikrolb_bridge_invocation_duration_seconds_bucket{job=~".*x"}[5m]))) / on(pod) group_left up';
    expect(seriesIn(expr)).toEqual(['mikrolb_bridge_invocation_duration_seconds_bucket', 'up']);
    expect(labelsIn(expr)).toEqual(['function', 'le', 'job']);
    expect(seriesIn('label_values(mikrolb_allocator_addresses_total, pool)')).toEqual(['mikrolb_allocator_addresses_total']);
    expect(problemsOf('max by (pool) (mikrolb_allocator_addresses_in_use)')).toEqual([
      'max by (pool) (mikrolb_allocator_addresses_in_use): mikrolb_allocator_addresses_in_use is not exported',
      'max by (pool) (mikrolb_allocator_addresses_in_use): no series of it has label pool',
    ]);
    expect(problemsOf('max by (poolName) (mikrolb_allocator_addresses_total)')).toEqual(['max by (poolName) (mikrolb_allocator_addresses_total): no series of it has label poolName']);
  });
});

describe('deploy/components/monitoring', () => {
  it('alerts on pools above 90% in use, exhausted pools, allocations failing for 10 minutes, and a kind the bridge cannot list for 10 minutes', async () => {
    const alerts = alertsOf(await readRule());
    const byName = new Map(alerts.map((a) => [a.alert, a]));
    expect([...byName.keys()].sort()).toEqual(['MikroLBAddressPoolExhausted', 'MikroLBAddressPoolUsageHigh', 'MikroLBAllocationsFailing', 'MikroLBCannotList']);
    expect(byName.get('MikroLBAddressPoolUsageHigh')?.expr).toMatch(/> 0\.9\s*$/);
    expect(seriesIn(byName.get('MikroLBAddressPoolUsageHigh')?.expr ?? '')).toEqual([ADDRESSES_IN_USE, ADDRESSES_TOTAL]);
    expect(byName.get('MikroLBAllocationsFailing')).toMatchObject({ for: '10m' });
    expect(seriesIn(byName.get('MikroLBAllocationsFailing')?.expr ?? '')).toEqual([ALLOCATIONS_FAILED]);
    expect(byName.get('MikroLBCannotList')).toMatchObject({ for: '10m' });
    expect(seriesIn(byName.get('MikroLBCannotList')?.expr ?? '')).toEqual(['mikrolb_bridge_list_failures_total']);
  });

  it('every alert expression uses exported series and labels, and its annotations only labels it keeps', async () => {
    for (const alert of alertsOf(await readRule())) {
      expect(problemsOf(alert.expr)).toEqual([]);
      const kept = new Set(labelsIn(alert.expr));
      const used = [...`${alert.annotations.summary} ${alert.annotations.description}`.matchAll(/\$labels\.(\w+)/g)].map((m) => m[1]);
      expect(used.filter((l) => l === undefined || !kept.has(l)), alert.alert).toEqual([]);
    }
  });

  it('every dashboard query uses exported series and labels, and the pool series are all on it', async () => {
    const exprs = dashboardExprs(await readDashboard());
    expect(exprs.length).toBeGreaterThan(5);
    expect(exprs.flatMap(problemsOf)).toEqual([]);
    const shown = new Set(exprs.flatMap(seriesIn));
    expect([ADDRESSES_IN_USE, ADDRESSES_TOTAL, ALLOCATIONS_FAILED, ALLOCATION_FAILURES].filter((s) => !shown.has(s))).toEqual([]);
  });
});

/**
 * deploy/components/monitoring read back: the PrometheusRule, the PodMonitor and the Grafana
 * dashboard through zod, every PromQL expression in them, and the series names and labels the
 * code exports (rendered from the real registries with a sample of everything).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { createBridgeMetrics } from '../../bridge/metrics.js';
import { GC_COLLECTED, gcCounters, ROUTER_LIMITS } from '../../lib/metrics.js';
import { createPoolMetrics } from '../../lib/pool-metrics.js';
import { DEPLOY } from './render.js';
import { parseSamples } from '../helpers/prom-text.js';

export const MONITORING = join(DEPLOY, 'components', 'monitoring');

const Meta = z.object({ name: z.string(), namespace: z.string(), labels: z.record(z.string(), z.string()).optional() });

export const AlertSchema = z.object({
  alert: z.string().regex(/^MikroLB[A-Za-z]+$/),
  expr: z.string().min(1),
  for: z.string().regex(/^\d+[smh]$/),
  labels: z.object({ severity: z.enum(['warning', 'critical']) }),
  annotations: z.object({ summary: z.string().min(1), description: z.string().min(1) }),
}).strict();
export type Alert = z.infer<typeof AlertSchema>;

export const PrometheusRuleSchema = z.object({
  apiVersion: z.literal('monitoring.coreos.com/v1'),
  kind: z.literal('PrometheusRule'),
  metadata: Meta,
  spec: z.object({ groups: z.array(z.object({ name: z.string(), rules: z.array(AlertSchema).min(1) }).strict()).min(1) }).strict(),
});

export const PodMonitorSchema = z.object({
  apiVersion: z.literal('monitoring.coreos.com/v1'),
  kind: z.literal('PodMonitor'),
  metadata: Meta,
  spec: z.object({
    selector: z.object({ matchExpressions: z.array(z.object({ key: z.string(), operator: z.literal('In'), values: z.array(z.string()) })) }),
    podMetricsEndpoints: z.array(z.object({ port: z.string(), path: z.literal('/metrics'), interval: z.string() }).strict()).min(1),
  }),
});

const Target = z.object({ expr: z.string().min(1), refId: z.string(), legendFormat: z.string() }).loose();
interface Panel { type: string; title: string; targets?: z.infer<typeof Target>[] | undefined; panels?: Panel[] | undefined }
const PanelSchema: z.ZodType<Panel> = z.lazy(() => z.object({
  type: z.string(), title: z.string(), targets: z.array(Target).optional(), panels: z.array(PanelSchema).optional(),
}).loose());

export const DashboardSchema = z.object({
  uid: z.string(),
  title: z.string(),
  panels: z.array(PanelSchema).min(1),
  templating: z.object({ list: z.array(z.object({ name: z.string(), type: z.string(), definition: z.string().optional() }).loose()) }),
}).loose();
export type Dashboard = z.infer<typeof DashboardSchema>;

export async function readRule(): Promise<z.infer<typeof PrometheusRuleSchema>> {
  return PrometheusRuleSchema.parse(parse(await readFile(join(MONITORING, 'prometheus-rule.yaml'), 'utf8')));
}

export async function readDashboard(): Promise<Dashboard> {
  return DashboardSchema.parse(JSON.parse(await readFile(join(MONITORING, 'dashboard.json'), 'utf8')));
}

export const alertsOf = (rule: z.infer<typeof PrometheusRuleSchema>): Alert[] => rule.spec.groups.flatMap((g) => g.rules);

/** Every PromQL expression of the dashboard: panel targets (rows included) and template queries. */
export function dashboardExprs(d: Dashboard): string[] {
  const ofPanel = (p: Panel): string[] => [...(p.targets ?? []).map((t) => t.expr), ...(p.panels ?? []).flatMap(ofPanel)];
  return [...d.panels.flatMap(ofPanel), ...d.templating.list.flatMap((v) => (v.definition ? [v.definition] : []))];
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset']);

/** The series an expression selects: identifiers that are neither functions, keywords, labels, strings nor durations. */
export function seriesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = [...stripped.matchAll(/(?<![\w.$:])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()/g)].map((m) => m[1] ?? '');
  // label_values(metric, label): the second argument is a label
  const labelArgs = new Set([...expr.matchAll(/label_values\([^,]+,\s*(\w+)\)/g)].map((m) => m[1]));
  return [...new Set(names.filter((n) => !KEYWORDS.has(n) && !labelArgs.has(n) && !/^\d/.test(n)))];
}

/** Labels an expression groups by or matches on (`by (…)`, `{label=…}`, label_values' label). */
export function labelsIn(expr: string): string[] {
  const grouped = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) => (m[1] ?? '').split(','));
  const matched = [...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) => [...(m[1] ?? '').matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1] ?? ''));
  const valued = [...expr.matchAll(/label_values\([^,]+,\s*(\w+)\)/g)].map((m) => m[1] ?? '');
  return [...new Set([...grouped, ...matched, ...valued].map((l) => l.trim()).filter((l) => l !== ''))];
}

/** Labels Prometheus adds to every series a PodMonitor scrapes. */
export const TARGET_LABELS: ReadonlySet<string> = new Set(['pod', 'namespace', 'job', 'instance', 'container', 'endpoint']);

/** What the controller's /metrics serves, rendered from the code's registries with a sample of everything. */
function renderedMetrics(): string {
  const pools = createPoolMetrics();
  pools.counted('p', 'IPv4', { total: 2n, allocated: 1n, free: 1n });
  pools.decided('a', { pool: 'p', reason: 'PoolExhausted' });
  const counters = gcCounters();
  counters.add(GC_COLLECTED, { what: 'claims' });
  counters.add(ROUTER_LIMITS, { limit: 'idle' });
  const bridge = createBridgeMetrics();
  bridge.attach({ queue: () => ({ depth: 0, inFlight: 0 }), tracked: () => 0, leader: () => true, ready: () => true });
  bridge.queue.dispatched('allocate', 1);
  bridge.queue.settled('allocate', 'success', 1, 1);
  bridge.queue.retried('allocate', 1);
  bridge.queue.recovered('allocate', 1);
  bridge.queue.coalesced('allocate');
  bridge.timedOut('allocate');
  bridge.source.watchEvent('IPPool', 'ADDED');
  return bridge.render() + counters.render() + pools.render();
}

/** Every series the controller's /metrics serves, with the labels each carries, from the code's registries. */
export function exportedSeries(): Map<string, Set<string>> {
  const series = new Map<string, Set<string>>();
  for (const s of parseSamples(renderedMetrics())) {
    const labels = series.get(s.name) ?? new Set<string>();
    for (const l of Object.keys(s.labels)) labels.add(l);
    series.set(s.name, labels);
  }
  return series;
}

/** The declared type of every metric family the controller's /metrics serves (`# TYPE name type`). */
export function exportedTypes(): Map<string, string> {
  return new Map([...renderedMetrics().matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
}

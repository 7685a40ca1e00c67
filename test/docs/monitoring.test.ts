/**
 * What the docs say about /metrics and the alerts is what the code exports and the
 * PrometheusRule holds: every `mikrolb_…` series a doc names is served, with the labels it
 * names; docs/monitoring.md's table of pool series gives each its type and labels; its table of
 * alerts lists exactly the rule's alerts, each with its `for` and severity. A query or alert
 * written from the docs then selects something.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { alertsOf, exportedSeries, exportedTypes, readRule } from '../deploy/monitoring.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC_FILES = ['README.md', 'deploy/README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

interface Named { name: string; labels: string[]; where: string }

/** `mikrolb_…` names in a text, with the labels written after them (`{kind}`, `{pool, reason}`); a name ending in `_` names a family. */
export function seriesNamed(file: string, text: string): Named[] {
  return text.split('\n').flatMap((line, i) => [...line.matchAll(/\b(mikrolb_[a-z0-9_]+)(?:\{([a-z_, ]*)\})?/g)].map((m) => ({
    name: m[1] ?? '',
    labels: (m[2] ?? '').split(',').map((l) => l.trim()).filter((l) => l !== ''),
    where: `${file}:${i + 1}`,
  })));
}

/** What is wrong with a named series: not served (a histogram counts by its `_bucket`), or a label it does not carry. */
export function problemsOf(use: Named, exported: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  if (use.name.endsWith('_')) return [...exported.keys()].some((s) => s.startsWith(use.name)) ? [] : [`${use.where}: no series starts with ${use.name}`];
  const labels = exported.get(use.name) ?? exported.get(`${use.name}_bucket`);
  if (labels === undefined) return [`${use.where}: ${use.name} is not exported`];
  return use.labels.filter((l) => !labels.has(l)).map((l) => `${use.where}: ${use.name} has no label ${l}`);
}

/** The rows of the first table after `heading` whose first cell is a backticked name: name → the other cells. */
function tableAfter(markdown: string, heading: string): Map<string, string[]> {
  const at = markdown.indexOf(heading);
  const rows = new Map<string, string[]>();
  if (at < 0) return rows;
  let inTable = false;
  for (const line of markdown.slice(at).split('\n').slice(1)) {
    if (line.trim().startsWith('|')) inTable = true;
    else if (inTable) break;
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    const name = /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1];
    if (name !== undefined) rows.set(name, cells.slice(1));
  }
  return rows;
}

/** `5m` as the docs say it: `5 minutes`, `1 minute`. */
const spoken = (duration: string): string => {
  const m = /^(\d+)([smh])$/.exec(duration);
  const unit = { s: 'second', m: 'minute', h: 'hour' }[m?.[2] ?? 's'] ?? '';
  return `${m?.[1] ?? ''} ${unit}${m?.[1] === '1' ? '' : 's'}`;
};

const exported = exportedSeries();
const MONITORING = read('docs/monitoring.md');

describe('reading the docs\' series (the check itself can fail)', () => {
  it('finds names, labels and families, and flags what is not served', () => {
    const uses = seriesNamed('x.md', 'see `mikrolb_bridge_list_failures_total{kind}`, `mikrolb_bridge_*` and `mikrolb_pool_usage{pool}`; mikrolb_gc_collected_total{what, pool}');
    expect(uses.map((u) => [u.name, u.labels])).toEqual([
      ['mikrolb_bridge_list_failures_total', ['kind']], ['mikrolb_bridge_', []], ['mikrolb_pool_usage', ['pool']], ['mikrolb_gc_collected_total', ['what', 'pool']],
    ]);
    expect(uses.flatMap((u) => problemsOf(u, exported))).toEqual(['x.md:1: mikrolb_pool_usage is not exported', 'x.md:1: mikrolb_gc_collected_total has no label pool']);
    expect(problemsOf({ name: 'mikrolb_bridge_invocation_duration_seconds', labels: ['function'], where: '' }, exported)).toEqual([]);
    expect(spoken('10m')).toBe('10 minutes');
    expect(spoken('1m')).toBe('1 minute');
  });
});

describe('the docs and /metrics', () => {
  it('every mikrolb_ series a doc names is served, with the labels it names', () => {
    const uses = DOC_FILES.flatMap((f) => seriesNamed(f, read(f)));
    expect(uses.length).toBeGreaterThan(10);
    expect(uses.flatMap((u) => problemsOf(u, exported))).toEqual([]);
  });

  it('docs/monitoring.md gives each pool series its type and labels', () => {
    const table = tableAfter(MONITORING, '## Pool series');
    expect(table.size).toBe(4);
    const types = exportedTypes();
    const wrong = [...table].flatMap(([name, [type = '', labels = '']]) => {
      const documented = [...labels.matchAll(/`(\w+)`/g)].map((m) => m[1] ?? '').sort();
      const actual = [...(exported.get(name) ?? [])].sort();
      return [
        ...(types.get(name) === type ? [] : [`${name}: documented ${type}, exported ${types.get(name) ?? 'not at all'}`]),
        ...(JSON.stringify(documented) === JSON.stringify(actual) ? [] : [`${name}: documented labels ${documented.join(',')}, exported ${actual.join(',')}`]),
      ];
    });
    expect(wrong).toEqual([]);
  });
});

describe('docs/monitoring.md and the PrometheusRule', () => {
  it('lists exactly its alerts, each with its for and severity', async () => {
    const alerts = alertsOf(await readRule());
    const table = tableAfter(MONITORING, '| alert | fires when | severity |');
    expect([...table.keys()].sort()).toEqual(alerts.map((a) => a.alert).sort());
    const wrong = alerts.flatMap((a) => {
      const [when = '', severity = ''] = table.get(a.alert) ?? [];
      return [
        ...(when.includes(spoken(a.for)) ? [] : [`${a.alert}: fires after ${a.for}, the table says "${when}"`]),
        ...(severity === a.labels.severity ? [] : [`${a.alert}: severity ${a.labels.severity}, the table says ${severity}`]),
      ];
    });
    expect(wrong).toEqual([]);
  });
});

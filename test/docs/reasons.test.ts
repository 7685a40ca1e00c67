/**
 * The reasons users meet in `kubectl describe` and `kubectl get events` are the ones the docs
 * explain: every event reason the code records is named in docs/debugging.md (and the ones it
 * records on every run are exactly those that page says are counted at most once per 5
 * minutes), and every reason and type of the conditions MikroLB writes on allocations,
 * Services and pools is in the table of the page that explains them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAILURE_REASONS } from '../../lib/core/assign.js';
import { COND_ALLOCATED, COND_PROGRAMMED, COND_READY, REASON_ADDRESS_IN_USE_BY_ROUTER, REASON_BACKEND_ERROR } from '../../lib/core/allocation-status.js';
import { REASON_OPTIONAL_FAMILY_UNAVAILABLE, SERVICE_CONDITION } from '../../lib/core/program-status.js';
import { POOL_COND_OUTSIDE, POOL_COND_OVERLAP, POOL_COND_READY } from '../../lib/core/pool-status.js';
import { POOL_COND_DELETION } from '../../functions/release/pool.js';
import { productSources, ROOT } from './sources.js';

const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');


interface Recorded { reason: string; everyRun: boolean; where: string }

/**
 * The events a source records: each `recordEvent({ … })` call up to its `action:` (which every
 * call names), its reason (a literal, or an expression looked up in `dynamic`) and whether it
 * is recorded on every run (no `occurs: 'onChange'`).
 */
export function recordedEvents(files: readonly { path: string; text: string }[], dynamic: Readonly<Record<string, readonly string[]>>): { events: Recorded[]; unknown: string[] } {
  const events: Recorded[] = [];
  const unknown: string[] = [];
  for (const { path, text } of files) {
    for (const m of text.matchAll(/\.recordEvent\(\{/g)) {
      const start = m.index ?? 0;
      const end = text.indexOf('action:', start);
      const call = text.slice(start, end < 0 ? undefined : text.indexOf('})', end) + 2);
      const where = `${path}:${text.slice(0, start).split('\n').length}`;
      const everyRun = !/occurs:\s*'onChange'/.test(call);
      const literal = /\breason:\s*'(\w+)'/.exec(call)?.[1];
      const expression = /\breason:\s*([\w.]+)/.exec(call)?.[1] ?? '';
      const reasons = literal !== undefined ? [literal] : Object.hasOwn(dynamic, expression) ? dynamic[expression] ?? [] : undefined;
      if (reasons === undefined) unknown.push(`${where}: reason ${expression || '(none found)'}`);
      else for (const reason of reasons) events.push({ reason, everyRun, where });
    }
  }
  return { events, unknown };
}

/** The `reason: '…'` and `type: …` literals of a source, as the conditions it writes name them. */
const literalReasons = (text: string): string[] => [...text.matchAll(/\breason:\s*'(\w+)'/g)].map((m) => m[1] ?? '');

/** The backticked words of a Markdown text (`Reason`, `mikrolb.de/LoadBalancerReady`). */
const backticked = (markdown: string): Set<string> => new Set([...markdown.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] ?? ''));

/** The text of the section under `heading` (a whole heading line), up to the next heading of its level or above. */
function section(markdown: string, heading: string): string {
  const at = markdown.indexOf(`\n${heading}\n`);
  if (at < 0) return '';
  const level = /^#+/.exec(heading)?.[0].length ?? 1;
  const rest = markdown.slice(at + heading.length + 2);
  const next = rest.search(new RegExp(`\\n#{1,${level}} `));
  return next < 0 ? rest : rest.slice(0, next);
}

/** The cells of a section's table rows, whitespace trimmed. */
const tableCells = (text: string): string[] => text.split('\n').filter((l) => l.trim().startsWith('|')).flatMap((l) => l.split('|').map((c) => c.trim()));

/** Reasons whose words come from elsewhere: the allocation's failure, the router's refusal. */
const DYNAMIC: Readonly<Record<string, readonly string[]>> = {
  'd.reason': FAILURE_REASONS,
  'outcome.reason': [REASON_ADDRESS_IN_USE_BY_ROUTER],
};

const DEBUGGING = read('docs/debugging.md');

describe('reading the code\'s events (the check itself can fail)', () => {
  it('finds literal and looked-up reasons, whether recorded on every run, and flags a reason it cannot resolve', () => {
    const text = [
      "await deps.kube.recordEvent({ regarding: { kind: 'Service', ...(ns ? { namespace: ns } : {}) }, type: 'Warning', reason: 'Gone', note, action: 'Release' });",
      "await deps.kube.recordEvent({ regarding, type: 'Normal', reason: 'Done', note, action: 'Program', occurs: 'onChange' });",
      "await deps.kube.recordEvent({ regarding, type: 'Warning', reason: x.why, note, action: 'Allocate', occurs: 'onChange' });",
      "await deps.kube.recordEvent({ regarding, type: 'Warning', reason: d.reason, note, action: 'Allocate' });",
    ].join('\n');
    expect(recordedEvents([{ path: 'f.ts', text }], { 'd.reason': ['PoolExhausted'] })).toEqual({
      events: [
        { reason: 'Gone', everyRun: true, where: 'f.ts:1' },
        { reason: 'Done', everyRun: false, where: 'f.ts:2' },
        { reason: 'PoolExhausted', everyRun: true, where: 'f.ts:4' },
      ],
      unknown: ['f.ts:3: reason x.why'],
    });
  });
});

describe('event reasons', () => {
  const { events, unknown } = recordedEvents(productSources(), DYNAMIC);

  it('finds the events the code records, and each reason it can record', () => {
    expect(unknown).toEqual([]);
    expect([...new Set(events.map((e) => e.reason))]).toEqual(expect.arrayContaining([
      ...FAILURE_REASONS, REASON_ADDRESS_IN_USE_BY_ROUTER, 'IPAllocated', 'Programmed', 'ProgrammingFailed',
      'AnnotationInvalid', 'EndpointsSkipped', 'SCTPPortsIgnored', 'ReleaseFailed', 'AddressInvalid',
    ]));
  });

  it('docs/debugging.md names every one', () => {
    const named = backticked(DEBUGGING);
    expect([...new Set(events.map((e) => e.reason))].filter((r) => !named.has(r))).toEqual([]);
  });

  it('docs/debugging.md lists exactly the reasons recorded on every run as those counted at most once per 5 minutes', () => {
    const sentence = /Warnings recorded on every run while their\s+cause holds \(([^)]*)\) are\s+counted at most once per 5 minutes/.exec(DEBUGGING)?.[1];
    expect(sentence).toBeDefined();
    const documented = new Set([...(sentence ?? '').matchAll(/`(\w+)`/g)].map((m) => m[1] ?? ''));
    expect(documented).toEqual(new Set(events.filter((e) => e.everyRun).map((e) => e.reason)));
  });

  it('docs/architecture.md sorts them as the code does: recorded on every run (a heartbeat), or when something changed', () => {
    const flat = read('docs/architecture.md').replace(/\s+/g, ' ');
    const listed = (pattern: RegExp): Set<string> => new Set([...(pattern.exec(flat)?.[1] ?? '').matchAll(/`(\w+)`/g)].map((m) => m[1] ?? ''));
    const onChange = listed(/An event recorded when something changed \(([^)]*)\) counts every repeat/);
    const everyRun = listed(/one recorded on every run while its cause holds \(([^)]*)\) is counted at most once/);
    expect(onChange.size).toBeGreaterThan(2);
    expect(everyRun).toEqual(new Set(events.filter((e) => e.everyRun).map((e) => e.reason)));
    const recordedOnChange = new Set(events.filter((e) => !e.everyRun).map((e) => e.reason));
    expect([...onChange].filter((r) => !recordedOnChange.has(r) || everyRun.has(r))).toEqual([]);
  });
});

describe('condition types and reasons', () => {
  it('an allocation\'s: docs/debugging.md\'s status table and reason sections', () => {
    const code = new Set([...literalReasons(read('lib/core/allocation-status.ts')), REASON_BACKEND_ERROR, REASON_ADDRESS_IN_USE_BY_ROUTER, ...FAILURE_REASONS]);
    const status = section(DEBUGGING, '## 2. Read the status');
    const documented = new Set([...backticked(tableCells(status).join(' | ')), ...backticked(section(DEBUGGING, '## 3. Fix it: every reason'))]);
    // the Allocated condition's own reason, when True, is the type's name: the table's column
    expect(code.has(COND_ALLOCATED)).toBe(true);
    documented.add(COND_ALLOCATED);
    expect([...code].filter((r) => !documented.has(r))).toEqual([]);
    // the table's columns are the conditions (READY shown as kubectl prints its column)
    const header = status.split('\n').find((l) => l.trim().startsWith('|'))?.toLowerCase() ?? '';
    expect([COND_ALLOCATED, COND_PROGRAMMED, COND_READY].filter((t) => !header.includes(`| ${t.toLowerCase()}`))).toEqual([]);
  });

  it('a Service\'s: the table of docs/services.md, "The Service\'s condition"', () => {
    const code = new Set([...literalReasons(read('lib/core/program-status.ts')), REASON_OPTIONAL_FAMILY_UNAVAILABLE]);
    const table = section(read('docs/services.md'), '## The Service\'s condition');
    expect(table).toContain(`\`${SERVICE_CONDITION}\``);
    const documented = backticked(tableCells(table).join(' | '));
    expect([...code].filter((r) => !documented.has(r))).toEqual([]);
  });

  it('a pool\'s: the table of docs/ip-pools.md, "Conditions"', () => {
    const code = new Set([...literalReasons(read('lib/core/pool-status.ts')), ...literalReasons(read('functions/release/pool.ts'))]);
    const cells = tableCells(section(read('docs/ip-pools.md'), '### Conditions (`lib/core/pool-status.ts`)'));
    const documented = backticked(cells.join(' | '));
    expect([...code].filter((r) => !documented.has(r))).toEqual([]);
    expect([POOL_COND_READY, POOL_COND_OVERLAP, POOL_COND_OUTSIDE, POOL_COND_DELETION].filter((t) => !documented.has(t))).toEqual([]);
  });
});

/**
 * docs/architecture.md against the code, where its claims can be checked cheaply:
 * - every repository path it names exists (a bare file name in a table row: in that row's folder);
 * - every function it places in a file (`name` in `path`, or (`path`, `name`)) is declared
 *   there, and every other code identifier it names in backticks is one the product has;
 * - the delays, bounds and counts it quotes are the code's constants;
 * - its tables of what is on the router are lib/router/LAYOUT.md's, row for row.
 * (Commands, variables and annotation keys are docs.test.ts's; event reasons reasons.test.ts's;
 * links links.test.ts's.)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bridgeConfig } from '../../bridge/config.js';
import { PROBE_MAX_MS } from '../../bridge/queue.js';
import { BATCH_DELAY_MS, COUNT_DELAY_MS } from '../../bridge/routing.js';
import { SWEEP_DELAY_MS, SWEEP_INTERVAL_MS } from '../../bridge/sweep.js';
import { HINT_MAX_AGE_MS } from '../../functions/allocate/deps.js';
import { CLAIM_GRACE_MS } from '../../functions/registry.js';
import { SiblingUnrecordedError } from '../../functions/release/deps.js';
import { SETTLE_ROUNDS } from '../../lib/core/settle.js';
import { EVENT_HEARTBEAT_MS } from '../../lib/k8s/events.js';
import { FORMER_ADDRESSES_KEPT } from '../../lib/k8s/schemas.js';
import { GLOBAL_ROLES } from '../../lib/router/names.js';
import { DEFAULT_LIMITS } from '../../lib/routeros/client/session.js';
import { DEFAULT_MAX_WORD_SIZE } from '../../lib/routeros/wire/decoder.js';
import { codeOf } from './doc-names.js';
import { productSources, ROOT } from './sources.js';
import { MIB, MINUTE, misquoted, Q, quantity, type Quoted, SECOND } from './quoted.js';

const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const DOC = read('docs/architecture.md');
/** The doc's text with every run of whitespace one space: a quoted claim may wrap anywhere. */
const FLAT = DOC.replace(/\s+/g, ' ');


// ---- paths ----------------------------------------------------------------------------------------

const TOP = /^(?:lib|functions|bridge|test|deploy|docs)\//;
const FILE = /^[\w.-]+\.(?:ts|md)$/;

/** Backticked spans that name a repository path (`lib/core/settle.ts`, `test/helpers`), or a bare file (`assign.ts`), by line. */
export function pathsOf(markdown: string): { path: string; line: number; folders: string[] }[] {
  const lines = markdown.split('\n');
  return codeOf(markdown).flatMap(({ text, line }) => {
    const path = text.trim();
    if (/[<>…*\s]/.test(path) || !(TOP.test(path) || FILE.test(path))) return [];
    // a bare file name in a table row lives in a folder the row's first cell names
    const row = lines[line - 1] ?? '';
    const first = row.trim().startsWith('|') ? row.trim().slice(1).split('|')[0] ?? '' : '';
    const folders = [...first.matchAll(/`([^`]+)`/g)].map((m) => (m[1] ?? '').replace(/\/$/, '')).filter((f) => TOP.test(`${f}/`));
    return [{ path, line, folders }];
  });
}

/** Whether a named path exists: from the repository's root, or for a bare file in one of its row's folders (or one below). */
function exists(use: { path: string; folders: string[] }): boolean {
  if (!FILE.test(use.path) || use.path.includes('/')) return existsSync(join(ROOT, use.path));
  if (use.folders.length === 0) return false;
  return use.folders.some((folder) => existsSync(join(ROOT, folder, use.path)) || existsSync(join(ROOT, folder, use.path.replace(/\/$/, ''))));
}

describe('the paths docs/architecture.md names', () => {
  it('reads paths from spans, and bare files from the folders of their table row (the check itself can fail)', () => {
    const md = ['| `lib/core` | the decisions (`assign.ts`, `nowhere.ts`) |', 'see `lib/core/settle.ts` and `functions/<name>`, `firewall/nat`'].join('\n');
    const uses = pathsOf(md);
    expect(uses.map((u) => [u.path, u.folders])).toEqual([
      ['lib/core', ['lib/core']], ['assign.ts', ['lib/core']], ['nowhere.ts', ['lib/core']], ['lib/core/settle.ts', []],
    ]);
    expect(uses.filter((u) => !exists(u)).map((u) => u.path)).toEqual(['nowhere.ts']);
  });

  it('every one exists', () => {
    const uses = pathsOf(DOC);
    expect(uses.length).toBeGreaterThan(40);
    expect(uses.filter((u) => !exists(u)).map((u) => `docs/architecture.md:${u.line}: ${u.path}`)).toEqual([]);
  });
});

// ---- identifiers ------------------------------------------------------------------------------------

/** Whether `text` declares `name`: a function, class, constant, type, or a property of an interface or object type. */
export function declares(text: string, name: string): boolean {
  const decl = new RegExp(`\\b(?:function\\*?|class|const|let|var|interface|type|enum)\\s+${name}\\b|^\\s*(?:readonly\\s+)?${name}\\??:`, 'm');
  return decl.test(text);
}

/** Whether `text` has `name` at all as code: declared, a property key written (`{ name: … }`), or a string literal (a reason). */
export function knows(text: string, name: string): boolean {
  return declares(text, name) || new RegExp(`[{,(]\\s*${name}\\??:|'${name}'`).test(text);
}

/** `name` in `path`, and (`path`, `name`): an identifier the doc places in a file. */
export function placedIdentifiers(flat: string): { name: string; path: string }[] {
  const ident = '([A-Za-z_$][\\w$]*)';
  const file = '([\\w./-]+\\.ts)';
  return [
    ...[...flat.matchAll(new RegExp(`\`${ident}\` in \`${file}\``, 'g'))].map((m) => ({ name: m[1] ?? '', path: m[2] ?? '' })),
    ...[...flat.matchAll(new RegExp(`\\(\`${file}\`, \`${ident}\`\\)`, 'g'))].map((m) => ({ name: m[2] ?? '', path: m[1] ?? '' })),
  ];
}

/** Backticked words shaped like code identifiers: camelCase (`settleWrites`) or an error class (`RetryableError`). */
export function codeIdentifiers(markdown: string): string[] {
  return [...new Set(codeOf(markdown).map((c) => c.text.trim()).filter((t) => /^[a-z]+[A-Z][\w]*$/.test(t) || /^[A-Z]\w*Error$/.test(t)))];
}

describe('the functions and identifiers docs/architecture.md names', () => {
  it('finds placed and other identifiers, and tells a declaration from a mention (the check itself can fail)', () => {
    expect(placedIdentifiers('(`askedFor` in `lib/core/assign.ts`), (`lib/router/planner.ts`, `handOverClashes`), `x` in `y`')).toEqual([
      { name: 'askedFor', path: 'lib/core/assign.ts' }, { name: 'handOverClashes', path: 'lib/router/planner.ts' },
    ]);
    expect(codeIdentifiers('`settleWrites`, `RetryableError`, `Programmed`, `mikrolb-lb`, `status.phase`')).toEqual(['settleWrites', 'RetryableError']);
    expect(declares('export async function settleWrites(', 'settleWrites')).toBe(true);
    expect(declares('  askedFor?: readonly string[];', 'askedFor')).toBe(true);
    expect(declares('await settleWrites(steps)', 'settleWrites')).toBe(false);
    expect(knows("{ series: { count, lastObservedTime: now } }, reason: 'BackendError'", 'lastObservedTime')).toBe(true);
    expect(knows("reason: 'BackendError'", 'BackendError')).toBe(true);
    expect(knows('await settleWrites(steps)', 'settleWrites')).toBe(false);
  });

  it('each one placed in a file is declared in that file', () => {
    const placed = placedIdentifiers(FLAT);
    expect(placed.length).toBeGreaterThan(8);
    const wrong = placed.filter(({ name, path }) => !existsSync(join(ROOT, path)) || !declares(read(path), name));
    expect(wrong.map(({ name, path }) => `${name} in ${path}`)).toEqual([]);
  });

  it('each other one is the product\'s (a function, a type, a field of an object it reads or writes, a reason)', () => {
    const product = productSources();
    const names = codeIdentifiers(DOC);
    expect(names.length).toBeGreaterThan(20);
    expect(names.filter((name) => !product.some(({ text }) => knows(text, name)))).toEqual([]);
  });
});

// ---- quoted constants ---------------------------------------------------------------------------------

/**
 * Claims with numbers in them: the pattern (over the text with its whitespace flattened), and
 * for each captured quantity the unit it is in and the code's value.
 */
const QUOTED: readonly Quoted[] = [
  { claim: new RegExp(`a claim freed ${Q} seconds? later \\(the batch delay in \`bridge/routing\\.ts\`\\), a claim taken ${Q} seconds later`), values: [{ unit: SECOND, code: BATCH_DELAY_MS }, { unit: SECOND, code: COUNT_DELAY_MS }] },
  { claim: new RegExp(`as an update of its pool, ${Q} seconds after a creation and ${Q} after a deletion`), values: [{ unit: SECOND, code: COUNT_DELAY_MS }, { unit: SECOND, code: BATCH_DELAY_MS }] },
  { claim: new RegExp(`coalesce into one follow-up, which starts no sooner than ${Q} ms after the previous one started`), values: [{ unit: 1, code: bridgeConfig({}).perObjectIntervalMs }] },
  { claim: new RegExp(`bounded concurrency per function \\(\`FUNCTION_CONCURRENCY\`, ${Q} by default\\)`), values: [{ unit: 1, code: bridgeConfig({}).concurrency }] },
  { claim: new RegExp(`one of them per function probes at most ${Q} s apart`), values: [{ unit: SECOND, code: PROBE_MAX_MS }] },
  { claim: new RegExp(`every \`RESYNC_INTERVAL\` \\(${Q} minutes\\)`), values: [{ unit: MINUTE, code: bridgeConfig({}).resyncIntervalMs }] },
  { claim: new RegExp(`${Q} seconds after an invocation of program got no answer \\(at most one per ${Q} s\\)`), values: [{ unit: SECOND, code: SWEEP_DELAY_MS }, { unit: SECOND, code: SWEEP_INTERVAL_MS }] },
  { claim: new RegExp(`${Q} seconds later \\(a command the dead process sent may still be on its way to the router\\) and at most one per ${Q} s`), values: [{ unit: SECOND, code: SWEEP_DELAY_MS }, { unit: SECOND, code: SWEEP_INTERVAL_MS }] },
  { claim: new RegExp(`is counted at most once per ${Q} minutes, a heartbeat`), values: [{ unit: MINUTE, code: EVENT_HEARTBEAT_MS }] },
  { claim: new RegExp(`when it starts or the memory is ${Q} minutes? old`), values: [{ unit: MINUTE, code: HINT_MAX_AGE_MS }] },
  { claim: new RegExp(`waits out a grace period \\(${Q} minutes, set in \`functions/registry\\.ts\`\\)`), values: [{ unit: MINUTE, code: CLAIM_GRACE_MS }] },
  { claim: new RegExp(`at most ${Q} writes more \\(\`lib/core/settle\\.ts\`\\)`), values: [{ unit: 1, code: SETTLE_ROUNDS }] },
  { claim: new RegExp(`asks to be retried ${Q} seconds? later \\(\`Conflict\`\\)`), values: [{ unit: SECOND, code: (new SiblingUnrecordedError('').retryAfterSeconds ?? NaN) * SECOND }] },
  { claim: new RegExp(`The status keeps the last ${Q};`), values: [{ unit: 1, code: FORMER_ADDRESSES_KEPT }] },
  { claim: new RegExp(`one of the ${Q} fixed roles in the layout`), values: [{ unit: 1, code: GLOBAL_ROLES.size }] },
  {
    claim: new RegExp(`a word of at most ${Q} MiB, a sentence of at most ${Q} MiB, a reply of at most ${Q} items and ${Q} MiB, and a total deadline per command \\(${Q} s from sending`),
    values: [
      { unit: MIB, code: DEFAULT_MAX_WORD_SIZE }, { unit: MIB, code: DEFAULT_LIMITS.maxSentenceBytes }, { unit: 1, code: DEFAULT_LIMITS.maxReplyItems },
      { unit: MIB, code: DEFAULT_LIMITS.maxReplyBytes }, { unit: SECOND, code: DEFAULT_LIMITS.commandTimeoutMs },
    ],
  },
];

describe('the numbers docs/architecture.md quotes', () => {
  it('reads quantities as the doc writes them', () => {
    expect(['a', 'five', '30', '500,000', 'some'].map(quantity)).toEqual([1, 5, 30, 500_000, NaN]);
  });

  it('each claim is still there, with the code\'s value', () => {
    expect(misquoted(QUOTED, FLAT)).toEqual([]);
  });

  it('the release\'s wait for a sibling allocate still records is a Conflict', () => {
    expect(new SiblingUnrecordedError('').reason).toBe('Conflict');
  });
});

// ---- the router's layout --------------------------------------------------------------------------------

/** The table rows under a heading (the whole heading line), up to the next heading of its level or above. */
function tableRows(markdown: string, heading: string): string[][] {
  const at = markdown.indexOf(`\n${heading}\n`);
  if (at < 0) return [];
  const level = /^#+/.exec(heading)?.[0].length ?? 1;
  const rest = markdown.slice(at + heading.length + 2);
  const next = rest.search(new RegExp(`\\n#{1,${level}} `));
  const text = next < 0 ? rest : rest.slice(0, next);
  return text.split('\n').filter((l) => l.trim().startsWith('|') && !/^\s*\|\s*-{3}/.test(l))
    .map((l) => l.trim().replace(/^\||\|$/g, '').split(/(?<!\\)\|/).map((c) => c.trim()))
    .filter((cells) => cells[0] !== 'menu / chain');
}

/** A rule or entry as its cell names it: the first code span (a rule), else the whole text (`each endpoint address`). */
const entryOf = (cell: string): string => /`([^`]+)`/.exec(cell)?.[1] ?? cell;

const LAYOUT = read('lib/router/LAYOUT.md');
const ARCH_ROUTER = '### What is on the router';

describe('docs/architecture.md\'s router tables are LAYOUT.md\'s', () => {
  const rows = tableRows(DOC, ARCH_ROUTER);
  const split = rows.findIndex((r) => r.length === 3 && /^`firewall\/address-list` `mikrolb-lb`$/.test(r[0] ?? ''));
  const globals = rows.slice(0, split);
  const perService = rows.slice(split);

  it('finds both tables', () => {
    expect(globals.length).toBeGreaterThan(5);
    expect(perService.length).toBeGreaterThan(5);
  });

  it('the global rules: the same menus, chains and rules', () => {
    const layout = tableRows(LAYOUT, '## Global rules (one set per family, shared by every Service)').map((r) => `${r[0] ?? ''} ${entryOf(r[1] ?? '')}`);
    expect(layout.length).toBeGreaterThan(5);
    expect(globals.map((r) => `${r[0] ?? ''} ${entryOf(r[1] ?? '')}`)).toEqual(layout);
  });

  it('per Service: the same entries, when each is written', () => {
    const layout = tableRows(LAYOUT, '## Per Service').map((r) => [r[0], r[1], r[3]]);
    expect(layout.length).toBeGreaterThan(5);
    expect(perService.map((r) => [r[0], r[1], r[2]])).toEqual(layout);
  });
});

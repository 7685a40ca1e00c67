import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FAILURE_REASONS } from '../../lib/core/assign.js';

/**
 * docs/debugging.md promises that an allocation's failure messages "are exactly these
 * sentences": every message lib/core/assign.ts can word for a reason (each `fail('Reason', …)`
 * with a literal message, and the messages of a helper it calls there) must appear, with example
 * values filled in, among the backticked sentences of that reason's section (`### \`Reason\``).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ASSIGN = readFileSync(join(ROOT, 'lib/core/assign.ts'), 'utf8');
const DOC = readFileSync(join(ROOT, 'docs/debugging.md'), 'utf8');

/**
 * Messages no user can meet: the IPAllocation schema (CRD and zod alike) refuses an allocation
 * that asks for nothing, so allocate never decides one.
 */
const UNREACHABLE = new Set(['The allocation names no address, pool or family.']);

/** A template (or plain) string literal starting at `start`: its literal parts, and where it ends. */
function readLiteral(src: string, start: number): { parts: string[]; end: number } {
  const quote = src[start];
  const parts: string[] = [];
  let part = '';
  let i = start + 1;
  while (i < src.length && src[i] !== quote) {
    if (src[i] === '\\') {
      part += src[i + 1] ?? '';
      i += 2;
    } else if (quote === '`' && src.startsWith('${', i)) {
      parts.push(part);
      part = '';
      i = skipExpression(src, i + 2);
    } else {
      part += src[i];
      i += 1;
    }
  }
  parts.push(part);
  return { parts, end: i + 1 };
}

/** The index after the `}` closing an expression that starts at `i` (nested braces and literals skipped). */
function skipExpression(src: string, i: number): number {
  let depth = 1;
  while (i < src.length) {
    const c = src[i] ?? '';
    if (c === '`' || c === "'" || c === '"') i = readLiteral(src, i).end;
    else {
      if (c === '{') depth += 1;
      if (c === '}' && --depth === 0) return i + 1;
      i += 1;
    }
  }
  return i;
}

/** The string literals of a piece of code, each as its literal parts. */
function literalsIn(src: string): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < src.length; i += 1) {
    if (src[i] === '`' || src[i] === "'") {
      const lit = readLiteral(src, i);
      out.push(lit.parts);
      i = lit.end - 1;
    }
  }
  return out;
}

/** The body of `function name(…) { … }` in assign.ts. */
function functionBody(name: string): string {
  const at = ASSIGN.indexOf(`function ${name}(`);
  const open = ASSIGN.indexOf('{', ASSIGN.indexOf(')', at));
  if (at < 0 || open < 0) throw new Error(`lib/core/assign.ts has no function ${name}`);
  return ASSIGN.slice(open + 1, skipExpression(ASSIGN, open + 1) - 1);
}

interface Worded { reason: string; parts: string[] }

/** Every message assign.ts words for a failure reason, as its literal parts. */
function wordedFailures(src: string = ASSIGN): { worded: Worded[]; other: string[] } {
  const worded: Worded[] = [];
  const other: string[] = [];
  for (const m of src.matchAll(/\bfail\('(\w+)',\s*/g)) {
    const reason = m[1] ?? '';
    const at = (m.index ?? 0) + m[0].length;
    const c = src[at];
    if (c === '`' || c === "'") {
      worded.push({ reason, parts: readLiteral(src, at).parts });
      continue;
    }
    const call = /^(\w+)\(/.exec(src.slice(at));
    if (call?.[1] && src.includes(`function ${call[1]}(`)) {
      for (const parts of literalsIn(functionBody(call[1]))) if (/^[A-Z]/.test(parts[0] ?? '')) worded.push({ reason, parts });
      continue;
    }
    other.push(`${reason}: ${/^[^)]*\)?/.exec(src.slice(at))?.[0] ?? ''}`);
  }
  return { worded, other };
}

/** The backticked sentences of the section `### \`reason\``, whitespace made single spaces. */
function documentedSentences(reason: string): string[] {
  const heading = `\n### \`${reason}\``;
  const at = DOC.indexOf(heading);
  if (at < 0) return [];
  const rest = DOC.slice(at + heading.length);
  const section = rest.slice(0, rest.search(/\n#{1,3} /) < 0 ? undefined : rest.search(/\n#{1,3} /));
  return [...section.matchAll(/`([^`]+)`/g)].map((m) => (m[1] ?? '').replace(/\s+/g, ' ').trim());
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const pattern = (parts: readonly string[]): RegExp => new RegExp(`^${parts.map(escape).join('.*')}$`);

describe('docs/debugging.md words every allocation failure as the code does', () => {
  const { worded, other } = wordedFailures();

  it('finds the messages (the extraction works on assign.ts)', () => {
    expect(new Set(worded.map((w) => w.reason))).toEqual(new Set(FAILURE_REASONS.filter((r) => r !== 'PoolScopeMismatch')));
    expect(worded.length).toBeGreaterThan(FAILURE_REASONS.length);
    // PoolScopeMismatch's words come from lib/core/pool-scope.ts (scopeRefusal), the example sentences of its section
    expect(other).toEqual(['PoolScopeMismatch: refused)', 'PoolScopeMismatch: refused)']);
  });

  it('reads template literals with their placeholders as gaps', () => {
    const src = "fail('PoolExhausted', `No auto-assign ${family} pool has a free address (tried ${c.map((x) => `${x}`).join(', ')}).`)";
    expect(wordedFailures(src).worded).toEqual([{ reason: 'PoolExhausted', parts: ['No auto-assign ', ' pool has a free address (tried ', ').'] }]);
    expect(pattern(['Pool ', ' does not exist.']).test('Pool archive does not exist.')).toBe(true);
    expect(pattern(['Pool ', ' does not exist.']).test('Pool archive is being deleted and hands out no new address.')).toBe(false);
  });

  it('documents every reason with a section', () => {
    expect(FAILURE_REASONS.filter((r) => documentedSentences(r).length === 0)).toEqual([]);
  });

  it('documents every message the code words for a reason, in that reason\'s section', () => {
    const missing = worded
      .filter((w) => !UNREACHABLE.has(w.parts.join('…')))
      .filter((w) => !documentedSentences(w.reason).some((s) => pattern(w.parts).test(s)))
      .map((w) => `${w.reason}: ${w.parts.join('…')}`);
    expect(missing).toEqual([]);
  });
});

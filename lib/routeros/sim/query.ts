import { parseIpv4 } from './ip.js';
import { formatId, parseId, type ValueCondition } from './menu-types.js';

/** What a query reads of an item: a property's printed value, if it has one. */
export interface QueryTarget {
  get(name: string): string | undefined;
}
import type { Trap } from './traps.js';

/**
 * print's query words, evaluated per item on a stack of booleans as the API manual describes:
 * the stack starts as an endless supply of `true`; `?name`, `?-name`, `?name=x`, `?=name=x`,
 * `?<name=x` and `?>name=x` push one result; `?#...` runs operations (`!` negate the top, `&` and
 * `|` combine the top two, `.` duplicate the top, a decimal index copies the value that many places
 * below the top, or, at the end of the word, replaces the whole stack with it). An item matches when
 * no `false` is left.
 */
export type QueryWord =
  | { kind: 'has' | 'lacks'; name: string }
  | { kind: 'eq' | 'lt' | 'gt'; name: string; value: string }
  | { kind: 'ops'; ops: string };

export type ParsedQuery = { ok: true; words: QueryWord[] } | { ok: false; trap: Trap };

const invalidQuery = (word: string): ParsedQuery => ({
  ok: false,
  trap: { message: `invalid query word ${word}`, category: 1 },
});

function splitNameValue(rest: string, kind: 'eq' | 'lt' | 'gt'): QueryWord | null {
  const eq = rest.indexOf('=');
  if (eq <= 0) return null;
  return { kind, name: rest.slice(0, eq), value: rest.slice(eq + 1) };
}

export function parseQuery(words: readonly string[]): ParsedQuery {
  const parsed: QueryWord[] = [];
  for (const word of words) {
    const body = word.slice(1);
    let query: QueryWord | null;
    if (body.startsWith('#')) query = /^[0-9.!&|]*$/.test(body.slice(1)) ? { kind: 'ops', ops: body.slice(1) } : null;
    else if (body.startsWith('-')) query = body.length > 1 ? { kind: 'lacks', name: body.slice(1) } : null;
    else if (body.startsWith('<')) query = splitNameValue(body.slice(1), 'lt');
    else if (body.startsWith('>')) query = splitNameValue(body.slice(1), 'gt');
    else if (body.startsWith('=')) query = splitNameValue(body.slice(1), 'eq');
    else if (body.includes('=')) query = splitNameValue(body, 'eq');
    else query = body.length > 0 ? { kind: 'has', name: body } : null;
    if (query === null) return invalidQuery(word);
    parsed.push(query);
  }
  return { ok: true, words: parsed };
}

const BOOLEAN_WORDS: Readonly<Record<string, string>> = { yes: 'true', no: 'false', true: 'true', false: 'false' };

function equals(actual: string, wanted: string): boolean {
  if (actual === wanted) return true;
  if (actual === 'true' || actual === 'false') return BOOLEAN_WORDS[wanted] === actual;
  // ids compare by value (`*a` = `*A` = `*00A`); anything else that differs is different
  if (actual.charCodeAt(0) !== 42 || wanted.charCodeAt(0) !== 42) return false;
  const a = parseId(actual);
  return a !== null && a === parseId(wanted);
}

/** Typed ordering: numbers and IPv4 addresses by value, anything else as text. */
function compare(actual: string, wanted: string): number {
  if (/^-?\d+$/.test(actual) && /^-?\d+$/.test(wanted)) return Math.sign(Number(actual) - Number(wanted));
  const a = parseIpv4(actual);
  const b = parseIpv4(wanted);
  if (a !== null && b !== null) return Math.sign(a - b);
  const ia = parseId(actual);
  const ib = parseId(wanted);
  if (ia !== null && ib !== null) return Math.sign(ia - ib);
  return actual < wanted ? -1 : actual > wanted ? 1 : 0;
}

function test(word: Exclude<QueryWord, { kind: 'ops' }>, item: QueryTarget): boolean {
  const actual = item.get(word.name);
  switch (word.kind) {
    case 'has':
      return actual !== undefined;
    case 'lacks':
      return actual === undefined;
    case 'eq':
      return equals(actual ?? '', word.value);
    case 'lt':
      return actual !== undefined && compare(actual, word.value) < 0;
    case 'gt':
      return actual !== undefined && compare(actual, word.value) > 0;
  }
}

const peek = (stack: readonly boolean[], index: number): boolean => stack[stack.length - 1 - index] ?? true;
const pop = (stack: boolean[]): boolean => stack.pop() ?? true;

/** Runs one `?#` word on the stack (top at the end; below the bottom lie endless `true`s). */
function runOps(ops: string, stack: boolean[]): void {
  let afterIndex = false;
  for (let i = 0; i < ops.length; ) {
    const code = ops.charCodeAt(i);
    if (code >= 48 && code <= 57) {
      let j = i;
      while (j < ops.length && ops.charCodeAt(j) >= 48 && ops.charCodeAt(j) <= 57) j++;
      const value = peek(stack, Number(ops.slice(i, j)));
      i = j;
      if (i === ops.length) stack.splice(0, stack.length, value);
      else stack.push(value);
      afterIndex = true;
      continue;
    }
    const op = ops[i++];
    if (op === '!') stack.push(!pop(stack));
    else if (op === '&' || op === '|') {
      const right = pop(stack);
      const left = pop(stack);
      stack.push(op === '&' ? left && right : left || right);
    } else if (op === '.' && !afterIndex) stack.push(peek(stack, 0));
    afterIndex = false;
  }
}

/**
 * The matcher for a parsed query. The common shape — `?a=x ?b=y ?c=z ?#| ?#|`, any of several
 * exact values (what a client narrowing a read to its own entries sends) — is tested with set
 * lookups instead of a stack per item; every other query runs on the stack (matchesQuery).
 * Values that `equals` would treat loosely (booleans, ids) keep the stack.
 */
export function queryMatcher(words: readonly QueryWord[]): (item: QueryTarget) => boolean {
  const anyOf = anyOfExact(words);
  if (anyOf === undefined) return (item) => matchesQuery(words, item);
  return (item) => {
    for (const [name, values] of anyOf) if (values.has(item.get(name) ?? '')) return true;
    return false;
  };
}

const looseValue = (value: string): boolean => value in BOOLEAN_WORDS || value.charCodeAt(0) === 42;

function anyOfExact(words: readonly QueryWord[]): Map<string, Set<string>> | undefined {
  const tests = words.filter((w) => w.kind !== 'ops');
  const ops = words.slice(tests.length);
  if (tests.length < 2 || words.slice(0, tests.length).some((w) => w.kind !== 'eq')) return undefined;
  if (ops.length !== tests.length - 1 || ops.some((w) => w.kind !== 'ops' || w.ops !== '|')) return undefined;
  const byName = new Map<string, Set<string>>();
  for (const w of tests) {
    if (w.kind !== 'eq' || looseValue(w.value)) return undefined;
    const values = byName.get(w.name) ?? new Set<string>();
    values.add(w.value);
    byName.set(w.name, values);
  }
  return byName;
}

/**
 * Printed values that narrow a query to a few entries: every item the query matches prints, for
 * at least one of the conditions, exactly that value (a store indexing printed values then tests
 * only those entries, with the matcher); undefined when the query promises no such set. Two
 * shapes narrow: tests only (and-ed, so any one `?name=x` narrows) and any-of (`?a=x ?b=y ?#|`,
 * what a client narrowing a read to its own entries sends: every test narrows, together).
 */
export function narrowing(words: readonly QueryWord[]): ValueCondition[] | undefined {
  const tests = words.filter((w) => w.kind !== 'ops');
  const ops = words.slice(tests.length);
  if (tests.length === words.length) {
    for (const word of tests) {
      const conditions = word.kind === 'eq' ? valuesEqualTo(word.name, word.value) : undefined;
      if (conditions !== undefined) return conditions;
    }
    return undefined;
  }
  if (tests.length < 2 || ops.length !== tests.length - 1 || ops.some((w) => w.kind !== 'ops' || w.ops !== '|')) return undefined;
  const conditions: ValueCondition[] = [];
  for (const word of tests) {
    const some = word.kind === 'eq' ? valuesEqualTo(word.name, word.value) : undefined;
    if (some === undefined) return undefined;
    conditions.push(...some);
  }
  return conditions;
}

/**
 * The printed values `?name=wanted` accepts (see equals): the value itself, for a boolean word
 * the boolean too, for an empty one no value at all; an id as the router prints it. Undefined
 * for another `*...` value, which would match any spelling of an id.
 */
function valuesEqualTo(name: string, wanted: string): ValueCondition[] | undefined {
  if (name === '.id') {
    const id = parseId(wanted);
    return id === null ? undefined : [{ name, value: formatId(id) }];
  }
  if (wanted.charCodeAt(0) === 42) return undefined;
  if (wanted === '') return [{ name, value: '' }, { name, value: undefined }];
  const boolean = Object.hasOwn(BOOLEAN_WORDS, wanted) ? BOOLEAN_WORDS[wanted] : undefined;
  return boolean === undefined || boolean === wanted ? [{ name, value: wanted }] : [{ name, value: wanted }, { name, value: boolean }];
}

export function matchesQuery(words: readonly QueryWord[], item: QueryTarget): boolean {
  const stack: boolean[] = [];
  for (const word of words) {
    if (word.kind === 'ops') runOps(word.ops, stack);
    else stack.push(test(word, item));
  }
  return !stack.includes(false);
}

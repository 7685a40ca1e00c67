import type { ParsedCommand } from './command.js';
import { fieldIn, formatId, mayDerive, ownValue, versionAtLeast, type MenuSpec, type PrintedItem, type RouterReader, type StoredEntry } from './menu-types.js';
import { narrowing, parseQuery, queryMatcher, type QueryWord } from './query.js';
import { resolveItems } from './items.js';
import { traps, trapSentence } from './traps.js';

export type Reply = string[][];

/** An entry as print shows it: `.id`, stored values, derived values and shown defaults, in table order. */
export function printedEntry(spec: MenuSpec, entry: StoredEntry, router: RouterReader): PrintedItem {
  const item: PrintedItem = new Map([['.id', formatId(entry.id)]]);
  const derived = spec.derive?.(entry.props, router) ?? {};
  for (const key of Object.keys(spec.fields)) {
    if (!fieldIn(spec.fields[key], router.version)) continue;
    const value = derived[key] ?? ownValue(spec, entry.props, key);
    if (value !== undefined) item.set(key, value);
  }
  for (const [key, value] of entry.props) if (!item.has(key)) item.set(key, value);
  return item;
}

/**
 * One property of an entry as print would show it, without building the whole item: queries
 * test a few properties of every entry, and most entries do not match. Only read-only fields
 * are derived (see MenuSpec.derive), so a query on any other (an address, a comment) never
 * computes them.
 */
function printedValue(spec: MenuSpec, entry: StoredEntry, router: RouterReader, derive: () => Readonly<Record<string, string>>, key: string): string | undefined {
  if (key === '.id') return formatId(entry.id);
  if (spec.fields[key] !== undefined && !fieldIn(spec.fields[key], router.version)) return entry.props.get(key);
  return (mayDerive(spec, key) ? derive()[key] : undefined) ?? ownValue(spec, entry.props, key);
}

/**
 * The items a print returns: only matching entries are printed in full; derived values are
 * computed at most once per entry. A menu may hold thousands of entries while a client's query
 * asks for a few by exact values: the store's indexes then hand over the entries that print
 * those values (each still tested by the matcher), in table order; any other query walks the
 * stored entries. Dynamic entries (connected routes) are always walked, after the stored ones.
 */
function matchingItems(spec: MenuSpec, router: RouterReader, words: readonly QueryWord[]): PrintedItem[] {
  const matches = queryMatcher(words);
  if (spec.computed !== undefined) return spec.computed(router).filter(matches);
  const out: PrintedItem[] = [];
  const target = new EntryTarget(spec, router);
  const conditions = narrowing(words);
  const stored = (conditions && router.entriesWhere?.(spec, conditions)) ?? router.entries(spec.path);
  for (const list of [stored, spec.dynamic?.(router) ?? []]) {
    for (const entry of list) {
      if (matches(target.at(entry))) out.push(printedEntry(spec, entry, router));
    }
  }
  return out;
}

/** One entry's properties as print shows them, to a query (see printedValue). */
class EntryTarget {
  private entry: StoredEntry | undefined;
  private derived: Readonly<Record<string, string>> | undefined;
  private readonly derive = (): Readonly<Record<string, string>> => (this.derived ??= (this.entry && this.spec.derive?.(this.entry.props, this.router)) ?? {});

  constructor(private readonly spec: MenuSpec, private readonly router: RouterReader) {}

  at(entry: StoredEntry): this {
    this.entry = entry;
    this.derived = undefined;
    return this;
  }

  get(name: string): string | undefined {
    return this.entry && printedValue(this.spec, this.entry, this.router, this.derive, name);
  }
}

export function printedItems(spec: MenuSpec, router: RouterReader): PrintedItem[] {
  if (spec.computed !== undefined) return spec.computed(router);
  return [...router.entries(spec.path), ...(spec.dynamic?.(router) ?? [])].map((entry) => printedEntry(spec, entry, router));
}

const PRINT_FLAGS = new Set(['.proplist', 'count-only', 'detail', 'without-paging', 'terse', 'stats', 'brief', 'from']);

/** Whether the router answers an empty print with `!empty` (RouterOS 7.18 and later). */
export function sendsEmpty(version: string): boolean {
  return versionAtLeast(version, 7, 18);
}

export function print(spec: MenuSpec, command: ParsedCommand, router: RouterReader): Reply {
  for (const name of command.attrs.keys()) {
    if (!PRINT_FLAGS.has(name)) return [trapSentence(traps.unknownParameter(name)), ['!done']];
  }
  const query = parseQuery(command.queries);
  if (!query.ok) return [trapSentence(query.trap), ['!done']];
  let items = matchingItems(spec, router, query.words);
  const from = command.attrs.get('from');
  if (from !== undefined && spec.computed === undefined) {
    const ids = resolveItems(spec, router, from);
    if (!ids.ok) return [trapSentence(ids.trap), ['!done']];
    const wanted = new Set(ids.ids.map(formatId));
    items = items.filter((item) => wanted.has(item.get('.id') ?? ''));
  }
  if (command.attrs.has('count-only')) return [['!done', `=ret=${items.length}`]];
  if (items.length === 0) return sendsEmpty(router.version) ? [['!empty'], ['!done']] : [['!done']];
  const proplist = command.attrs.get('.proplist')?.split(',').filter((name) => name !== '');
  const sentences: Reply = items.map((item) => {
    const words = ['!re'];
    if (proplist === undefined) for (const [key, value] of item) words.push(`=${key}=${value}`);
    else for (const key of proplist) {
      const value = item.get(key);
      if (value !== undefined) words.push(`=${key}=${value}`);
    }
    return words;
  });
  sentences.push(['!done']);
  return sentences;
}

/** `get =number=*1 =value-name=address` → `!done =ret=<value>`. */
export function get(spec: MenuSpec, command: ParsedCommand, router: RouterReader): Reply {
  for (const name of command.attrs.keys()) {
    if (!['number', '.id', 'value-name'].includes(name)) return [trapSentence(traps.unknownParameter(name)), ['!done']];
  }
  const valueName = command.attrs.get('value-name');
  if (valueName === undefined) return [trapSentence(traps.missingArguments(['value-name'])), ['!done']];
  let item: PrintedItem | undefined;
  if (spec.computed !== undefined) item = spec.computed(router)[0];
  else {
    const number = command.attrs.get('number') ?? command.attrs.get('.id');
    if (number === undefined) return [trapSentence(traps.missingArguments(['number'])), ['!done']];
    const ids = resolveItems(spec, router, number);
    if (!ids.ok) return [trapSentence(ids.trap), ['!done']];
    const entry = ids.ids[0] === undefined ? undefined : router.find(spec.path, ids.ids[0]);
    item = entry === undefined ? undefined : printedEntry(spec, entry, router);
  }
  const value = item?.get(valueName);
  if (value === undefined) return [trapSentence(traps.invalidValue('value-name')), ['!done']];
  return [['!done', `=ret=${value}`]];
}

import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { parseCommand } from './command.js';
import { runMenuCommand } from './commands.js';
import { INDEX_AFTER_PRINTS } from './menu-table.js';
import { formatId, type MenuSpec, type Props, type StoredEntry, type ValueCondition } from './menu-types.js';
import { DEFAULT_INTERFACES, MENUS } from './menus.js';
import { matchesQuery, narrowing, parseQuery } from './query.js';
import { RouterStore } from './store.js';

/**
 * The indexes (narrowed prints, clash candidates) must change nothing a client can see: the same
 * commands against a store that walks every menu give the same replies, in the same order.
 */
class WalkingStore extends RouterStore {
  override entriesWhere(): undefined {
    return undefined;
  }

  override clashCandidates(spec: MenuSpec): readonly StoredEntry[] {
    return this.entries(spec.path);
  }
}

function routerPair(): [RouterStore, RouterStore] {
  const stores: [RouterStore, RouterStore] = [new RouterStore('7.19.1', () => 0), new WalkingStore('7.19.1', () => 0)];
  for (const store of stores) for (const iface of DEFAULT_INTERFACES) store.insert('/interface', new Map(Object.entries(iface)));
  return stores;
}

const spec = (path: string): MenuSpec => {
  const found = MENUS.get(path);
  if (found === undefined) throw new Error(path);
  return found;
};

/** Small vocabularies, so that entries share values, queries find several and adds clash. */
const COMMON: Record<string, readonly string[]> = { comment: ['x', 'y', 'yes', '', '*1'], disabled: ['yes', 'no', 'true', 'false'] };
const VALUES: Record<string, Record<string, readonly string[]>> = {
  '/ip/firewall/nat': {
    chain: ['dstnat', 'srcnat', 'c1'], action: ['accept', 'dst-nat', 'masquerade', 'jump'], 'to-addresses': ['10.0.0.1', '10.0.0.2'], log: ['yes', 'no'],
  },
  '/ip/firewall/mangle': { chain: ['prerouting', 'c1'], action: ['mark-connection', 'accept', 'mark-packet'], passthrough: ['yes', 'no'] },
  '/ip/firewall/address-list': { list: ['l1', 'l2'], address: ['10.0.0.1', '10.0.0.2', '10.0.0.0/24', 'example.com'] },
  '/ip/address': { address: ['10.0.0.1/24', '10.0.0.1/32', '10.0.1.1/24', '10.0.0.1'], interface: ['ether1', 'ether2', 'bridge'] },
  '/ipv6/address': { address: ['fd00::1/64', 'fd00::1/128', 'fd00::2'], interface: ['ether1', 'ether2'], advertise: ['yes', 'no'] },
  '/ip/route': { 'dst-address': ['0.0.0.0/0', '10.9.0.0/16', '10.0.0.0/24'], gateway: ['10.0.0.254', 'ether1', '10.5.5.5'], distance: ['1', '2'] },
};
const MENU_PATHS = Object.keys(VALUES);
/** Names queries ask for besides the settable ones: read-only, derived, shown defaults, ids. */
const READ_ONLY = ['.id', 'bytes', 'dynamic', 'invalid', 'network', 'actual-interface', 'active', 'immediate-gw', 'connect'];
const QUERY_VALUES = ['0', 'false', 'true', 'no', 'ether1', '10.0.0.0', '*1', '*a', 'accept', '1'];

const valuesOf = (menu: string): Record<string, readonly string[]> => ({ ...COMMON, ...VALUES[menu] });

interface Op {
  menu: string;
  verb: 'add' | 'set' | 'unset' | 'enable' | 'disable' | 'remove' | 'move' | 'print';
  attrs: [string, string][];
  refs: number[];
  query: string[];
  flags: string[];
}

const menuArb = fc.constantFrom(...MENU_PATHS);

/** Some properties of the menu, always its required ones (an add then mostly succeeds). */
function attrsArb(menu: string): fc.Arbitrary<[string, string][]> {
  const values = valuesOf(menu);
  const required = Object.entries(spec(menu).fields).filter(([, field]) => field.required === true).map(([name]) => name);
  const value = (name: string): fc.Arbitrary<[string, string]> => fc.constantFrom(...(values[name] ?? [])).map((v): [string, string] => [name, v]);
  return fc.uniqueArray(fc.constantFrom(...Object.keys(values).filter((name) => !required.includes(name))), { maxLength: 3 })
    .chain((names) => fc.tuple(...[...required, ...names].map(value)));
}

/** One query word: a test on a value the menu's entries may print, or an operation. */
function wordArb(menu: string): fc.Arbitrary<string> {
  const values = valuesOf(menu);
  const names = [...Object.keys(values), ...READ_ONLY];
  const own = (name: string): readonly string[] => values[name] ?? QUERY_VALUES;
  const value = (name: string): fc.Arbitrary<string> => fc.oneof({ arbitrary: fc.constantFrom(...own(name)), weight: 3 }, { arbitrary: fc.constantFrom(...QUERY_VALUES), weight: 1 });
  const name = fc.oneof({ arbitrary: fc.constantFrom(...Object.keys(values)), weight: 3 }, { arbitrary: fc.constantFrom(...READ_ONLY), weight: 1 });
  const eq = name.chain((n) => value(n).map((v) => `?${n}=${v}`));
  return fc.oneof(
    { arbitrary: eq, weight: 6 },
    { arbitrary: fc.constantFrom(...names).map((name) => `?${name}`), weight: 1 },
    { arbitrary: fc.constantFrom(...names).map((name) => `?-${name}`), weight: 1 },
    { arbitrary: fc.constantFrom('?#|', '?#&', '?#!', '?#|!', '?#1'), weight: 1 },
  );
}

/** Queries of the shapes that narrow (one test, and-ed tests, any-of), and others. */
function queryArb(menu: string): fc.Arbitrary<string[]> {
  const words = fc.array(wordArb(menu), { minLength: 1, maxLength: 5 });
  const tests = words.map((ws) => ws.filter((w) => !w.startsWith('?#')));
  return fc.oneof(
    { arbitrary: wordArb(menu).map((w) => [w]), weight: 3 },
    { arbitrary: tests.map((ws) => [...ws, ...ws.slice(1).map(() => '?#|')]), weight: 3 },
    { arbitrary: tests, weight: 1 },
    { arbitrary: words, weight: 1 },
    { arbitrary: fc.constant<string[]>([]), weight: 1 },
  );
}

const flagsArb = fc.oneof(
  { arbitrary: fc.constant<string[]>([]), weight: 4 },
  { arbitrary: fc.subarray(['=count-only=', '=.proplist=.id,comment,action,address', '=from=REF']), weight: 1 },
);

const opArb = (menu: string): fc.Arbitrary<Op> =>
  fc.record({
    menu: fc.constant(menu),
    verb: fc.constantFrom<Op['verb']>('add', 'add', 'add', 'add', 'set', 'set', 'unset', 'enable', 'disable', 'remove', 'move', 'move', 'print', 'print', 'print'),
    attrs: attrsArb(menu),
    refs: fc.array(fc.nat(40), { minLength: 1, maxLength: 3 }),
    query: queryArb(menu),
    flags: flagsArb,
  });

/** An entry of the menu by position (now and then an id nobody has): ops name entries of the moment. */
function ref(store: RouterStore, menu: string, at: number): string {
  const entries = store.entries(menu);
  const entry = at === 40 ? undefined : entries[at % Math.max(entries.length, 1)];
  return entry === undefined ? '*FFFF' : formatId(entry.id);
}

function words(op: Op, store: RouterStore): string[] {
  const refs = op.refs.map((at) => ref(store, op.menu, at));
  const list = [...new Set(refs)].join(',');
  const path = `${op.menu}/${op.verb}`;
  const attrs = op.attrs.map(([name, value]) => `=${name}=${value}`);
  switch (op.verb) {
    case 'add':
      return [path, ...attrs, ...(MENUS.get(op.menu)?.ordered === true && op.refs[0] !== undefined && op.refs[0] % 2 === 0 ? [`=place-before=${refs[0]}`] : [])];
    case 'set':
      return [path, `=.id=${list}`, ...attrs];
    case 'unset':
      return [path, `=numbers=${list}`, `=value-name=${op.attrs.map(([name]) => name).join(',') || 'comment'}`];
    case 'enable':
    case 'disable':
    case 'remove':
      return [path, `=numbers=${list}`];
    case 'move':
      return [path, `=numbers=${list}`, ...(refs.length > 1 ? [`=destination=${refs.at(-1) ?? ''}`] : [])];
    case 'print':
      return [path, ...op.query, ...op.flags.map((flag) => flag.replace('REF', list))];
  }
}

describe('indexed prints and clash checks', () => {
  it('reply exactly as walking every entry does, over any sequence of changes and prints', () => {
    // a few menus per run, so that each gathers entries
    const run = fc.uniqueArray(menuArb, { minLength: 1, maxLength: 2 }).chain((menus) =>
      fc.tuple(fc.constant(menus), fc.array(fc.oneof(...menus.map(opArb)), { minLength: 10, maxLength: 120, size: 'max' }), fc.boolean()));
    fc.assert(fc.property(run, ([menus, ops, early]) => {
      const [indexed, walking] = routerPair();
      // indexes built before the first entry, or from the entries there are when prints have asked often enough
      if (early) for (const menu of menus) {
        for (const store of [indexed, walking]) store.touch(menu);
        for (const name of [...Object.keys(valuesOf(menu)), ...READ_ONLY]) {
          for (let i = 0; i < INDEX_AFTER_PRINTS; i++) indexed.entriesWhere(spec(menu), [{ name, value: 'x' }]);
        }
      }
      for (const op of ops) {
        const sent = words(op, indexed);
        const command = parseCommand(sent);
        expect(runMenuCommand(command, indexed, 'full'), sent.join(' ')).toEqual(runMenuCommand(command, walking, 'full'));
        // after every change, each menu of the run by the kind of query a client narrows with
        if (op.verb === 'print') continue;
        for (const menu of menus) {
          const entries = walking.entries(menu);
          const some = entries.flatMap((e, i) => (i % 3 === 0 ? [e] : []));
          const query = some.flatMap((e) => [`?comment=${e.props.get('comment') ?? ''}`, `?.id=${formatId(e.id).toLowerCase()}`]);
          const print = parseCommand([`${menu}/print`, ...query, ...query.slice(1).map(() => '?#|')]);
          expect(runMenuCommand(print, indexed, 'full')).toEqual(runMenuCommand(print, walking, 'full'));
        }
      }
      expect(indexed.dump()).toEqual(walking.dump());
    }), { numRuns: 100 });
  });

  it('narrow the shapes a controller sends, and walk where a value may be derived', () => {
    const [store] = routerPair();
    const nat = spec('/ip/firewall/nat');
    const add = (chain: string, comment?: string): number =>
      store.insert(nat.path, new Map([['chain', chain], ...(comment === undefined ? [] : [['comment', comment] as [string, string]])]));
    const a = add('dstnat', 'x');
    const b = add('srcnat');
    const c = add('dstnat', 'y');
    store.move(nat.path, [c], a);
    const conditions = (...query: string[]): ValueCondition[] | undefined => {
      const parsed = parseQuery(query);
      return parsed.ok ? narrowing(parsed.words) : undefined;
    };
    // asked for a few times before they are indexed: until then the caller walks
    for (const name of ['chain', 'comment', 'action']) {
      for (let i = 1; i < INDEX_AFTER_PRINTS; i++) expect(store.entriesWhere(nat, [{ name, value: 'x' }])).toBeUndefined();
    }
    const ids = (found: readonly StoredEntry[] | undefined): number[] | undefined => found?.map((e) => e.id);
    expect(ids(store.entriesWhere(nat, conditions('?chain=srcnat', '?comment=x', '?#|') ?? []))).toEqual([a, b]);
    expect(ids(store.entriesWhere(nat, conditions('?chain=dstnat') ?? []))).toEqual([c, a]);
    // the shown default: entries without the property print it
    expect(ids(store.entriesWhere(nat, conditions('?action=accept') ?? []))).toEqual([c, a, b]);
    expect(ids(store.entriesWhere(nat, conditions('?comment=') ?? []))).toEqual([b]);
    expect(ids(store.entriesWhere(nat, conditions(`?.id=${formatId(b).toLowerCase()}`) ?? []))).toEqual([b]);
    store.replace(nat.path, b, new Map([['chain', 'dstnat'], ['comment', 'x']]));
    expect(ids(store.entriesWhere(nat, conditions('?comment=x') ?? []))).toEqual([a, b]);
    store.remove(nat.path, new Set([a]));
    expect(ids(store.entriesWhere(nat, conditions('?comment=x') ?? []))).toEqual([b]);
    const address = store.insert('/ip/address', new Map([['address', '10.0.0.1/24'], ['interface', 'ether1']]));
    for (let i = 1; i < INDEX_AFTER_PRINTS; i++) store.entriesWhere(spec('/ip/address'), [{ name: 'address', value: 'x' }]);
    expect(store.entriesWhere(spec('/ip/address'), [{ name: 'network', value: '10.0.0.0' }])).toBeUndefined();
    expect(ids(store.entriesWhere(spec('/ip/address'), [{ name: 'address', value: '10.0.0.1/24' }]))).toEqual([address]);
  });
});

describe('narrowing', () => {
  // whatever an item prints, if the query matches it, one of the conditions holds for it
  const value = fc.constantFrom('', 'a', 'b', 'true', 'false', 'yes', 'no', '*1', '*01', '*a', 'x=y', 'toString');
  const name = fc.constantFrom('chain', 'comment', 'list', '.id', 'disabled');
  const item = fc.tuple(fc.nat(20), fc.dictionary(fc.constantFrom('chain', 'comment', 'list', 'disabled'), value))
    .map(([id, props]) => new Map([['.id', formatId(id)], ...Object.entries(props)]));
  const test = fc.oneof(
    fc.tuple(name, value).map(([n, v]) => `?${n}=${v}`),
    name.map((n) => `?${n}`),
    name.map((n) => `?-${n}`),
    fc.tuple(name, fc.constantFrom('*1', '*A', '*14')).map(([n, v]) => `?${n}=${v}`),
  );
  const query = fc.oneof(
    fc.array(test, { maxLength: 5 }),
    fc.array(test, { minLength: 1, maxLength: 6 }).chain((tests) =>
      fc.constantFrom('|', '&', '||').map((op) => [...tests, ...tests.slice(1).map(() => `?#${op}`)])),
  );

  it('names a printed value of every item the query matches', () => {
    fc.assert(fc.property(query, fc.array(item, { maxLength: 8 }), (words, items) => {
      const parsed = parseQuery(words);
      if (!parsed.ok) return;
      const conditions = narrowing(parsed.words);
      if (conditions === undefined) return;
      for (const it of items) {
        if (matchesQuery(parsed.words, it)) expect(conditions.some(({ name: n, value: v }) => it.get(n) === v), JSON.stringify([words, [...it]])).toBe(true);
      }
    }), { numRuns: 3000 });
  });

  it.each([
    ['one test', ['?chain=a'], [{ name: 'chain', value: 'a' }]],
    ['and-ed tests: the first that narrows', ['?comment', '?chain=a', '?list=b'], [{ name: 'chain', value: 'a' }]],
    ['any of', ['?chain=a', '?list=b', '?#|'], [{ name: 'chain', value: 'a' }, { name: 'list', value: 'b' }]],
    ['a boolean word: the boolean too', ['?disabled=yes'], [{ name: 'disabled', value: 'yes' }, { name: 'disabled', value: 'true' }]],
    ['an empty value: no value too', ['?comment='], [{ name: 'comment', value: '' }, { name: 'comment', value: undefined }]],
    ['an id as printed', ['?.id=*0a'], [{ name: '.id', value: '*A' }]],
    ['no query', [], undefined],
    ['an id-like value elsewhere', ['?comment=*1'], undefined],
    ['any of with a test that does not narrow', ['?chain=a', '?-comment', '?#|'], undefined],
    ['other operations', ['?chain=a', '?chain=b', '?#&'], undefined],
  ])('%s', (_story, words, expected) => {
    const parsed = parseQuery(words);
    expect(parsed.ok && narrowing(parsed.words)).toEqual(expected);
  });
});

describe('clash keys', () => {
  // the store looks candidates up by key: entries that clash must share it
  const props = (names: readonly string[], values: readonly string[]): fc.Arbitrary<Props> =>
    fc.dictionary(fc.constantFrom(...names), fc.constantFrom(...values)).map((o) => new Map(Object.entries(o)));
  const addresses = ['10.0.0.1', '10.0.0.1/24', '10.0.0.1/32', '10.0.0.2/24', 'fd00::1', 'fd00::1/64', 'fd00:0::1/128', 'example.com', 'x y'];
  const clashing = [...MENUS.values()].filter((s) => s.clash !== undefined);

  it.each(clashing.map((s) => [s.path, s]))('%s: entries that clash share a key', (_path, s) => {
    expect(s.clashKey).toBeDefined();
    const arb = props(['address', 'interface', 'list', 'comment'], [...addresses, 'ether1', 'ether2', 'l1', 'l1 x']);
    fc.assert(fc.property(arb, arb, (a, b) => {
      if (s.clash?.(a, b) !== null) expect(s.clashKey?.(a)).toBe(s.clashKey?.(b));
    }), { numRuns: 3000 });
  });
});

describe('a command naming thousands of entries', () => {
  const ENTRIES = 4000;
  const natStore = (): { store: RouterStore; ids: string[] } => {
    const store = new RouterStore('7.19.1', () => 0);
    const ids = Array.from({ length: ENTRIES }, (_, i) => formatId(store.insert('/ip/firewall/nat', new Map([['chain', `c${i % 7}`], ['action', 'accept'], ['comment', `r${i}`]]))));
    return { store, ids };
  };
  const comments = (store: RouterStore): string[] => store.entries('/ip/firewall/nat').map((e) => e.props.get('comment') ?? '');

  it('a remove of them all (a collection) looks each id up once', () => {
    const { store, ids } = natStore();
    const scanned = countScanned('includes');
    const reply = runMenuCommand(parseCommand(['/ip/firewall/nat/remove', `=numbers=${ids.join(',')}`]), store, 'full');
    const elements = scanned.stop();
    expect(reply).toEqual([['!done']]);
    expect(store.entries('/ip/firewall/nat')).toEqual([]);
    // checking each id against those resolved before it walked ~2,000 per id
    expect(elements / ids.length).toBeLessThan(4);
  });

  it('a move of half of them finds each by its id, not by walking the menu', () => {
    const { store, ids } = natStore();
    const odd = ids.filter((_, i) => i % 2 === 1);
    const scanned = countScanned('filter');
    const reply = runMenuCommand(parseCommand(['/ip/firewall/nat/move', `=numbers=${odd.join(',')}`, `=destination=${ids[0] ?? ''}`]), store, 'full');
    const elements = scanned.stop();
    expect(reply).toEqual([['!done']]);
    const order = comments(store);
    expect(order.slice(0, ENTRIES / 2)).toEqual(Array.from({ length: ENTRIES / 2 }, (_, i) => `r${2 * i + 1}`));
    expect(order.slice(ENTRIES / 2)).toEqual(Array.from({ length: ENTRIES / 2 }, (_, i) => `r${2 * i}`));
    // a walk of the menu per id moved walked 4,000 per id
    expect(elements / odd.length).toBeLessThan(20);
  });
});

/** How many array elements `Array.prototype[method]` walks until `stop()`, counting each call's whole array. */
function countScanned(method: 'includes' | 'filter'): { stop(): number } {
  let elements = 0;
  const spy = method === 'includes'
    ? vi.spyOn(Array.prototype, 'includes').mockImplementation(function (this: unknown[], ...args: Parameters<typeof Array.prototype.includes>) {
      elements += this.length;
      return ORIGINAL.includes.apply(this, args);
    })
    : vi.spyOn(Array.prototype, 'filter').mockImplementation(function (this: unknown[], ...args: Parameters<typeof Array.prototype.filter>) {
      elements += this.length;
      return ORIGINAL.filter.apply(this, args);
    });
  return { stop: () => (spy.mockRestore(), elements) };
}
const ORIGINAL = { includes: Array.prototype.includes, filter: Array.prototype.filter };

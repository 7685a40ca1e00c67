import { formatId, mayDerive, ownValue, parseId, type MenuSpec, type Props, type StoredEntry, type ValueCondition } from './menu-types.js';

/** A stored entry as its table keeps it: `rank` grows along the table order. */
interface Entry extends StoredEntry {
  props: Props;
  rank: number;
}

/**
 * Entries grouped by one value computed from their own properties (undefined is a group too). A
 * group of one is the entry itself: most values (comments, route destinations) are unique, and a
 * set each would cost a menu of a million entries hundreds of megabytes.
 */
class ValueIndex {
  private readonly groups = new Map<string | undefined, Entry | Set<Entry>>();

  constructor(readonly valueOf: (props: Props) => string | undefined, entries: readonly Entry[]) {
    for (const entry of entries) this.add(entry);
  }

  add(entry: Entry): void {
    const value = this.valueOf(entry.props);
    const group = this.groups.get(value);
    if (group === undefined) this.groups.set(value, entry);
    else if (group instanceof Set) group.add(entry);
    else this.groups.set(value, new Set([group, entry]));
  }

  /** Call before the entry's properties change: its group is found by its current value. */
  delete(entry: Entry): void {
    const value = this.valueOf(entry.props);
    const group = this.groups.get(value);
    if (group === entry) this.groups.delete(value);
    else if (group instanceof Set) {
      group.delete(entry);
      if (group.size === 0) this.groups.delete(value);
    }
  }

  get(value: string | undefined): Iterable<Entry> {
    const group = this.groups.get(value);
    return group === undefined ? [] : group instanceof Set ? group : [group];
  }
}

/**
 * Prints that ask for a property before it gets an index; the ones before walk. Building an index
 * costs several walks of the menu (a million routes: ~1 s, a walk ~0.15 s), so a property asked
 * for once or twice (a route lookup) is walked for, and one a client asks for again and again
 * (every Service's narrowed read) is indexed while the menu is still small.
 */
export const INDEX_AFTER_PRINTS = 4;

const byRank = (a: Entry, b: Entry): number => a.rank - b.rank;

/**
 * One menu's entries in table order, by id, and grouped by the values prints and clash checks
 * look for, so that neither walks the whole menu (a router holds thousands of NAT rules, and a
 * controller reads a handful of them per Service). A property's index is built once prints
 * have asked for it a few times (INDEX_AFTER_PRINTS), the clash index on the first clash check;
 * every change keeps them up to date. Order: `rank` grows along the table; appending takes the next rank,
 * changes that reorder (place-before, move) renumber the table, removing keeps the order.
 */
export class MenuTable {
  private list: Entry[] = [];
  private readonly byId = new Map<number, Entry>();
  /** By property name: entries grouped by their printed value of it (see ownValue). */
  private readonly byValue = new Map<string, ValueIndex>();
  /** By property name, before it is indexed: how many prints asked for it. */
  private readonly asked = new Map<string, number>();
  private clashes: ValueIndex | undefined;

  entries(): readonly StoredEntry[] {
    return this.list;
  }

  find(id: number): StoredEntry | undefined {
    return this.byId.get(id);
  }

  /** Adds an entry at the end, or before `beforeId` (at the end when there is no such entry). */
  insert(id: number, props: Props, beforeId?: number): void {
    const entry: Entry = { id, props, rank: (this.list.at(-1)?.rank ?? 0) + 1 };
    const at = beforeId === undefined ? -1 : this.list.findIndex((e) => e.id === beforeId);
    if (at < 0) this.list.push(entry);
    else {
      this.list.splice(at, 0, entry);
      this.renumber();
    }
    this.byId.set(id, entry);
    for (const index of this.indexes()) index.add(entry);
  }

  remove(ids: ReadonlySet<number>): void {
    for (const id of ids) {
      const entry = this.byId.get(id);
      if (entry === undefined) continue;
      for (const index of this.indexes()) index.delete(entry);
      this.byId.delete(id);
    }
    this.list = this.list.filter((entry) => !ids.has(entry.id));
  }

  /** Replaces an entry's properties (set, unset, enable, disable). */
  replace(id: number, props: Props): void {
    const entry = this.byId.get(id);
    if (entry === undefined) return;
    for (const index of this.indexes()) index.delete(entry);
    entry.props = props;
    for (const index of this.indexes()) index.add(entry);
  }

  /** Moves `ids` (in that order) before `beforeId`, or to the end when it is undefined. */
  move(ids: readonly number[], beforeId?: number): void {
    const moving = new Set(ids);
    const list = this.list;
    const rest = list.filter((entry) => !moving.has(entry.id));
    const moved = ids.flatMap((id) => this.byId.get(id) ?? []);
    let at = rest.length;
    if (beforeId !== undefined && moving.has(beforeId)) {
      // Before one of the moved entries: the block lands where that entry was.
      at = list.slice(0, list.findIndex((entry) => entry.id === beforeId)).filter((e) => !moving.has(e.id)).length;
    } else if (beforeId !== undefined) {
      const found = rest.findIndex((entry) => entry.id === beforeId);
      if (found >= 0) at = found;
    }
    this.list = [...rest.slice(0, at), ...moved, ...rest.slice(at)];
    this.renumber();
  }

  /**
   * The entries that print one of these values, in table order; undefined when the caller must
   * walk: a property's printed value may be derived (only a walk that derives can tell), or it is
   * not indexed yet (see INDEX_AFTER_PRINTS). `.id` is looked up by id.
   */
  where(spec: MenuSpec, conditions: readonly ValueCondition[]): readonly StoredEntry[] | undefined {
    const indexes = new Map<string, ValueIndex | undefined>();
    for (const { name } of conditions) {
      if (name === '.id' || indexes.has(name)) continue;
      if (mayDerive(spec, name)) return undefined;
      indexes.set(name, this.indexFor(spec, name));
    }
    const found = new Set<Entry>();
    for (const { name, value } of conditions) {
      if (name === '.id') {
        const entry = this.byId.get(parseId(value ?? '') ?? -1);
        if (entry !== undefined && formatId(entry.id) === value) found.add(entry);
        continue;
      }
      const index = indexes.get(name);
      if (index === undefined) return undefined;
      for (const entry of index.get(value)) found.add(entry);
    }
    return [...found].sort(byRank);
  }

  /** The entries `candidate` may clash with (see MenuSpec.clashKey), in table order. */
  clashCandidates(spec: MenuSpec, candidate: Props): readonly StoredEntry[] {
    const key = spec.clashKey;
    if (key === undefined) return this.list;
    this.clashes ??= new ValueIndex(key, this.list);
    return [...this.clashes.get(key(candidate))].sort(byRank);
  }

  /** The index of a property's printed values, once prints have asked for it often enough. */
  private indexFor(spec: MenuSpec, name: string): ValueIndex | undefined {
    let index = this.byValue.get(name);
    if (index !== undefined) return index;
    const asked = (this.asked.get(name) ?? 0) + 1;
    this.asked.set(name, asked);
    if (asked < INDEX_AFTER_PRINTS) return undefined;
    index = new ValueIndex((props) => ownValue(spec, props, name), this.list);
    this.byValue.set(name, index);
    return index;
  }

  private *indexes(): Iterable<ValueIndex> {
    yield* this.byValue.values();
    if (this.clashes !== undefined) yield this.clashes;
  }

  private renumber(): void {
    this.list.forEach((entry, i) => {
      entry.rank = i;
    });
  }
}

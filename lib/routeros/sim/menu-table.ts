import { formatId, mayDerive, ownValue, parseId, type MenuSpec, type Props, type StoredEntry, type ValueCondition } from './menu-types.js';

/** A stored entry as its table keeps it: `rank` grows along the table order. */
interface Entry extends StoredEntry {
  props: Props;
  rank: number;
}

/** Entries grouped by one value computed from their own properties (undefined is a group too). */
class ValueIndex {
  private readonly groups = new Map<string | undefined, Set<Entry>>();

  constructor(readonly valueOf: (props: Props) => string | undefined, entries: readonly Entry[]) {
    for (const entry of entries) this.add(entry);
  }

  add(entry: Entry): void {
    const value = this.valueOf(entry.props);
    const group = this.groups.get(value);
    if (group === undefined) this.groups.set(value, new Set([entry]));
    else group.add(entry);
  }

  /** Call before the entry's properties change: its group is found by its current value. */
  delete(entry: Entry): void {
    const value = this.valueOf(entry.props);
    const group = this.groups.get(value);
    group?.delete(entry);
    if (group?.size === 0) this.groups.delete(value);
  }

  get(value: string | undefined): ReadonlySet<Entry> {
    return this.groups.get(value) ?? NONE;
  }
}

const NONE: ReadonlySet<Entry> = new Set();

const byRank = (a: Entry, b: Entry): number => a.rank - b.rank;

/**
 * One menu's entries in table order, by id, and grouped by the values prints and clash checks
 * look for, so that neither walks the whole menu (a router holds thousands of NAT rules, and a
 * controller reads a handful of them per Service). Indexes are built on first use and kept up
 * to date by every change. Order: `rank` grows along the table; appending takes the next rank,
 * changes that reorder (place-before, move) renumber the table, removing keeps the order.
 */
export class MenuTable {
  private list: Entry[] = [];
  private readonly byId = new Map<number, Entry>();
  /** By property name: entries grouped by their printed value of it (see ownValue). */
  private readonly byValue = new Map<string, ValueIndex>();
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
    const moved = ids.flatMap((id) => list.filter((entry) => entry.id === id));
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
   * The entries that print one of these values, in table order; undefined when a property's
   * printed value may be derived (only a walk that derives can tell). `.id` is looked up by id.
   */
  where(spec: MenuSpec, conditions: readonly ValueCondition[]): readonly StoredEntry[] | undefined {
    const found = new Set<Entry>();
    for (const { name, value } of conditions) {
      if (name === '.id') {
        const entry = this.byId.get(parseId(value ?? '') ?? -1);
        if (entry !== undefined && formatId(entry.id) === value) found.add(entry);
        continue;
      }
      if (mayDerive(spec, name)) return undefined;
      let index = this.byValue.get(name);
      if (index === undefined) {
        index = new ValueIndex((props) => ownValue(spec, props, name), this.list);
        this.byValue.set(name, index);
      }
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

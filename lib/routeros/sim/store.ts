import type { RouterState } from '../../router/state.js';
import { isWireSafe } from '../wire/sentence.js';
import { DEFAULT_INTERFACES, MENUS } from './menus.js';
import { MenuTable } from './menu-table.js';
import { formatId, parseId, type MenuSpec, type Props, type RouterReader, type StoredEntry, type ValueCondition } from './menu-types.js';
import { bool } from './validate.js';

export type SeedResult = { ok: true; store: RouterStore } | { ok: false; message: string };

/**
 * A router's stored configuration: per menu, entries in order with the properties that were set
 * (defaults and derived values are added when printing, so a seed dumps back unchanged). `.id`s
 * come from one counter per router and are never reused. Each menu keeps indexes for narrowed
 * prints and clash checks (see MenuTable), so changes go through the store.
 */
export class RouterStore implements RouterReader {
  readonly startedAt: number;
  version: string;
  private readonly menus = new Map<string, MenuTable>();
  /** Menus that appear in dumps even when empty: seeded or written to. */
  private readonly mentioned = new Set<string>();
  private nextId = 1;

  constructor(version: string, private readonly clock: () => number = Date.now) {
    this.version = version;
    this.startedAt = clock();
  }

  now(): number {
    return this.clock();
  }

  entries(menu: string): readonly StoredEntry[] {
    return this.menus.get(menu)?.entries() ?? [];
  }

  find(menu: string, id: number): StoredEntry | undefined {
    return this.menus.get(menu)?.find(id);
  }

  interfaceExists(name: string): boolean {
    return this.entries('/interface').some((entry) => entry.props.get('name') === name);
  }

  /** See RouterReader.entriesWhere; `spec` is the menu's (one per path, as in MENUS). */
  entriesWhere(spec: MenuSpec, conditions: readonly ValueCondition[]): readonly StoredEntry[] | undefined {
    // a field some releases lack prints by version, which the indexes do not know: walk
    if (conditions.some(({ name }) => spec.fields[name]?.since !== undefined)) return undefined;
    const table = this.menus.get(spec.path);
    return table === undefined ? [] : table.where(spec, conditions);
  }

  /** The entries of `spec`'s menu that `candidate` may clash with, in table order (see MenuSpec.clashKey). */
  clashCandidates(spec: MenuSpec, candidate: Props): readonly StoredEntry[] {
    return this.menus.get(spec.path)?.clashCandidates(spec, candidate) ?? [];
  }

  /** Adds an entry at the end, or before `beforeId`; returns its id. */
  insert(menu: string, props: Props, beforeId?: number, id?: number): number {
    const entryId = id ?? this.nextId;
    this.nextId = Math.max(this.nextId, entryId + 1);
    this.table(menu).insert(entryId, props, beforeId);
    return entryId;
  }

  remove(menu: string, ids: ReadonlySet<number>): void {
    this.table(menu).remove(ids);
  }

  /** Replaces an entry's properties (set, unset, enable, disable). */
  replace(menu: string, id: number, props: Props): void {
    this.table(menu).replace(id, props);
  }

  /** Moves `ids` (in that order) before `beforeId`, or to the end when it is undefined. */
  move(menu: string, ids: readonly number[], beforeId?: number): void {
    this.table(menu).move(ids, beforeId);
  }

  /** Makes `menu` part of dumps even while it is empty. */
  touch(menu: string): void {
    this.table(menu);
  }

  /** Dump in the RouterState format: menus sorted by path, entries in order, `.id` then fields in table order. */
  dump(): RouterState {
    const menus: RouterState['menus'] = {};
    for (const path of [...this.mentioned].sort()) {
      const spec = MENUS.get(path);
      menus[path] = this.entries(path).map((entry) => dumpEntry(entry, spec));
    }
    return { version: this.version, menus };
  }

  private table(menu: string): MenuTable {
    this.mentioned.add(menu);
    let table = this.menus.get(menu);
    if (table === undefined) {
      table = new MenuTable();
      this.menus.set(menu, table);
    }
    return table;
  }
}

function dumpEntry(entry: StoredEntry, spec: MenuSpec | undefined): Record<string, string> {
  const out: Record<string, string> = { '.id': formatId(entry.id) };
  const known = Object.keys(spec?.fields ?? {});
  for (const key of known) {
    const value = entry.props.get(key);
    if (value !== undefined) out[key] = value;
  }
  for (const key of [...entry.props.keys()].filter((k) => !known.includes(k)).sort()) {
    out[key] = entry.props.get(key) ?? '';
  }
  return out;
}

/**
 * Flags and counters a RouterOS v7 print shows but nobody sets (route and entry status, traffic
 * counters): a state captured from a real router carries them; a seed accepts and ignores them
 * (the simulator derives its own).
 */
const READ_ONLY_PROPERTIES = new Set([
  'active', 'inactive', 'static', 'dynamic', 'connect', 'invalid', 'running', 'slave', 'ecmp', 'hw-offloaded', 'local', 'copy',
  'dhcp', 'slaac', 'vpn', 'modem', 'bgp', 'ospf', 'rip', 'mme', 'unreachable', 'prohibit', 'filtered', 'suppress-hw-offload',
  'bytes', 'packets', 'creation-time', 'immediate-gw', 'actual-interface', 'network', 'global', 'link-local', 'deprecated', 'afi',
  'contribution', 'belongs-to', 'local-address', 'vrf-interface',
]);

/** A dynamic connected route, which the router derives from `/ip/address` (so does the simulator). */
const isConnectedRoute = (menu: string, raw: Readonly<Record<string, string>>): boolean =>
  menu.endsWith('/route') && (raw.connect === 'true' || raw.connect === 'yes') && (raw.dynamic === 'true' || raw.dynamic === 'yes');

/**
 * A new store holding `state`, or why the state cannot describe a router. What a real router
 * prints is accepted: computed menus (`/routing/route`, `/system/resource`) and dynamic
 * connected routes are skipped (the simulator computes them), read-only flags are ignored.
 */
export function storeFromState(state: RouterState, clock?: () => number): SeedResult {
  const store = new RouterStore(state.version, clock);
  const pending: { menu: string; props: Map<string, string>; id: number | undefined }[] = [];
  const seen = new Set<number>();
  for (const [menu, entries] of Object.entries(state.menus)) {
    const spec = MENUS.get(menu);
    if (spec === undefined) return { ok: false, message: `unknown menu ${menu}` };
    if (spec.computed !== undefined) continue;
    for (const [index, raw] of entries.entries()) {
      const where = `${menu}[${index}]`;
      if (isConnectedRoute(menu, raw)) continue;
      const entry = seedEntry(raw, spec, where);
      if (typeof entry === 'string') return { ok: false, message: entry };
      if (entry.id !== undefined) {
        if (seen.has(entry.id)) return { ok: false, message: `${where}: duplicate .id ${formatId(entry.id)}` };
        seen.add(entry.id);
      }
      pending.push({ menu, ...entry });
    }
    store.touch(menu);
  }
  let nextFree = Math.max(0, ...seen) + 1;
  for (const entry of pending) store.insert(entry.menu, entry.props, undefined, entry.id ?? nextFree++);
  return { ok: true, store };
}

function seedEntry(raw: Record<string, string>, spec: MenuSpec, where: string): { props: Map<string, string>; id: number | undefined } | string {
  const props = new Map<string, string>();
  let id: number | undefined;
  for (const [key, value] of Object.entries(raw)) {
    if (!isWireSafe(value) || !isWireSafe(key)) return `${where}: ${key} holds characters a router cannot store (use latin1)`;
    if (key === '.id') {
      const parsed = parseId(value);
      if (parsed === null) return `${where}: .id ${JSON.stringify(value)} is not like *1A`;
      id = parsed;
      continue;
    }
    const field = spec.fields[key];
    if (READ_ONLY_PROPERTIES.has(key) && field === undefined) continue;
    if (field === undefined) return `${where}: ${spec.path} has no property ${key}`;
    const boolean = field.check === bool || field.shown === 'true' || field.shown === 'false';
    const normalized = boolean ? bool(value, { field: key, interfaceExists: () => true }) : null;
    props.set(key, normalized?.ok === true ? normalized.value : value);
  }
  return { props, id };
}

/** The router a simulator starts with when given no state. */
export function emptyRouter(version: string, clock?: () => number): RouterStore {
  const store = new RouterStore(version, clock);
  for (const iface of DEFAULT_INTERFACES) store.insert('/interface', new Map(Object.entries(iface)));
  return store;
}

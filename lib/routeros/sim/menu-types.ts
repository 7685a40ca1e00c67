import type { Trap } from './traps.js';
import type { Validator } from './validate.js';

export type Verb = 'print' | 'get' | 'add' | 'set' | 'remove' | 'move' | 'unset' | 'enable' | 'disable';
export const READ_VERBS: ReadonlySet<Verb> = new Set(['print', 'get']);

export type Props = ReadonlyMap<string, string>;

/** A stored entry. Its properties are replaced, never changed in place (the store indexes them). */
export interface StoredEntry {
  readonly id: number;
  readonly props: Props;
}

/** A printed value a query asks for: `value` undefined means printed without `name`. */
export interface ValueCondition {
  name: string;
  value: string | undefined;
}

/** What menu code may read of the router while deriving values. */
export interface RouterReader {
  readonly version: string;
  readonly startedAt: number;
  now(): number;
  entries(menu: string): readonly StoredEntry[];
  find(menu: string, id: number): StoredEntry | undefined;
  interfaceExists(name: string): boolean;
  /**
   * The stored entries of `spec`'s menu that print one of these values (see ownValue), in table
   * order, without walking the menu; undefined when it cannot answer exactly (a property print
   * may derive). Readers that keep no index leave it out: print then walks the menu.
   */
  entriesWhere?(spec: MenuSpec, conditions: readonly ValueCondition[]): readonly StoredEntry[] | undefined;
}

export interface FieldSpec {
  /** Absent for read-only fields. */
  check?: Validator;
  required?: boolean;
  /** What print shows while the field is unset. */
  shown?: string | ((props: Props) => string | undefined);
  /** The release (`[major, minor]`) that added the field: an older router neither prints nor takes it. */
  since?: readonly [number, number];
}

/** A printed item: `.id` (when the menu has ids) and the other properties, in print order. */
export type PrintedItem = Map<string, string>;

export interface MenuSpec {
  path: string;
  /** Field table; its order is the order of print and of state dumps. */
  fields: Readonly<Record<string, FieldSpec>>;
  verbs: readonly Verb[];
  /** Rule lists: `move` and `add place-before` work. */
  ordered?: boolean;
  /** `numbers` may name an item by this property (e.g. interfaces by name). */
  nameKey?: string;
  /** Values the router derives when printing (network, active, immediate-gw ...): only ever of read-only fields (no `check`). */
  derive?: (props: Props, router: RouterReader) => Record<string, string>;
  /** The trap for a new or changed entry that clashes with an existing one. */
  clash?: (candidate: Props, existing: Props) => Trap | null;
  /**
   * What `clash` compares, as one string: entries that clash have equal keys (others may too), so
   * the store finds the candidates by key instead of comparing with every entry. `clash` stays
   * the definition.
   */
  clashKey?: (props: Props) => string;
  /** For menus the router computes rather than stores: the items to print. */
  computed?: (router: RouterReader) => PrintedItem[];
  /** Dynamic entries the router adds to a stored menu (connected routes): printed after the stored ones, never written. */
  dynamic?: (router: RouterReader) => StoredEntry[];
}

function shownValue(field: FieldSpec | undefined, props: Props): string | undefined {
  const shown = field?.shown;
  return typeof shown === 'function' ? shown(props) : shown;
}

/** Whether print may derive `name` in this menu: only read-only fields of menus that derive (see MenuSpec.derive). */
export const mayDerive = (spec: MenuSpec, name: string): boolean => spec.derive !== undefined && spec.fields[name] !== undefined && spec.fields[name].check === undefined;

/**
 * A property as print shows it when it is not derived (not `.id` either): the stored value, else
 * the shown default. It depends on the entry's own properties only, so a store can index it.
 */
export function ownValue(spec: MenuSpec, props: Props, name: string): string | undefined {
  return props.get(name) ?? shownValue(spec.fields[name], props);
}

/** Whether a router of `version` has `field` (see FieldSpec.since); an unknown field it has not. */
export function fieldIn(field: FieldSpec | undefined, version: string): boolean {
  return field !== undefined && (field.since === undefined || versionAtLeast(version, ...field.since));
}

/** Whether a RouterOS version (`7.19.1`, `7.22beta2`) is `major.minor` or later. */
export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [have = 0, haveMinor = 0] = version.split(/[^0-9]/).map(Number);
  return have > major || (have === major && haveMinor >= minor);
}

export const formatId = (id: number): string => `*${id.toString(16).toUpperCase()}`;

export function parseId(text: string): number | null {
  if (!/^\*[0-9A-Fa-f]{1,8}$/.test(text)) return null;
  return Number.parseInt(text.slice(1), 16);
}

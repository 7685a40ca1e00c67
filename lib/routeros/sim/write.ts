import type { ParsedCommand } from './command.js';
import { resolveItems } from './items.js';
import { fieldIn, formatId, type MenuSpec, type Props } from './menu-types.js';
import type { Reply } from './print.js';
import type { RouterStore } from './store.js';
import { traps, trapSentence, type Trap } from './traps.js';

/** add, set, remove, move, unset, enable, disable: validate everything first, then change the store. */
const failed = (trap: Trap): Reply => [trapSentence(trap), ['!done']];
const done: Reply = [['!done']];

type Checked = { ok: true; values: Map<string, string> } | { ok: false; trap: Trap };

/** Checks every attribute except `control` ones against the field table. */
function checkValues(spec: MenuSpec, store: RouterStore, attrs: Map<string, string>, control: readonly string[]): Checked {
  const values = new Map<string, string>();
  const interfaceExists = (name: string): boolean => store.interfaceExists(name);
  for (const [name, raw] of attrs) {
    if (control.includes(name)) continue;
    const field = spec.fields[name];
    const check = field?.check;
    if (check === undefined || !fieldIn(field, store.version)) return { ok: false, trap: traps.unknownParameter(name) };
    const checked = check(raw, { field: name, interfaceExists });
    if (!checked.ok) return checked;
    values.set(name, checked.value);
  }
  return { ok: true, values };
}

function clashWith(spec: MenuSpec, store: RouterStore, candidate: Props, self?: number): Trap | null {
  if (spec.clash === undefined) return null;
  for (const entry of store.clashCandidates(spec, candidate)) {
    if (entry.id === self) continue;
    const trap = spec.clash(candidate, entry.props);
    if (trap !== null) return trap;
  }
  return null;
}

/**
 * A dynamic rule (the `special dummy rule to show fasttrack counters` a router with fasttrack
 * shows first in filter forward and mangle, a hotspot's own rules) stays where the router put
 * it: moving it, or moving or adding a rule before it, is refused.
 */
function builtinIn(spec: MenuSpec, store: RouterStore, ids: readonly (number | undefined)[]): boolean {
  return ids.some((id) => id !== undefined && store.find(spec.path, id)?.props.get('dynamic') === 'true');
}

export function add(spec: MenuSpec, command: ParsedCommand, store: RouterStore): Reply {
  const control = spec.ordered === true ? ['place-before'] : [];
  const checked = checkValues(spec, store, command.attrs, control);
  if (!checked.ok) return failed(checked.trap);
  const missing = Object.entries(spec.fields)
    .filter(([name, field]) => field.required === true && !checked.values.has(name))
    .map(([name]) => name);
  if (missing.length > 0) return failed(traps.missingArguments(missing));
  let before: number | undefined;
  const placeBefore = command.attrs.get('place-before');
  if (placeBefore !== undefined) {
    const ids = resolveItems(spec, store, placeBefore);
    if (!ids.ok) return failed(ids.trap);
    before = ids.ids[0];
    if (builtinIn(spec, store, [before])) return failed(traps.cannotMoveBuiltin);
  }
  const clash = clashWith(spec, store, checked.values);
  if (clash !== null) return failed(clash);
  const id = store.insert(spec.path, checked.values, before);
  return [['!done', `=ret=${formatId(id)}`]];
}

type Targets = { ok: true; ids: number[] } | { ok: false; trap: Trap };

function targets(spec: MenuSpec, store: RouterStore, command: ParsedCommand): Targets {
  const list = command.attrs.get('.id') ?? command.attrs.get('numbers');
  if (list === undefined) return { ok: false, trap: traps.missingArguments(['numbers']) };
  return resolveItems(spec, store, list);
}

function update(spec: MenuSpec, store: RouterStore, ids: readonly number[], change: (props: Map<string, string>) => void): Reply {
  const updated = ids.flatMap((id) => {
    const entry = store.find(spec.path, id);
    if (entry === undefined) return [];
    const props = new Map(entry.props);
    change(props);
    return [{ entry, props }];
  });
  for (const { entry, props } of updated) {
    const clash = clashWith(spec, store, props, entry.id);
    if (clash !== null) return failed(clash);
  }
  for (const { entry, props } of updated) store.replace(spec.path, entry.id, props);
  store.touch(spec.path);
  return done;
}

export function set(spec: MenuSpec, command: ParsedCommand, store: RouterStore): Reply {
  const found = targets(spec, store, command);
  if (!found.ok) return failed(found.trap);
  const checked = checkValues(spec, store, command.attrs, ['.id', 'numbers']);
  if (!checked.ok) return failed(checked.trap);
  return update(spec, store, found.ids, (props) => {
    for (const [name, value] of checked.values) props.set(name, value);
  });
}

export function unset(spec: MenuSpec, command: ParsedCommand, store: RouterStore): Reply {
  const found = targets(spec, store, command);
  if (!found.ok) return failed(found.trap);
  for (const name of command.attrs.keys()) {
    if (!['.id', 'numbers', 'value-name'].includes(name)) return failed(traps.unknownParameter(name));
  }
  const names = command.attrs.get('value-name')?.split(',');
  if (names === undefined) return failed(traps.missingArguments(['value-name']));
  for (const name of names) {
    const field = spec.fields[name];
    if (field?.check === undefined || field.required === true || !fieldIn(field, store.version)) return failed(traps.invalidValue('value-name'));
  }
  return update(spec, store, found.ids, (props) => {
    for (const name of names) props.delete(name);
  });
}

export function enable(spec: MenuSpec, command: ParsedCommand, store: RouterStore, disabled: boolean): Reply {
  const found = targets(spec, store, command);
  if (!found.ok) return failed(found.trap);
  for (const name of command.attrs.keys()) {
    if (name !== '.id' && name !== 'numbers') return failed(traps.unknownParameter(name));
  }
  return update(spec, store, found.ids, (props) => props.set('disabled', String(disabled)));
}

export function remove(spec: MenuSpec, command: ParsedCommand, store: RouterStore): Reply {
  const found = targets(spec, store, command);
  if (!found.ok) return failed(found.trap);
  for (const name of command.attrs.keys()) {
    if (name !== '.id' && name !== 'numbers') return failed(traps.unknownParameter(name));
  }
  store.remove(spec.path, new Set(found.ids));
  return done;
}

export function move(spec: MenuSpec, command: ParsedCommand, store: RouterStore): Reply {
  const found = targets(spec, store, command);
  if (!found.ok) return failed(found.trap);
  for (const name of command.attrs.keys()) {
    if (!['.id', 'numbers', 'destination'].includes(name)) return failed(traps.unknownParameter(name));
  }
  const destination = command.attrs.get('destination');
  let before: number | undefined;
  if (destination !== undefined) {
    const ids = resolveItems(spec, store, destination);
    if (!ids.ok) return failed(ids.trap);
    before = ids.ids[0];
  }
  if (builtinIn(spec, store, [...found.ids, before])) return failed(traps.cannotMoveBuiltin);
  store.move(spec.path, found.ids, before);
  return done;
}

import type { RouterEntry, RouterState } from './state.js';
import type { Op } from './ops.js';

/**
 * Applies a plan to a router state the way RouterOS would, without a router: for tests and for
 * `mikrolb invoke`'s dry runs. New entries get fresh `.id`s from one counter over all menus,
 * above every id in the state (a router's own counter also survives removals, which a state
 * does not record, so its ids may run higher). An op naming an id the menu lacks is a broken
 * plan: it throws, where a router would answer `no such item`.
 */

const ID = /^\*([0-9A-Fa-f]{1,8})$/;

function highestId(state: RouterState): number {
  let highest = 0;
  for (const entries of Object.values(state.menus)) {
    for (const entry of entries) {
      const hex = ID.exec(entry['.id'] ?? '')?.[1];
      if (hex !== undefined) highest = Math.max(highest, Number.parseInt(hex, 16));
    }
  }
  return highest;
}

function indexOf(menu: string, entries: readonly RouterEntry[], id: string): number {
  const index = entries.findIndex((entry) => entry['.id'] === id);
  if (index < 0) throw new Error(`${menu}: no such item ${id}`);
  return index;
}

function insertAt(menu: string, entries: RouterEntry[], added: RouterEntry, before: string | undefined): void {
  const at = before === undefined ? entries.length : indexOf(menu, entries, before);
  entries.splice(at, 0, added);
}

/** Moves `ids` as a block before `destination`; before one of the moved entries, the block lands where that entry was. */
function move(menu: string, entries: readonly RouterEntry[], ids: readonly string[], destination: string | undefined): RouterEntry[] {
  const moving = (entry: RouterEntry): boolean => ids.includes(entry['.id'] ?? '');
  const moved = ids.map((id) => entries[indexOf(menu, entries, id)]).filter((entry) => entry !== undefined);
  const rest = entries.filter((entry) => !moving(entry));
  let at = rest.length;
  if (destination !== undefined && ids.includes(destination)) {
    at = entries.slice(0, indexOf(menu, entries, destination)).filter((entry) => !moving(entry)).length;
  } else if (destination !== undefined) {
    at = indexOf(menu, rest, destination);
  }
  rest.splice(at, 0, ...moved);
  return rest;
}

function applyOp(menu: string, entries: RouterEntry[], op: Op, nextId: () => string): RouterEntry[] {
  switch (op.op) {
    case 'add':
      insertAt(menu, entries, { '.id': nextId(), ...op.entry }, op.placeBefore);
      return entries;
    case 'set': {
      const index = indexOf(menu, entries, op.id);
      entries[index] = { ...entries[index], ...op.changes };
      return entries;
    }
    case 'remove': {
      for (const id of op.ids) indexOf(menu, entries, id);
      return entries.filter((entry) => !op.ids.includes(entry['.id'] ?? ''));
    }
    case 'move':
      return move(menu, entries, op.ids, op.destination);
  }
}

export function applyPlanToState(state: RouterState, ops: readonly Op[]): RouterState {
  let counter = highestId(state);
  const nextId = (): string => `*${(++counter).toString(16).toUpperCase()}`;
  const menus: RouterState['menus'] = Object.fromEntries(Object.entries(state.menus).map(([menu, entries]) => [menu, entries.map((entry) => ({ ...entry }))]));
  for (const op of ops) menus[op.menu] = applyOp(op.menu, menus[op.menu] ?? [], op, nextId);
  return { version: state.version, menus };
}

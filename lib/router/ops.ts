import type { DesiredEntry } from './menus.js';

/**
 * One router write, addressed by `.id`. A plan is a list of these, to be sent in order: ids
 * named by later ops always belong to entries that existed before the plan started, so an
 * executor never has to learn the ids that `add` returns.
 */
export type Op =
  | { op: 'add'; menu: string; entry: DesiredEntry; placeBefore?: string }
  | { op: 'set'; menu: string; id: string; changes: Record<string, string> }
  | { op: 'remove'; menu: string; ids: string[] }
  /** Moves `ids`, in this order, before `destination` (to the end when absent). */
  | { op: 'move'; menu: string; ids: string[]; destination?: string };

/** Joins consecutive moves to the same place into one op (RouterOS moves a list as a block, in order). */
export function mergeMoves(ops: readonly Op[]): Op[] {
  const merged: Op[] = [];
  for (const op of ops) {
    const last = merged.at(-1);
    if (op.op === 'move' && last?.op === 'move' && last.menu === op.menu && last.destination === op.destination) {
      merged[merged.length - 1] = { ...last, ids: [...last.ids, ...op.ids] };
    } else {
      merged.push(op);
    }
  }
  return merged;
}

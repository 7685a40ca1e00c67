import type { DesiredEntry } from './menus.js';
import { mergeMoves, type Op } from './ops.js';

/**
 * Placement in rule menus. In every chain, our in-scope entries must appear in the desired
 * order and before every foreign entry of that chain (so the global jumps come first in
 * dstnat and srcnat, and our chains run our rules in our order). Only our entries move;
 * foreign entries and other owners' entries keep their positions relative to each other.
 *
 * The entries that stay put are a longest run already in order (and ahead of the chain's
 * first foreign entry): every other one must move, so this moves as few entries as possible.
 */

/** An entry of the menu after removals: existing ones have an id, ones the plan adds do not. */
export interface Item {
  id: string | undefined;
  chain: string;
  /** Not ours at all (entries of out-of-scope owners are neither foreign nor ours). */
  foreign: boolean;
  /** Our entry's index among the desired entries. */
  rank?: number;
}

export interface Wanted {
  entry: DesiredEntry;
  rank: number;
}

/** Indices (into `seq`) of one longest strictly increasing subsequence. */
export function longestIncreasing(seq: readonly number[]): Set<number> {
  const tails: number[] = [];
  const previous: number[] = [];
  seq.forEach((value, index) => {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((seq[tails[mid] ?? 0] ?? 0) < value) lo = mid + 1;
      else hi = mid;
    }
    previous[index] = lo > 0 ? (tails[lo - 1] ?? -1) : -1;
    tails[lo] = index;
  });
  const kept = new Set<number>();
  for (let at = tails.at(-1) ?? -1; at >= 0; at = previous[at] ?? -1) kept.add(at);
  return kept;
}

function stayingRanks(list: readonly Item[], chain: string): Set<number> {
  const firstForeign = list.findIndex((item) => item.foreign && item.chain === chain);
  const ahead = list.slice(0, firstForeign < 0 ? list.length : firstForeign);
  const ranks = ahead.flatMap((item) => (!item.foreign && item.chain === chain && item.rank !== undefined ? [item.rank] : []));
  const kept = longestIncreasing(ranks);
  return new Set(ranks.filter((_, index) => kept.has(index)));
}

/** The existing entry to place the next one before; undefined means the end of the menu. */
function target(list: readonly Item[], chain: string, anchor: Item | undefined, staying: Set<number>): Item | undefined {
  if (anchor !== undefined) return list.slice(list.indexOf(anchor) + 1).find((item) => item.id !== undefined);
  return list.find((item) => item.chain === chain && (item.foreign || (item.rank !== undefined && staying.has(item.rank))));
}

function insertBefore(list: Item[], item: Item, before: Item | undefined): void {
  const at = before === undefined ? -1 : list.indexOf(before);
  if (at < 0) list.push(item);
  else list.splice(at, 0, item);
}

function placeChain(menu: string, list: Item[], wanted: readonly Wanted[]): Op[] {
  const chain = wanted[0]?.entry.chain ?? '';
  const staying = stayingRanks(list, chain);
  const ops: Op[] = [];
  let anchor: Item | undefined;
  for (const { entry, rank } of wanted) {
    const existing = list.find((item) => item.rank === rank);
    const before = existing !== undefined && staying.has(rank) ? existing : target(list, chain, anchor, staying);
    if (existing !== undefined && before === existing) {
      anchor = existing;
      continue;
    }
    const placed = existing ?? { id: undefined, chain, foreign: false, rank };
    if (existing?.id !== undefined) {
      list.splice(list.indexOf(existing), 1);
      ops.push({ op: 'move', menu, ids: [existing.id], ...(before?.id === undefined ? {} : { destination: before.id }) });
    } else {
      ops.push({ op: 'add', menu, entry, ...(before?.id === undefined ? {} : { placeBefore: before.id }) });
    }
    insertBefore(list, placed, before);
    anchor = placed;
  }
  return ops;
}

/** Moves and adds that put the desired entries in place; `list` is the menu after removals. */
export function placeRules(menu: string, list: readonly Item[], desired: readonly DesiredEntry[]): Op[] {
  const working = [...list];
  const chains = new Map<string, Wanted[]>();
  desired.forEach((entry, rank) => {
    const chain = entry.chain ?? '';
    chains.set(chain, [...(chains.get(chain) ?? []), { entry, rank }]);
  });
  return mergeMoves([...chains.values()].flatMap((wanted) => placeChain(menu, working, wanted)));
}

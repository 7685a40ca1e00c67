import type { RouterEntry, RouterState } from './state.js';
import { diffEntry } from './compare.js';
import { isOrderedMenu, type DesiredEntry, type DesiredMenus } from './menus.js';
import { currentComment, ownerOf, type Owner } from './names.js';
import type { Op } from './ops.js';
import { placeRules, type Item } from './order.js';

export type { Op } from './ops.js';

/** Which owners' entries a plan may change; everything else on the router is left alone. */
export type Scope = (owner: Owner) => boolean;

type Role = 'ours' | 'other' | 'foreign';

/** We only ever add host addresses: a wider one (a WAN or LAN address) is never ours, whatever its comment. */
function isHostAddress(menu: string, entry: RouterEntry): boolean {
  if (!/^\/(ip|ipv6)\/address$/.test(menu)) return true;
  return entry.address?.endsWith(menu === '/ip/address' ? '/32' : '/128') === true;
}

/**
 * The owner of an entry as plans see it: the one its tag names, or undefined for an entry no
 * plan ever changes whatever its comment (a dynamic one, an address wider than a host).
 */
export function plannedOwner(menu: string, entry: RouterEntry): Owner | undefined {
  return entry.dynamic === 'true' || !isHostAddress(menu, entry) ? undefined : ownerOf(entry.comment);
}

/** Ours: tagged, in scope and addressable. Other: tagged for an owner outside the scope. */
function roleOf(menu: string, entry: RouterEntry, scope: Scope): Role {
  const owner = plannedOwner(menu, entry);
  if (owner === undefined || entry['.id'] === undefined) return 'foreign';
  return scope(owner) ? 'ours' : 'other';
}

function checkDesired(menu: string, desired: readonly DesiredEntry[], scope: Scope): void {
  const seen = new Set<string>();
  for (const entry of desired) {
    const owner = ownerOf(entry.comment);
    if (owner === undefined || !scope(owner)) throw new Error(`${menu}: desired entry '${entry.comment}' is outside the plan's scope`);
    if (seen.has(entry.comment)) throw new Error(`${menu}: desired entry '${entry.comment}' appears twice`);
    seen.add(entry.comment);
  }
}

interface Matching {
  /** Entries to remove before anything is added: their replacement would clash with them. */
  replaced: string[];
  /** Entries to remove once their successors are in place (make before break). */
  removals: string[];
  sets: Op[];
  /** Existing entry kept for each desired rank (absent: the desired entry is added). */
  kept: Map<number, RouterEntry>;
}

/**
 * Matches our entries to desired ones by tag: keep one per key (an unchanged one if any), remove
 * the rest. A comment in the tag format of before cluster names matches its current form, so
 * such an entry is kept and its comment rewritten (adopted), not removed and added again.
 */
function match(menu: string, ours: readonly RouterEntry[], desired: readonly DesiredEntry[]): Matching {
  const byComment = new Map<string, RouterEntry[]>();
  for (const entry of ours) {
    const key = currentComment(entry.comment) ?? '';
    byComment.set(key, [...(byComment.get(key) ?? []), entry]);
  }
  const result: Matching = { replaced: [], removals: [], sets: [], kept: new Map() };
  desired.forEach((want, rank) => {
    const key = currentComment(want.comment) ?? want.comment;
    const candidates = byComment.get(key) ?? [];
    byComment.delete(key);
    const diffs = candidates.map((entry) => ({ entry, diff: diffEntry(menu, entry, want) }));
    const keep = diffs.find(({ diff }) => diff.kind === 'same') ?? diffs.find(({ diff }) => diff.kind === 'set');
    for (const { entry, diff } of diffs) {
      if (entry !== keep?.entry) (diff.kind === 'replace' ? result.replaced : result.removals).push(entry['.id'] ?? '');
    }
    if (keep === undefined) return;
    result.kept.set(rank, keep.entry);
    if (keep.diff.kind === 'set') result.sets.push({ op: 'set', menu, id: keep.entry['.id'] ?? '', changes: keep.diff.changes });
  });
  for (const leftovers of byComment.values()) result.removals.push(...leftovers.map((entry) => entry['.id'] ?? ''));
  return result;
}

function placement(menu: string, existing: readonly RouterEntry[], roles: readonly Role[], desired: readonly DesiredEntry[], matching: Matching): Op[] {
  if (!isOrderedMenu(menu)) {
    return desired.flatMap((entry, rank) => (matching.kept.has(rank) ? [] : [{ op: 'add' as const, menu, entry }]));
  }
  const rankOf = new Map([...matching.kept].map(([rank, entry]) => [entry, rank]));
  const list: Item[] = existing.flatMap((entry, index) => {
    const rank = rankOf.get(entry);
    if (roles[index] === 'ours' && rank === undefined) return [];
    // a dynamic rule (fasttrack's dummy counter rule first in filter forward and mangle, a
    // hotspot's own) stays where the router put it, which refuses to place anything before
    // it (`failure: cannot move builtin`): ours go first after it
    if (entry.dynamic === 'true') return [];
    const chain = rank === undefined ? (entry.chain ?? '') : (desired[rank]?.chain ?? '');
    return [{ id: entry['.id'], chain, foreign: roles[index] === 'foreign', ...(rank === undefined ? {} : { rank }) }];
  });
  return placeRules(menu, list, desired);
}

const removal = (menu: string, ids: string[]): Op[] => (ids.length > 0 ? [{ op: 'remove', menu, ids }] : []);

/** What the router refuses twice in an unordered menu: one address (per list) is one entry. */
const clashKey = (e: Readonly<Record<string, string>>): string | undefined =>
  (e.address === undefined ? undefined : `${e.list ?? ''}|${e.address}`);

/**
 * An added entry that one of our entries to be removed would clash with (the router refuses two
 * entries for one address in an unordered menu): an address whose owner changes, say when a
 * Service starts sharing it. That entry is kept and set to the added one — its tag rewritten,
 * as an entry tagged before cluster names is adopted — so the address never leaves the router
 * between a removal and an add. One that cannot be set (a property without a default must go)
 * is removed first, like an entry replaced under the same key, and the new one added after.
 */
function handOverClashes(menu: string, ours: readonly RouterEntry[], desired: readonly DesiredEntry[], matching: Matching): void {
  if (isOrderedMenu(menu)) return;
  const removing = new Set(matching.removals);
  const clashing = new Map<string, RouterEntry[]>();
  for (const entry of ours) {
    const key = clashKey(entry);
    if (key !== undefined && removing.has(entry['.id'] ?? '')) clashing.set(key, [...(clashing.get(key) ?? []), entry]);
  }
  if (clashing.size === 0) return;
  desired.forEach((want, rank) => {
    const key = matching.kept.has(rank) ? undefined : clashKey(want);
    const [entry, ...others] = (key === undefined ? undefined : clashing.get(key)) ?? [];
    if (key === undefined || entry === undefined) return;
    clashing.delete(key);
    const diff = diffEntry(menu, entry, want);
    const adopted = diff.kind === 'replace' ? undefined : entry;
    // whatever else holds the address goes before the add (none when the entry is adopted)
    const first = new Set([...others, ...(adopted ? [] : [entry])].map((e) => e['.id'] ?? ''));
    matching.replaced.push(...first);
    matching.removals = matching.removals.filter((id) => id !== entry['.id'] && !first.has(id));
    if (!adopted) return;
    matching.kept.set(rank, adopted);
    if (diff.kind === 'set') matching.sets.push({ op: 'set', menu, id: adopted['.id'] ?? '', changes: diff.changes });
  });
}

/**
 * The ops that turn one menu's `existing` entries into `desired`, touching only entries whose
 * comment carries our tag for an owner inside `scope`. `desired` must hold every in-scope entry
 * the menu should keep (others are removed) and nothing outside the scope.
 *
 * Make before break: sets, then adds and moves in placement order, then one remove of what is
 * no longer wanted. Only entries replaced under the same key (remove + add, which could clash,
 * e.g. in an address list) are removed first; an entry whose address passes to another tag is
 * set to it (handOverClashes). Placement never names an entry the plan removes
 * or adds, so the result is the same whichever way round the removals run.
 */
export function plan(menu: string, existing: readonly RouterEntry[], desired: readonly DesiredEntry[], scope: Scope): Op[] {
  checkDesired(menu, desired, scope);
  const roles = existing.map((entry) => roleOf(menu, entry, scope));
  const ours = existing.filter((_, index) => roles[index] === 'ours');
  const matching = match(menu, ours, desired);
  handOverClashes(menu, ours, desired, matching);
  return [
    ...removal(menu, matching.replaced),
    ...matching.sets,
    ...placement(menu, existing, roles, desired, matching),
    ...removal(menu, matching.removals),
  ];
}

/**
 * Plans every menu of `menus` (by default those `desired` names) against a router's state,
 * menu by menu in that order. A menu in `menus` that `desired` omits has no desired entries in
 * scope: ours there are removed.
 */
export function planState(state: RouterState, desired: DesiredMenus, scope: Scope, menus: readonly string[] = Object.keys(desired)): Op[] {
  return menus.flatMap((menu) => plan(menu, state.menus[menu] ?? [], desired[menu] ?? [], scope));
}

import type { Op } from './ops.js';
import { isSourceList } from './names.js';
import type { RouterEntry } from './state.js';

const isNat = (menu: string): boolean => /^\/(ip|ipv6)\/firewall\/nat$/.test(menu);
const isAddressList = (menu: string): boolean => /^\/(ip|ipv6)\/firewall\/address-list$/.test(menu);

/**
 * A removal split in two: the ids of source-list entries (which go last) and the rest. A source
 * list's gate (NAT) matches it negated (`src-address-list=!list`): while the gate stands, a list
 * emptied turns every client away, those inside the ranges too (and the drop rules, negated
 * too, drop them).
 */
function splitSourceLists(op: Op, state: Readonly<Record<string, readonly RouterEntry[]>>): { now: Op[]; last: Op[] } {
  if (op.op !== 'remove' || !isAddressList(op.menu)) return { now: [op], last: [] };
  const entries = new Map((state[op.menu] ?? []).map((e) => [e['.id'], e]));
  const late = op.ids.filter((id) => isSourceList(entries.get(id)?.list));
  if (late.length === 0) return { now: [op], last: [] };
  // a Set: a collection's removal names every orphaned Service's entries (tens of thousands)
  const lateIds = new Set(late);
  const rest = op.ids.filter((id) => !lateIds.has(id));
  return { now: rest.length > 0 ? [{ ...op, ids: rest }] : [], last: [{ ...op, ids: late }] };
}

/**
 * The order a plan reaches the router in, as round trips that each wait for the one before:
 * a plan cut short (a refused advertisement, a lost connection) must never leave the router
 * diverting traffic it did not divert before.
 *
 * 1. Build: address lists, filter and mangle rules, and advertisements being added or changed
 *    (with any entry they replace under the same key, which must go first). Harmless on their
 *    own: they refuse or mark traffic to LB addresses the router answers for.
 * 2. Divert and retire: the NAT changes (make before break among themselves), then the removals
 *    from every other menu, so an address stops being NATed before it stops being advertised.
 *    When the NAT changes both add and remove rules (sessionAffinity switched, a port or an
 *    address changed), the NAT removals and the other removals go in a round trip of their own
 *    after the rest: the router runs every command of a round trip, so removals sent with adds
 *    it refuses (a property its version lacks) would leave the Service forwarding nothing, or
 *    turning part of its clients away. A new Service (adds only) and endpoint changes (sets,
 *    adds or removals) keep one round trip here.
 * 3. Only when the plan removes entries of a source list (loadBalancerSourceRanges lifted, or
 *    the Service released): those, once the gate and drop rules matching the list are gone.
 *    `state` (the entries the plan was made from) tells which removals they are.
 *
 * A round trip is sent only when the one before succeeded: no dst-nat rule for an address
 * whose advertisement the router refused, no emptied source list under a gate still standing.
 * The ops of one round trip are pipelined: one the router refuses does not stop the others.
 * Ops keep their order within each round trip.
 */
export function stagePlan(ops: readonly Op[], state: Readonly<Record<string, readonly RouterEntry[]>> = {}): Op[][] {
  const build: Op[] = [];
  const divert: Op[] = [];
  const retire: Op[] = [];
  const lists: Op[] = [];
  for (let i = 0; i < ops.length;) {
    const menu = ops[i]?.menu ?? '';
    let end = i;
    while (end < ops.length && ops[end]?.menu === menu) end++;
    const run = ops.slice(i, end);
    i = end;
    if (isNat(menu)) {
      divert.push(...run);
      continue;
    }
    // plan() sends removals of replaced entries first and the final removal last
    const firstWrite = run.findIndex((op) => op.op !== 'remove');
    const lastWrite = firstWrite < 0 ? -1 : run.length - 1 - [...run].reverse().findIndex((op) => op.op !== 'remove');
    build.push(...run.slice(0, lastWrite + 1));
    for (const op of run.slice(lastWrite + 1)) {
      const { now, last } = splitSourceLists(op, state);
      retire.push(...now);
      lists.push(...last);
    }
  }
  // NAT adds and removals together (an affinity switch, a port or an address changed): the
  // removals wait for the adds, so a router that refuses the new rules keeps the old ones
  const breaks = divert.filter((op) => op.op === 'remove');
  const split = breaks.length > 0 && divert.some((op) => op.op === 'add');
  const nat = split ? [divert.filter((op) => op.op !== 'remove'), [...breaks, ...retire]] : [[...divert, ...retire]];
  return [build, ...nat, lists].filter((stage) => stage.length > 0);
}

import type { Op } from './ops.js';

const isNat = (menu: string): boolean => /^\/(ip|ipv6)\/firewall\/nat$/.test(menu);

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
 *
 * When the first round trip fails the second is never sent: no dst-nat rule for an address
 * whose advertisement the router refused. Ops keep their order within each round trip.
 */
export function stagePlan(ops: readonly Op[]): Op[][] {
  const build: Op[] = [];
  const divert: Op[] = [];
  const retire: Op[] = [];
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
    if (firstWrite < 0) {
      retire.push(...run);
      continue;
    }
    const lastWrite = run.length - 1 - [...run].reverse().findIndex((op) => op.op !== 'remove');
    build.push(...run.slice(0, lastWrite + 1));
    retire.push(...run.slice(lastWrite + 1));
  }
  return [build, [...divert, ...retire]].filter((stage) => stage.length > 0);
}

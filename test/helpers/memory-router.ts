import type { RouterEntry, RouterState } from '../../lib/router/state.js';
import { applyPlanToState } from '../../lib/router/apply.js';
import type { Op } from '../../lib/router/planner.js';
import type { ReadRequest, RouterPort } from '../../lib/router/port.js';
import { parseQuery, queryMatcher } from '../../lib/routeros/sim/query.js';

/** A print's entries as RouterOS answers it: a query keeps only the entries it matches (the simulator's query engine). */
function printed(entries: readonly RouterEntry[], query: readonly string[]): RouterEntry[] {
  const parsed = parseQuery(query);
  if (!parsed.ok) throw new Error(`invalid query: ${query.join(' ')}`);
  const matches = queryMatcher(parsed.words);
  return entries.filter((e) => matches({ get: (name) => e[name] }));
}

/**
 * A RouterPort over an in-memory RouterState (plans applied with applyPlanToState): for unit
 * tests of the functions. Integration tests use the simulator behind the real client adapter.
 * Narrowed prints answer whole menus (a superset of any query's answer) unless `queries`: then
 * each query is evaluated as RouterOS does. `asked` records the prints.
 */
export function memoryRouter(initial: RouterState, opts: { fail?: () => Error | undefined; queries?: boolean } = {}): RouterPort & { state(): RouterState; roundTrips: number; ops: Op[]; asked: ReadRequest[] } {
  let state = initial;
  const sent: Op[] = [];
  const asked: ReadRequest[] = [];
  const port = {
    roundTrips: 0,
    ops: sent,
    asked,
    state: () => state,
    async readMany(menus: readonly string[]): Promise<Record<string, RouterEntry[]>> {
      port.roundTrips++;
      const err = opts.fail?.();
      if (err) throw err;
      return Object.fromEntries(menus.map((m) => [m, (state.menus[m] ?? []).map((e) => ({ ...e }))]));
    },
    async read(requests: readonly ReadRequest[]): Promise<Record<string, RouterEntry[]>> {
      port.asked.push(...requests);
      const whole = await port.readMany(requests.map((r) => r.menu));
      if (!opts.queries) return whole;
      return Object.fromEntries(requests.map((r) => [r.menu, r.query ? printed(whole[r.menu] ?? [], r.query) : whole[r.menu] ?? []]));
    },
    async execute(ops: readonly Op[]): Promise<void> {
      port.roundTrips++;
      const err = opts.fail?.();
      if (err) throw err;
      state = applyPlanToState(state, [...ops]);
      port.ops.push(...ops);
    },
  };
  return port;
}

import type { RouterEntry, RouterState } from '../../lib/router/state.js';
import { applyPlanToState } from '../../lib/router/apply.js';
import type { Op } from '../../lib/router/planner.js';
import type { RouterPort } from '../../lib/router/port.js';

/**
 * A RouterPort over an in-memory RouterState (plans applied with applyPlanToState): for unit
 * tests of the functions. Integration tests use the simulator behind the real client adapter.
 */
export function memoryRouter(initial: RouterState, opts: { fail?: () => Error | undefined } = {}): RouterPort & { state(): RouterState; roundTrips: number; ops: Op[] } {
  let state = initial;
  const sent: Op[] = [];
  const port = {
    roundTrips: 0,
    ops: sent,
    state: () => state,
    async readMany(menus: readonly string[]): Promise<Record<string, RouterEntry[]>> {
      port.roundTrips++;
      const err = opts.fail?.();
      if (err) throw err;
      return Object.fromEntries(menus.map((m) => [m, (state.menus[m] ?? []).map((e) => ({ ...e }))]));
    },
    /** Queries are not evaluated: whole menus are a superset of any narrowed print. */
    async read(requests: readonly { menu: string }[]): Promise<Record<string, RouterEntry[]>> {
      return port.readMany(requests.map((r) => r.menu));
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

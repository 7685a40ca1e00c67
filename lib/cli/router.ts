import type { RouterState } from '../routeros/state.js';

/** One API sentence as it went over the wire, e.g. `['/ip/address/add', '=address=192.0.2.1/32']`. */
export type RouterCommand = readonly string[];

/**
 * The router a `mikrolb invoke --router router.json` run works against. A function that talks
 * to the router gets this in its context and reports, after the run, what it sent and what
 * the router holds.
 *
 * Extension point: `program`/`release` will back this with the RouterOS simulator (the same
 * store `mikrolb routeros-sim --seed` serves) and record every sentence in `commands`.
 */
export interface InvokeRouter {
  /** The router as the file described it. */
  readonly initial: RouterState;
  /** Sentences sent during the run, in order. */
  commands(): RouterCommand[];
  /** The router after the run, in the `--router` format. */
  state(): RouterState;
}

/** A router nothing talks to: `allocate` never touches the router, so it ends as it began. */
export function untouchedRouter(initial: RouterState): InvokeRouter {
  return { initial, commands: () => [], state: () => initial };
}

import type { RouterEntry } from './state.js';
import type { Op } from './planner.js';

/**
 * What the program and release functions need from a router: pipelined reads of several menus
 * (one round trip) and the execution of a plan (one round trip). The RouterOS client adapter
 * implements it; tests may use the simulator behind the same adapter.
 */
/** One print: a menu, optionally narrowed by raw query words (`?chain=x`, `?#|`). */
export interface ReadRequest {
  menu: string;
  query?: readonly string[];
}

export interface RouterPort {
  /** Whole menus, one round trip. */
  readMany(menus: readonly string[]): Promise<Record<string, RouterEntry[]>>;
  /** Narrowed prints, one round trip; a router may answer with more than the query asks. */
  read(requests: readonly ReadRequest[]): Promise<Record<string, RouterEntry[]>>;
  execute(ops: readonly Op[]): Promise<unknown>;
}

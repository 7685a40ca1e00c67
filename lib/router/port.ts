import type { RouterEntry } from '../routeros/state.js';
import type { Op } from './planner.js';

/**
 * What the program and release functions need from a router: pipelined reads of several menus
 * (one round trip) and the execution of a plan (one round trip). The RouterOS client adapter
 * implements it; tests may use the simulator behind the same adapter.
 */
export interface RouterPort {
  readMany(menus: readonly string[]): Promise<Record<string, RouterEntry[]>>;
  execute(ops: readonly Op[]): Promise<unknown>;
}

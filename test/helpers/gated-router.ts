import type { Op } from '../../lib/router/planner.js';
import type { ReadRequest, RouterPort } from '../../lib/router/port.js';

/**
 * Before a read, after a read returned (before the caller sees it), before a write; and before
 * a read of whole menus only (`readMany`, as settling and release read), not a narrowed one.
 */
export type GatePoint = 'read' | 'read-done' | 'execute' | 'read-menus';

/**
 * A router port that can hold its next call at one point until the test resumes it: two
 * functions given two gates over one router can be interleaved step by step, not by timing.
 */
export function gatedRouter(base: RouterPort): { port: RouterPort; hold(point: GatePoint): { reached: Promise<void>; resume(): void; fail(error: Error): void } } {
  let armed: { point: GatePoint; reached: () => void; go: Promise<void> } | undefined;
  const pass = async (point: GatePoint): Promise<void> => {
    if (armed?.point !== point) return;
    const held = armed;
    armed = undefined;
    held.reached();
    await held.go;
  };
  const port: RouterPort = {
    readMany: async (menus: readonly string[]) => {
      await pass('read-menus');
      await pass('read');
      const state = await base.readMany(menus);
      await pass('read-done');
      return state;
    },
    read: async (requests: readonly ReadRequest[]) => {
      await pass('read');
      const state = await base.read(requests);
      await pass('read-done');
      return state;
    },
    execute: async (ops: readonly Op[]) => {
      await pass('execute');
      return base.execute(ops);
    },
  };
  /** `resume` lets the held call go on; `fail` makes it fail as the router would (a lost connection, say). */
  const hold = (point: GatePoint) => {
    let reached = (): void => undefined;
    let resume = (): void => undefined;
    let fail = (_error: Error): void => undefined;
    const isReached = new Promise<void>((r) => { reached = r; });
    const go = new Promise<void>((ok, ko) => { resume = ok; fail = ko; });
    armed = { point, reached, go };
    return { reached: isReached, resume, fail };
  };
  return { port, hold };
}

import type { KubePort } from './port.js';
import type { IPPool } from './schemas.js';
import { listPools, type Listed } from './typed.js';

/** How long a warm instance reuses its list of the pools (they rarely change; a change is an invocation that forgets it). */
export const POOLS_HINT_MAX_AGE_MS = 5_000;

/**
 * The IPPools as a warm function instance last listed them, reused for a few seconds instead
 * of a list per invocation (a burst of Services costs one list of the pools per function every
 * few seconds, not one per Service). A hint, not a cache of record: whatever an invocation
 * decides from it is written with its own precondition, the same as from a list made a moment
 * before a concurrent pool change; an invocation about a pool (its add, change or deletion)
 * forgets the hint first, so the work the change causes reads the pools fresh, and another
 * instance that did not hear of the change sees it within the maximum age.
 */
export class PoolsHint {
  #listed: { at: number; pools: Listed<IPPool> } | undefined;
  /** Bumped by forget(): a list that started before it is not kept. */
  #generation = 0;

  constructor(private readonly maxAgeMs = POOLS_HINT_MAX_AGE_MS) {}

  async get(kube: KubePort, now: number): Promise<Listed<IPPool>> {
    const listed = this.#listed;
    if (listed && now - listed.at >= 0 && now - listed.at < this.maxAgeMs) return listed.pools;
    const generation = this.#generation;
    const pools = await listPools(kube);
    if (generation === this.#generation) this.#listed = { at: now, pools };
    return pools;
  }

  /** A pool changed (or this instance changed one): the next get() lists them again. */
  forget(): void {
    this.#listed = undefined;
    this.#generation++;
  }
}

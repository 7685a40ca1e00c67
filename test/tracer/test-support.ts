import type { RouterEntry, RouterState } from '../../lib/router/state.js';

/** A rule as a test table writes it; properties left undefined are absent. */
export type EntryInput = Record<string, string | undefined>;

function present(entry: EntryInput): RouterEntry {
  return Object.fromEntries(Object.entries(entry).flatMap(([key, value]) => (value === undefined ? [] : [[key, value]])));
}

/**
 * Builds a RouterState for tracer tests: entries get `.id`s (`*1`, `*2`, ... per menu) and
 * `disabled=false`, as a router's print would show them.
 */
export function routerState(menus: Record<string, EntryInput[]>): RouterState {
  return {
    version: '7.19.1',
    menus: Object.fromEntries(
      Object.entries(menus).map(([menu, entries]) => [
        menu,
        entries.map((entry, index) => ({ '.id': `*${(index + 1).toString(16).toUpperCase()}`, disabled: 'false', ...present(entry) })),
      ]),
    ),
  };
}

/** A small deterministic PRNG (mulberry32) so spreads are reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Counts how often each key occurs. */
export function tally(keys: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const key of keys) counts[key] = (counts[key] ?? 0) + 1;
  return counts;
}

import { createRegistry } from './exposition.js';

/**
 * A few process-wide counters the functions keep (garbage collected, by what), exposed in
 * Prometheus text by whoever serves /metrics (the controller's bridge port, or a function).
 */
export interface Counters {
  add(name: string, labels: Readonly<Record<string, string>>, n?: number): void;
  render(): string;
}

export function createCounters(help: Readonly<Record<string, string>>): Counters {
  const registry = createRegistry();
  const counters = new Map(Object.entries(help).map(([name, text]) => [name, registry.counter(name, text)]));
  return {
    add: (name, labels, n = 1) => counters.get(name)?.inc(labels, n),
    render: () => (counters.size > 0 ? registry.render() : ''),
  };
}

export const GC_COLLECTED = 'mikrolb_gc_collected_total';
export const ROUTER_LIMITS = 'mikrolb_router_limits_total';

/** The counters a process serves next to the bridge's: garbage collection and router bounds. */
export const gcCounters = (): Counters => createCounters({
  [GC_COLLECTED]: 'Things the release function collected on resync, by what (claims, routerEntries, globalRules, allocations).',
  [ROUTER_LIMITS]: 'Router commands that hit a bound, by limit (idle, deadline, items, bytes, sentence); each failed and closed the session.',
});

/** Counts a router bound hit (pass as the router client's `onLimit`). */
export const routerLimitCounter = (counters: Counters) => (limit: string): void => counters.add(ROUTER_LIMITS, { limit });

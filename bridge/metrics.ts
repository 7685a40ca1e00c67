import { ObjectKindSchema, type ObjectKind } from '../lib/events/invocation.js';
import { createRegistry, LatencyWindow, type Counter, type Labels } from '../lib/exposition.js';
import type { LaneStats, QueueObserver } from './queue.js';
import { FUNCTION_NAMES, type FunctionName } from './routing.js';
import type { SourceObserver } from './source.js';

const PREFIX = 'mikrolb_bridge';
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const KINDS = ObjectKindSchema.options;

/** Live state read at scrape time. */
export interface BridgeState {
  queue(fn: FunctionName): LaneStats;
  tracked(kind: ObjectKind): number;
  leader(): boolean;
  ready(): boolean;
}

export type CounterName = 'invocations' | 'retries' | 'recoveryRetries' | 'coalesced' | 'watchRestarts' | 'relists' | 'listFailures' | 'watchEvents' | 'timeouts';

export interface BridgeMetrics {
  queue: QueueObserver;
  source: SourceObserver;
  /** Event seen by the watch → request sent to the function (ms, first attempts). */
  hop: LatencyWindow;
  /** Event seen by the watch → function answered (ms, first attempts). */
  delivered: LatencyWindow;
  /** Counter values by name and labels, for tests and logs. */
  count(name: CounterName, labels?: Labels): number;
  /** An invocation went over FUNCTION_TIMEOUT (in process or over HTTP). */
  timedOut(fn: FunctionName): void;
  /** Connects the gauges to the running bridge. */
  attach(state: BridgeState): void;
  render(): string;
}

export function createBridgeMetrics(): BridgeMetrics {
  const registry = createRegistry();
  const counters: Record<CounterName, Counter> = {
    invocations: registry.counter(`${PREFIX}_invocations_total`, 'Invocations by function and outcome (success, retry, reject, error).'),
    retries: registry.counter(`${PREFIX}_retries_total`, 'Invocations scheduled for another attempt.'),
    recoveryRetries: registry.counter(`${PREFIX}_recovery_retries_total`, 'Invocations retried before their backoff ended because a dependency they found down (the router, the API server, the function) answered again.'),
    coalesced: registry.counter(`${PREFIX}_coalesced_total`, 'Events merged into work already queued for the same object.'),
    watchRestarts: registry.counter(`${PREFIX}_watch_restarts_total`, 'Watch streams that ended or broke and were opened again.'),
    relists: registry.counter(`${PREFIX}_relists_total`, 'Full lists after the initial one (410 Gone, broken streams).'),
    listFailures: registry.counter(`${PREFIX}_list_failures_total`, 'Lists of a kind that failed (then tried again with backoff): while they fail, no change of the kind reaches MikroLB.'),
    watchEvents: registry.counter(`${PREFIX}_watch_events_total`, 'Watch events received, by kind and type.'),
    timeouts: registry.counter(`${PREFIX}_invocation_timeouts_total`, 'Invocations that did not answer within FUNCTION_TIMEOUT (then retried), by function.'),
  };
  const duration = registry.histogram(`${PREFIX}_invocation_duration_seconds`, 'Request sent to answer received.', LATENCY_BUCKETS);
  const hopSeconds = registry.histogram(`${PREFIX}_event_to_invocation_seconds`, 'Watch event seen to request sent (first attempts).', LATENCY_BUCKETS);
  const hop = new LatencyWindow();
  const delivered = new LatencyWindow();
  let state: BridgeState | undefined;
  const perFunction = (read: (s: BridgeState, fn: FunctionName) => number) => () => {
    const s = state;
    return s ? FUNCTION_NAMES.map((fn) => [{ function: fn }, read(s, fn)] as const) : [];
  };
  registry.gauge(`${PREFIX}_queue_depth`, 'Objects with work queued and not in flight.', perFunction((s, fn) => s.queue(fn).depth));
  registry.gauge(`${PREFIX}_in_flight`, 'Invocations in flight.', perFunction((s, fn) => s.queue(fn).inFlight));
  registry.gauge(`${PREFIX}_tracked_objects`, 'Objects the bridge knows, by kind.', () => {
    const s = state;
    return s ? KINDS.map((kind) => [{ kind }, s.tracked(kind)] as const) : [];
  });
  registry.gauge(`${PREFIX}_leader`, '1 while this replica holds the lease (or election is off).', () => [[{}, state?.leader() ? 1 : 0]]);
  registry.gauge(`${PREFIX}_ready`, '1 once every kind has been listed.', () => [[{}, state?.ready() ? 1 : 0]]);
  registry.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () => [[{}, process.memoryUsage.rss()]]);
  for (const kind of KINDS) {
    counters.watchRestarts.inc({ kind }, 0);
    counters.relists.inc({ kind }, 0);
    counters.listFailures.inc({ kind }, 0);
  }

  const queue: QueueObserver = {
    coalesced: (fn) => counters.coalesced.inc({ function: fn }),
    dispatched(fn, hopMs) {
      if (hopMs === undefined) return;
      hop.add(hopMs);
      hopSeconds.observe({ function: fn }, hopMs / 1000);
    },
    settled(fn, how, durationMs, deliveredMs) {
      counters.invocations.inc({ function: fn, outcome: how });
      duration.observe({ function: fn }, durationMs / 1000);
      if (deliveredMs !== undefined) delivered.add(deliveredMs);
    },
    retried: (fn) => counters.retries.inc({ function: fn }),
    recovered: (fn, woken) => counters.recoveryRetries.inc({ function: fn }, woken),
  };
  const source: SourceObserver = {
    listed(kind, initial) {
      if (!initial) counters.relists.inc({ kind });
    },
    watchRestarted: (kind) => counters.watchRestarts.inc({ kind }),
    listFailed: (kind) => counters.listFailures.inc({ kind }),
    watchEvent: (kind, type) => counters.watchEvents.inc({ kind, type }),
  };
  return {
    queue,
    source,
    hop,
    delivered,
    timedOut: (fn) => counters.timeouts.inc({ function: fn }),
    count: (name, labels) => counters[name].value(labels),
    attach: (s) => void (state = s),
    render: () => registry.render(),
  };
}

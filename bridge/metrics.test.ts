import { describe, expect, it } from 'vitest';
import { createRegistry, LatencyWindow } from '../lib/exposition.js';
import { createBridgeMetrics } from './metrics.js';

describe('Prometheus text format', () => {
  it('renders counters, gauges and histograms', () => {
    const r = createRegistry();
    const c = r.counter('jobs_total', 'Jobs done.');
    c.inc({ function: 'allocate', outcome: 'success' });
    c.inc({ outcome: 'success', function: 'allocate' }, 2);
    r.gauge('depth', 'Queue depth.', () => [[{ function: 'program' }, 4]]);
    const h = r.histogram('latency_seconds', 'Latency.', [0.1, 1]);
    h.observe({ function: 'program' }, 0.05);
    h.observe({ function: 'program' }, 0.5);
    h.observe({ function: 'program' }, 5);
    expect(r.render()).toBe(
      [
        '# HELP jobs_total Jobs done.',
        '# TYPE jobs_total counter',
        'jobs_total{function="allocate",outcome="success"} 3',
        '# HELP depth Queue depth.',
        '# TYPE depth gauge',
        'depth{function="program"} 4',
        '# HELP latency_seconds Latency.',
        '# TYPE latency_seconds histogram',
        'latency_seconds_bucket{function="program",le="0.1"} 1',
        'latency_seconds_bucket{function="program",le="1"} 2',
        'latency_seconds_bucket{function="program",le="+Inf"} 3',
        'latency_seconds_sum{function="program"} 5.55',
        'latency_seconds_count{function="program"} 3',
        '',
      ].join('\n'),
    );
  });

  it('escapes label values and help text', () => {
    const r = createRegistry();
    r.counter('x_total', 'A \\ help\nline').inc({ reason: 'say "hi"\\\n' });
    expect(r.render()).toContain('# HELP x_total A \\\\ help\\nline');
    expect(r.render()).toContain('x_total{reason="say \\"hi\\"\\\\\\n"} 1');
  });

  it('computes exact quantiles over a window', () => {
    const w = new LatencyWindow(100);
    for (let i = 1; i <= 200; i++) w.add(i);
    expect(w.count()).toBe(100);
    expect(w.quantile(0.5)).toBe(150);
    expect(w.quantile(0.99)).toBe(199);
    w.reset();
    expect(w.quantile(0.5)).toBeNaN();
  });
});

describe('the bridge metrics', () => {
  it('count invocations, retries, restarts and re-lists, and read live gauges', () => {
    const m = createBridgeMetrics();
    m.attach({ queue: () => ({ depth: 2, inFlight: 1 }), tracked: () => 5, leader: () => true, ready: () => true });
    m.queue.dispatched('program', 3);
    m.queue.settled('program', 'success', 12, 15);
    m.queue.settled('program', 'retry', 12, undefined);
    m.queue.retried('program', 500);
    m.source.listed('Service', true);
    m.source.listed('Service', false);
    m.source.watchRestarted('Service');
    const text = m.render();
    for (const line of [
      'mikrolb_bridge_invocations_total{function="program",outcome="success"} 1',
      'mikrolb_bridge_invocations_total{function="program",outcome="retry"} 1',
      'mikrolb_bridge_retries_total{function="program"} 1',
      'mikrolb_bridge_relists_total{kind="Service"} 1',
      'mikrolb_bridge_relists_total{kind="IPPool"} 0',
      'mikrolb_bridge_watch_restarts_total{kind="Service"} 1',
      'mikrolb_bridge_queue_depth{function="allocate"} 2',
      'mikrolb_bridge_in_flight{function="release"} 1',
      'mikrolb_bridge_tracked_objects{kind="EndpointSlice"} 5',
      'mikrolb_bridge_leader 1',
      'mikrolb_bridge_ready 1',
      'mikrolb_bridge_invocation_duration_seconds_count{function="program"} 2',
      'mikrolb_bridge_event_to_invocation_seconds_bucket{function="program",le="0.005"} 1',
    ]) {
      expect(text).toContain(`${line}\n`);
    }
    expect(m.hop.quantile(0.5)).toBe(3);
    expect(m.delivered.quantile(0.5)).toBe(15);
    expect(m.count('relists', { kind: 'Service' })).toBe(1);
  });

  it('every sample line is name{labels} value', () => {
    const m = createBridgeMetrics();
    m.queue.settled('allocate', 'reject', 1, 1);
    for (const line of m.render().trim().split('\n').filter((l) => !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-z_]+(\{([a-z_]+="[^"]*",?)+\})? (-?[0-9.e+-]+|\+Inf|NaN)$/);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { metricSum } from './restart.js';

const TEXT = [
  '# HELP mikrolb_bridge_queue_depth Objects with work queued and not in flight.',
  '# TYPE mikrolb_bridge_queue_depth gauge',
  'mikrolb_bridge_queue_depth{function="allocate"} 3',
  'mikrolb_bridge_queue_depth{function="program"} 4',
  'mikrolb_bridge_queue_depth_other{function="program"} 100',
  'mikrolb_bridge_invocations_total{function="allocate",outcome="success"} 1000',
  'mikrolb_bridge_invocations_total{function="allocate",outcome="retry"} 2',
  'mikrolb_bridge_invocations_total{function="program",outcome="success"} 7',
  'mikrolb_bridge_leader 1',
].join('\n');

describe('the bridge\'s metrics as the restart scenario reads them', () => {
  it('sums a metric over its labels, and over one label\'s value only when asked', () => {
    expect(metricSum(TEXT, 'mikrolb_bridge_queue_depth')).toBe(7);
    expect(metricSum(TEXT, 'mikrolb_bridge_invocations_total', { key: 'function', value: 'allocate' })).toBe(1002);
    expect(metricSum(TEXT, 'mikrolb_bridge_leader')).toBe(1);
    expect(metricSum(TEXT, 'mikrolb_bridge_in_flight')).toBe(0);
  });
});

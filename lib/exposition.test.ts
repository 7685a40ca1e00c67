import { describe, expect, it } from 'vitest';
import { createRegistry } from './exposition.js';

describe('a counter', () => {
  it('keeps one series per label set, whatever order the labels are given in', () => {
    const registry = createRegistry();
    const c = registry.counter('mikrolb_things_total', 'Things.');
    c.inc({ kind: 'Service', type: 'ADDED' });
    c.inc({ type: 'ADDED', kind: 'Service' }, 2);
    c.inc({ kind: 'Service', type: 'MODIFIED' });
    expect(c.value({ type: 'ADDED', kind: 'Service' })).toBe(3);
    expect(registry.render().split('\n').filter((l) => l.startsWith('mikrolb_things_total'))).toEqual([
      'mikrolb_things_total{kind="Service",type="ADDED"} 3',
      'mikrolb_things_total{kind="Service",type="MODIFIED"} 1',
    ]);
  });

  it('never merges label sets that differ only in how their text splits', () => {
    const c = createRegistry().counter('mikrolb_pairs_total', 'Pairs.');
    c.inc({ a: 'x","b', b: '' });
    expect(c.value({ a: 'x', b: '' })).toBe(0);
    expect(c.value({ a: 'x","b', b: '' })).toBe(1);
  });
});

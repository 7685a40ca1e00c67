import { describe, expect, it } from 'vitest';
import { recentServices } from './recent.js';

const svc = (name: string, rv: string, finalizers?: string[]) => ({ metadata: { name, namespace: 'shop', resourceVersion: rv, ...(finalizers ? { finalizers } : {}) } });

describe('recentServices', () => {
  it('keeps the latest version of a new Service until it is taken', () => {
    const r = recentServices(10);
    r.seen(svc('web', '1'));
    r.seen(svc('web', '2'));
    expect(r.take('shop', 'web')).toEqual(svc('web', '2'));
    expect(r.take('shop', 'web')).toBeUndefined();
  });

  it('forgets a Service once it has the finalizer, or is deleted', () => {
    const r = recentServices(10);
    r.seen(svc('web', '1'));
    r.seen(svc('web', '2', ['mikrolb.de/finalizer']));
    expect(r.take('shop', 'web')).toBeUndefined();
    r.seen(svc('api', '3'));
    r.gone(svc('api', '4'));
    expect(r.size()).toBe(0);
  });

  it('keeps at most `max`, dropping the oldest', () => {
    const r = recentServices(2);
    for (const name of ['a', 'b', 'c']) r.seen(svc(name, '1'));
    expect(r.size()).toBe(2);
    expect(r.take('shop', 'a')).toBeUndefined();
    expect(r.take('shop', 'c')).toEqual(svc('c', '1'));
  });

  it('ignores what is not an object', () => {
    const r = recentServices(2);
    r.seen({ kind: 'Status' });
    expect(r.size()).toBe(0);
  });
});

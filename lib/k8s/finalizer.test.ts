import { describe, expect, it } from 'vitest';
import { hasFinalizer, withFinalizer, withoutFinalizer } from './finalizer.js';
import { FINALIZER } from './keys.js';

const obj = (finalizers?: string[]) => ({ kind: 'Service', metadata: { name: 'web', ...(finalizers ? { finalizers } : {}) } });

describe('the finalizer helpers', () => {
  it.each<[string, string[] | undefined, boolean, string[], string[]]>([
    ['none yet', undefined, false, [FINALIZER], []],
    ['another controller\'s only', ['example.com/x'], false, ['example.com/x', FINALIZER], ['example.com/x']],
    ['ours already', [FINALIZER], true, [FINALIZER], []],
    ['ours among others, order kept', ['a.io/x', FINALIZER, 'b.io/y'], true, ['a.io/x', FINALIZER, 'b.io/y'], ['a.io/x', 'b.io/y']],
  ])('%s', (_story, finalizers, has, added, removed) => {
    const o = obj(finalizers);
    expect(hasFinalizer(o)).toBe(has);
    expect(withFinalizer(o).metadata.finalizers).toEqual(added);
    expect(withoutFinalizer(o).metadata.finalizers).toEqual(removed);
    expect(o).toEqual(obj(finalizers)); // the input is never changed
  });

  it('adds nothing twice and knows an absent object', () => {
    const o = obj([FINALIZER]);
    expect(withFinalizer(o)).toBe(o);
    expect(hasFinalizer(undefined)).toBe(false);
  });
});

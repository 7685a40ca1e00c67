import { describe, expect, it } from 'vitest';
import {
  addressSet,
  describeSet,
  emptySet,
  indexOf,
  intersect,
  normalise,
  nth,
  subtract,
  toRanges,
  union,
} from './set.js';

const v4 = (...pairs: [number, number][]) =>
  addressSet('IPv4', pairs.map(([s, e]) => ({ start: 0x0a000000n + BigInt(s), end: 0x0a000000n + BigInt(e) })));

describe('normalise', () => {
  it.each([
    ['overlapping ranges merge', [[1, 5], [3, 9]], [[1, 9]]],
    ['adjacent ranges merge', [[1, 3], [4, 6]], [[1, 6]]],
    ['a gap of one keeps them apart', [[1, 3], [5, 6]], [[1, 3], [5, 6]]],
    ['unsorted input is sorted', [[10, 12], [1, 2]], [[1, 2], [10, 12]]],
    ['a contained range disappears', [[1, 10], [2, 3]], [[1, 10]]],
    ['duplicates collapse', [[4, 4], [4, 4]], [[4, 4]]],
  ] as const)('%s', (_, input, expected) => {
    const toRange = ([s, e]: readonly [number, number]) => ({ start: BigInt(s), end: BigInt(e) });
    expect(normalise(input.map(toRange))).toEqual(expected.map(toRange));
  });

  it('refuses a reversed range, which is a bug in the caller', () => {
    expect(() => normalise([{ start: 2n, end: 1n }])).toThrow(RangeError);
  });
});

describe('set operations by example', () => {
  it.each([
    ['union', union(v4([1, 3]), v4([4, 9], [20, 20])), ['10.0.0.1-10.0.0.9', '10.0.0.20']],
    ['subtract a middle', subtract(v4([0, 255]), v4([10, 19])), ['10.0.0.0-10.0.0.9', '10.0.0.20-10.0.0.255']],
    ['subtract across ranges', subtract(v4([0, 5], [10, 15]), v4([4, 11])), ['10.0.0.0-10.0.0.3', '10.0.0.12-10.0.0.15']],
    ['subtract everything', subtract(v4([3, 4]), v4([0, 9])), []],
    ['intersect', intersect(v4([0, 5], [10, 15]), v4([4, 11])), ['10.0.0.4-10.0.0.5', '10.0.0.10-10.0.0.11']],
    ['intersect disjoint', intersect(v4([0, 5]), v4([7, 9])), []],
  ])('%s', (_, set, expected) => {
    expect(toRanges(set)).toEqual(expected);
  });

  it('is immutable', () => {
    const set = v4([1, 2]);
    expect(Object.isFrozen(set) && Object.isFrozen(set.ranges)).toBe(true);
  });

  it('refuses to combine IPv4 and IPv6 sets, which is a bug in the caller', () => {
    expect(() => union(emptySet('IPv4'), emptySet('IPv6'))).toThrow(TypeError);
  });
});

describe('describeSet', () => {
  it.each([
    [emptySet('IPv4'), 3, 'none'],
    [v4([1, 1]), 3, '10.0.0.1'],
    [v4([1, 2], [4, 4], [6, 7]), 3, '10.0.0.1-10.0.0.2, 10.0.0.4, 10.0.0.6-10.0.0.7'],
    [v4([1, 2], [4, 4], [6, 7], [9, 9], [11, 11]), 2, '10.0.0.1-10.0.0.2, 10.0.0.4 …and 3 more'],
  ])('%#: %s', (set, limit, expected) => {
    expect(describeSet(set, limit)).toBe(expected);
  });
});

describe('position in a set', () => {
  const set = v4([1, 3], [10, 11]);
  it.each([
    [0n, 0x0a000001n],
    [2n, 0x0a000003n],
    [3n, 0x0a00000an],
    [4n, 0x0a00000bn],
    [5n, undefined],
    [-1n, undefined],
  ])('nth(%s) is %s', (index, address) => {
    expect(nth(set, index)).toBe(address);
  });

  it.each([
    [0x0a000001n, 0n],
    [0x0a00000bn, 4n],
    [0x0a000005n, undefined],
    [0x0a000000n, undefined],
    [0x0a0000ffn, undefined],
  ])('indexOf(%s) is %s', (address, index) => {
    expect(indexOf(set, address)).toBe(index);
  });

  it('works in a /64 without enumerating it', () => {
    const big = addressSet('IPv6', [{ start: 0n, end: (1n << 64n) - 1n }, { start: 1n << 100n, end: 1n << 100n }]);
    expect(nth(big, 1n << 64n)).toBe(1n << 100n);
    expect(indexOf(big, 1n << 100n)).toBe(1n << 64n);
  });
});

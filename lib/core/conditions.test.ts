import { describe, expect, it } from 'vitest';
import type { Condition } from '../k8s/schemas.js';
import { findCondition, sameConditions, setConditions, type ConditionInput } from './conditions.js';

const T0 = new Date('2026-12-01T10:00:00.123Z');
const T1 = new Date('2026-12-01T10:05:00Z');
const ready = (status: ConditionInput['status'], reason = 'R', message = 'm'): ConditionInput => ({ type: 'Ready', status, reason, message });
const at = (input: ConditionInput, time: string, generation?: number): Condition => ({ ...input, lastTransitionTime: time, ...(generation === undefined ? {} : { observedGeneration: generation }) });

describe('setConditions (Kubernetes conventions)', () => {
  it.each<[string, Condition[] | undefined, ConditionInput[], number | undefined, Condition[]]>([
    ['a new condition starts now, in whole seconds', undefined, [ready('True')], 3, [at(ready('True'), '2026-12-01T10:05:00Z', 3)]],
    ['the same status keeps its transition time, even with a new reason and message', [at(ready('True'), '2026-12-01T09:00:00Z', 2)], [ready('True', 'Other', 'new words')], 3,
      [at(ready('True', 'Other', 'new words'), '2026-12-01T09:00:00Z', 3)]],
    ['a flip of status moves the transition time', [at(ready('False'), '2026-12-01T09:00:00Z', 2)], [ready('True')], 3, [at(ready('True'), '2026-12-01T10:05:00Z', 3)]],
    ['Unknown to False is a transition too', [at(ready('Unknown'), '2026-12-01T09:00:00Z', 2)], [ready('False')], 2, [at(ready('False'), '2026-12-01T10:05:00Z', 2)]],
    ['other conditions stay as they are, in their order', [at({ type: 'Allocated', status: 'True', reason: 'A', message: 'a' }, '2026-12-01T08:00:00Z', 1), at(ready('False'), '2026-12-01T09:00:00Z', 1)],
      [ready('False', 'Still')], 2,
      [at({ type: 'Allocated', status: 'True', reason: 'A', message: 'a' }, '2026-12-01T08:00:00Z', 1), at(ready('False', 'Still'), '2026-12-01T09:00:00Z', 2)]],
    ['without a generation, no observedGeneration is written', undefined, [ready('True')], undefined, [at(ready('True'), '2026-12-01T10:05:00Z')]],
  ])('%s', (_story, existing, next, generation, want) => {
    expect(setConditions(existing, next, generation, T1)).toEqual(want);
  });

  it('drops the milliseconds of the clock (RFC 3339 seconds, as the API server writes)', () => {
    expect(setConditions(undefined, [ready('True')], 1, T0)[0]?.lastTransitionTime).toBe('2026-12-01T10:00:00Z');
  });

  it('does not change the conditions it was given', () => {
    const existing = [at(ready('False'), '2026-12-01T09:00:00Z', 1)];
    const copy = structuredClone(existing);
    setConditions(existing, [ready('True')], 2, T1);
    expect(existing).toEqual(copy);
  });
});

describe('sameConditions and findCondition', () => {
  const a = at(ready('True'), '2026-12-01T09:00:00Z', 1);
  const b = at({ type: 'Allocated', status: 'True', reason: 'A', message: 'a' }, '2026-12-01T09:00:00Z', 1);
  it.each<[string, Condition[] | undefined, Condition[] | undefined, boolean]>([
    ['the same conditions in another order', [a, b], [b, a], true],
    ['none and an empty list', undefined, [], true],
    ['another reason', [a], [{ ...a, reason: 'X' }], false],
    ['another message', [a], [{ ...a, message: 'x' }], false],
    ['another observedGeneration', [a], [{ ...a, observedGeneration: 2 }], false],
    ['another transition time (a flip and back is news)', [a], [{ ...a, lastTransitionTime: '2026-12-01T09:30:00Z' }], false],
    ['one more condition', [a], [a, b], false],
  ])('%s', (_story, x, y, want) => {
    expect(sameConditions(x, y)).toBe(want);
  });

  it('finds a condition by type, or nothing', () => {
    expect(findCondition([a, b], 'Allocated')).toEqual(b);
    expect(findCondition([a], 'Programmed')).toBeUndefined();
    expect(findCondition(undefined, 'Ready')).toBeUndefined();
  });
});

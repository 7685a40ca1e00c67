import { describe, expect, it } from 'vitest';
import { answerOf, badEvent, blocked, done, failed, retryLater, type Outcome } from '../lib/events/outcome.js';
import { backoffDelay, deliveryOf, parseRetryAfter, type Delivery } from './retry.js';

describe('what an answer means', () => {
  it.each([
    [200, 'success'], [202, 'success'], [204, 'success'],
    [404, 'retry'], [408, 'retry'], [409, 'retry'], [429, 'retry'], [500, 'retry'], [503, 'retry'], [504, 'retry'], [401, 'retry'], [403, 'retry'],
    [400, 'reject'], [413, 'reject'], [422, 'reject'], [302, 'reject'],
  ])('status %i → %s', (status, delivery) => expect(deliveryOf(status)).toBe(delivery));

  it.each<[string, Outcome, Delivery]>([
    ['done', done(), 'success'],
    ['blocked on the user', blocked('PoolInUse', 'still in use'), 'success'],
    ['a lost race', retryLater('Conflict', 'pool changed'), 'retry'],
    ['throttled', retryLater('Throttled', 'slow down', 3), 'retry'],
    ['the router down', retryLater('Unavailable', 'no answer', 5), 'retry'],
    ['a malformed event', badEvent('not a CloudEvent'), 'reject'],
    ['an oversized event', badEvent('too large', 'TooLarge'), 'reject'],
    ['an unexpected failure', failed('boom'), 'retry'],
  ])('a function run that is %s is delivered as %s', (_, outcome, delivery) => expect(deliveryOf(answerOf(outcome).status)).toBe(delivery));
});

describe('backoff', () => {
  const policy = { baseMs: 100, maxMs: 5_000 };
  it('doubles per attempt, between half and all of the ceiling', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, policy, () => 0))).toEqual([50, 100, 200, 400]);
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, policy, () => 1))).toEqual([100, 200, 400, 800]);
  });
  it('is capped', () => expect(backoffDelay(40, policy, () => 1)).toBe(5_000));
  it('never retries sooner than Retry-After', () => expect(backoffDelay(1, policy, () => 0, 3)).toBe(3_000));
  it('caps Retry-After too', () => expect(backoffDelay(1, policy, () => 0, 3_600)).toBe(5_000));
});

describe('Retry-After', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it.each([
    ['120', 120],
    ['0', 0],
    ['Wed, 01 Jan 2025 00:00:30 GMT', 30],
    ['Tue, 31 Dec 2024 23:59:00 GMT', 0],
    ['soon', undefined],
    ['', undefined],
  ])('%j → %s seconds', (value, seconds) => expect(parseRetryAfter(value, now)).toBe(seconds));
  it('absent', () => expect(parseRetryAfter(null, now)).toBeUndefined());
});

import { describe, expect, it } from 'vitest';
import { RetryLaterError } from '../k8s/conflict.js';
import { resyncInvocation } from './cloudevent.js';
import {
  answerOf, badEvent, blocked, done, failed, retryLater, runHandler, settle, RetryableError, type Answer, type Outcome,
} from './outcome.js';

const REPORT = { function: 'release', actions: ['removed finalizer of Service shop/web'] };

describe('the one mapping of an outcome to an HTTP answer', () => {
  it.each<[string, Outcome, Answer]>([
    ['done: 200 with the report', done(REPORT), { status: 200, body: REPORT }],
    ['blocked on the user: still 2xx (never retried), the body says why',
      blocked('PoolInUse', '2 IPAllocation(s) still hold addresses from this pool', REPORT),
      { status: 200, body: { ...REPORT, blocked: { reason: 'PoolInUse', message: '2 IPAllocation(s) still hold addresses from this pool' } } }],
    ['a lost resourceVersion race: 409', retryLater('Conflict', 'updating pool lan: still conflicting after 20 attempts', 1, REPORT),
      { status: 409, retryAfterSeconds: 1, body: { ...REPORT, error: 'updating pool lan: still conflicting after 20 attempts', reason: 'Conflict' } }],
    ['throttled by the API server: 429', retryLater('Throttled', 'too many requests', 7),
      { status: 429, retryAfterSeconds: 7, body: { error: 'too many requests', reason: 'Throttled' } }],
    ['the router is down: 503', retryLater('Unavailable', 'connect ECONNREFUSED 192.0.2.1:8728', 5, REPORT),
      { status: 503, retryAfterSeconds: 5, body: { ...REPORT, error: 'connect ECONNREFUSED 192.0.2.1:8728', reason: 'Unavailable' } }],
    ['a delay in fractions of a second: Retry-After rounds up', retryLater('Unavailable', 'busy', 0.2),
      { status: 503, retryAfterSeconds: 1, body: { error: 'busy', reason: 'Unavailable' } }],
    ['no known delay: no Retry-After', retryLater('Conflict', 'pool changed'),
      { status: 409, body: { error: 'pool changed', reason: 'Conflict' } }],
    ['a negative delay is dropped', retryLater('Conflict', 'pool changed', -1), { status: 409, body: { error: 'pool changed', reason: 'Conflict' } }],
    ['an endless delay is dropped', retryLater('Conflict', 'pool changed', Infinity), { status: 409, body: { error: 'pool changed', reason: 'Conflict' } }],
    ['a malformed event: 400', badEvent('CloudEvent attribute "id" is missing'), { status: 400, body: { error: 'CloudEvent attribute "id" is missing' } }],
    ['an event over the size limit: 413', badEvent('body exceeds the limit of 1024 bytes', 'TooLarge'),
      { status: 413, body: { error: 'body exceeds the limit of 1024 bytes' } }],
    ['unexpected: 500 (retried as every 5xx)', failed('the Kubernetes API refused a request: forbidden', REPORT),
      { status: 500, body: { ...REPORT, error: 'the Kubernetes API refused a request: forbidden' } }],
  ])('%s', (_story, outcome, want) => {
    expect(answerOf(outcome)).toEqual(want);
  });
});

describe('settling one run', () => {
  const report = () => ({ ...REPORT });
  const nothing = () => undefined;

  it('is done with the report when the work returns', async () => {
    expect(await settle(async () => undefined, report, nothing)).toEqual(done(REPORT));
  });

  it.each<[string, Error, Outcome]>([
    ['optimistic concurrency kept losing', new RetryLaterError('updating x: still conflicting after 5 attempts', 3),
      retryLater('Conflict', 'updating x: still conflicting after 5 attempts', 3, REPORT)],
    ['a retryable error of a function (the router is down)', new RetryableError('Unavailable', 'the router did not answer', 5),
      retryLater('Unavailable', 'the router did not answer', 5, REPORT)],
  ])('turns %s into retry later, with the report so far', async (_story, err, want) => {
    expect(await settle(() => Promise.reject(err), report, nothing)).toEqual(want);
  });

  it('asks the edge what its error means, and keeps the report', async () => {
    const recognise = (err: unknown) => (err instanceof TypeError ? retryLater('Throttled', 'slow down', 2) : undefined);
    expect(await settle(() => Promise.reject(new TypeError('429')), report, recognise)).toEqual(retryLater('Throttled', 'slow down', 2, REPORT));
  });

  it('throws on what nobody recognises (a fault)', async () => {
    await expect(settle(() => Promise.reject(new Error('bug')), report, nothing)).rejects.toThrow('bug');
  });
});

describe('running a handler', () => {
  it.each<[string, () => Promise<Outcome>, Outcome]>([
    ['returns what the handler returns', () => Promise.resolve(blocked('PoolExhausted', 'pool lan has no free address')), blocked('PoolExhausted', 'pool lan has no free address')],
    ['a thrown error is an unexpected failure', () => Promise.reject(new Error('boom')), failed('boom')],
    ['so is a thrown non-Error', () => Promise.reject('just a string'), failed('just a string')],
  ])('%s', async (_story, handler, want) => {
    expect(await runHandler(handler, resyncInvocation())).toEqual(want);
  });
});

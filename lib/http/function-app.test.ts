import { CloudEvent, HTTP } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import { objectInvocation, resyncInvocation, toCloudEvent, type EncodedEvent } from '../events/cloudevent.js';
import type { FunctionHandler, Invocation, ObjectRef } from '../events/invocation.js';
import { blocked, done, retryLater, type Outcome } from '../events/outcome.js';
import { memoryLogger } from '../log/logger.js';
import { createFunctionApp, type FunctionAppOptions } from './function-app.js';
import { countingBody, streamedInit } from './test-support.js';

const SERVICE: ObjectRef = { kind: 'Service', namespace: 'shop', name: 'web' };
const serviceEvent = (): EncodedEvent => toCloudEvent(objectInvocation('update', SERVICE, { id: 'evt-7' }));

/** A handler that records what it was given and answers (or throws) as told. */
function recording(answer: () => Promise<Outcome>) {
  const seen: Invocation[] = [];
  const handler: FunctionHandler = (invocation) => {
    seen.push(invocation);
    return answer();
  };
  return { seen, handler };
}

function appWith(answer: () => Promise<Outcome>, opts: FunctionAppOptions = {}) {
  const log = memoryLogger();
  const { seen, handler } = recording(answer);
  let clock = 0;
  const app = createFunctionApp('allocate', handler, { log, now: () => (clock += 12.5), ...opts });
  const post = (event: EncodedEvent) => app.request('/', { method: 'POST', headers: event.headers, body: event.body });
  return { app, post, seen, log };
}

const ok = (body: Record<string, unknown>): (() => Promise<Outcome>) => () => Promise.resolve(done(body));

describe('the function app', () => {
  it('answers the handler result for a binary event', async () => {
    const { post, seen } = appWith(ok({ allocated: ['192.0.2.10'] }));
    const res = await post(serviceEvent());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ allocated: ['192.0.2.10'] });
    expect(seen).toEqual([{ type: 'object', change: 'update', ref: SERVICE, id: 'evt-7', source: 'mikrolb.de/bridge' }]);
  });

  it('accepts a structured event from the SDK', async () => {
    const { post, seen } = appWith(ok({ resynced: true }));
    const message = HTTP.structured(new CloudEvent({ id: 'p-1', source: '/pingsource', type: 'de.mikrolb.resync' }));
    const res = await post({ headers: { 'content-type': String(message.headers['content-type']) }, body: String(message.body) });
    expect(res.status).toBe(200);
    expect(seen).toEqual([{ type: 'resync', id: 'p-1', source: '/pingsource' }]);
  });

  it.each([
    ['not a CloudEvent', { headers: { 'content-type': 'application/json' }, body: '{}' }, 'CloudEvent attribute "id" is missing'],
    ['an unsupported kind', { ...serviceEvent(), headers: { ...serviceEvent().headers, 'ce-kind': 'Pod' }, body: '' }, 'unsupported kind "Pod"'],
  ])('answers 400 for %s and never calls the handler', async (_, event, message) => {
    const { post, seen, log } = appWith(ok({}), { maxBodyBytes: 1024 });
    const res = await post(event);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: expect.stringContaining(message) });
    expect(seen).toEqual([]);
    expect(log.entries).toEqual([expect.objectContaining({ level: 'warn', msg: 'Rejected event', fields: expect.objectContaining({ status: 400, reason: 'Malformed' }) })]);
  });

  it('answers 413 for a body over the limit, declared by Content-Length, and closes the connection', async () => {
    const { post, seen, log } = appWith(ok({}), { maxBodyBytes: 1024 });
    const res = await post({ ...serviceEvent(), body: ' '.repeat(2048) });
    expect([res.status, res.headers.get('connection'), await res.json()]).toEqual([413, 'close', { error: 'body exceeds the limit of 1024 bytes' }]);
    expect(seen).toEqual([]);
    expect(log.entries).toEqual([expect.objectContaining({ level: 'warn', msg: 'Rejected event', fields: expect.objectContaining({ status: 413, reason: 'TooLarge', error: 'body exceeds the limit of 1024 bytes' }) })]);
  });

  it('answers 413 for a chunked body over the limit after reading no more than the limit', async () => {
    const { app, seen } = appWith(ok({}), { maxBodyBytes: 64 * 1024 });
    const { body, pulled } = countingBody(256 * 1024 * 1024, 16 * 1024);
    const res = await app.request('/', streamedInit(body, serviceEvent().headers));
    expect([res.status, res.headers.get('connection')]).toEqual([413, 'close']);
    expect(pulled()).toBeLessThanOrEqual(64 * 1024 + 2 * 16 * 1024);
    expect(seen).toEqual([]);
  });

  it('accepts a chunked body within the limit', async () => {
    const { app, seen } = appWith(ok({ fine: true }), { maxBodyBytes: 64 * 1024 });
    const event = serviceEvent();
    const bytes = new TextEncoder().encode(event.body);
    const body = new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(bytes), c.close()) });
    const res = await app.request('/', streamedInit(body, event.headers));
    expect([res.status, await res.json()]).toEqual([200, { fine: true }]);
    expect(seen).toHaveLength(1);
  });

  it.each<[string, () => Promise<Outcome>, number, string | null, unknown]>([
    ['retry later', () => Promise.resolve(retryLater('Conflict', 'pool changed', 3, { function: 'allocate' })), 409, '3', { function: 'allocate', error: 'pool changed', reason: 'Conflict' }],
    ['blocked on the user', () => Promise.resolve(blocked('PoolInUse', 'still in use')), 200, null, { blocked: { reason: 'PoolInUse', message: 'still in use' } }],
    ['a thrown error (even one with retryAfterSeconds: only outcomes retry)', () => Promise.reject(Object.assign(new Error('boom'), { retryAfterSeconds: 2 })), 500, null, { error: 'boom' }],
    ['a thrown string', () => Promise.reject('just a string'), 500, null, { error: 'just a string' }],
  ])('answers %s through the one mapping', async (_, answer, status, retryAfter, body) => {
    const { post } = appWith(answer);
    const res = await post(serviceEvent());
    expect([res.status, res.headers.get('retry-after'), await res.json()]).toEqual([status, retryAfter, body]);
  });

  it('logs each invocation as one structured entry', async () => {
    const { post, log } = appWith(() => Promise.reject(new Error('router unreachable')));
    await post(serviceEvent());
    await post(toCloudEvent(resyncInvocation({ id: 'tick' })));
    expect(log.entries).toEqual([
      {
        level: 'error',
        msg: 'Invocation failed',
        fields: {
          function: 'allocate',
          eventId: 'evt-7',
          source: 'mikrolb.de/bridge',
          type: 'update',
          object: 'Service/shop/web',
          status: 500,
          durationMs: 12.5,
          error: 'router unreachable',
        },
      },
      expect.objectContaining({ level: 'error', fields: expect.objectContaining({ type: 'resync', eventId: 'tick' }) }),
    ]);
  });

  it.each<[string, Outcome, string, string]>([
    ['done', done(), 'info', 'Invocation done'],
    ['blocked', blocked('PoolInUse', 'still in use'), 'info', 'Invocation blocked'],
    ['retry later', retryLater('Conflict', 'pool changed', 1), 'warn', 'Invocation will be retried'],
  ])('logs %s at its level', async (_, outcome, level, msg) => {
    const { post, log } = appWith(() => Promise.resolve(outcome));
    await post(serviceEvent());
    expect(log.entries.map((e) => [e.level, e.msg])).toEqual([[level, msg]]);
  });

  it.each([
    ['/healthz', undefined, 200, 'ok'],
    ['/readyz', undefined, 200, 'ok'],
    ['/readyz', () => true, 200, 'ok'],
    ['/readyz', () => false, 503, 'not ready'],
  ])('GET %s (ready: %s)', async (path, ready, status, text) => {
    const { app } = appWith(ok({}), ready ? { ready } : {});
    const res = await app.request(path);
    expect([res.status, await res.text()]).toEqual([status, text]);
  });
});

import { describe, expect, it } from 'vitest';
import { createAuthenticator, type Review } from '../auth/authenticator.js';
import { objectInvocation, toCloudEvent } from '../events/cloudevent.js';
import type { Invocation } from '../events/invocation.js';
import { done } from '../events/outcome.js';
import { memoryLogger } from '../log/logger.js';
import { createFunctionApp } from './function-app.js';
import { withInvokeAuth } from './invoke-auth.js';

const BRIDGE = 'system:serviceaccount:mikrolb-system:mikrolb-bridge';
const TOKENS: Record<string, string> = { 'bridge-token': BRIDGE, 'other-token': 'system:serviceaccount:default:other' };

function setup(opts: { reviewFails?: boolean; now?: () => number } = {}) {
  const seen: Invocation[] = [];
  const inner = createFunctionApp('program', (invocation) => {
    seen.push(invocation);
    return Promise.resolve(done({ function: 'program', actions: ['Service shop/web: ingress 192.0.2.15'] }));
  });
  const reviews: string[] = [];
  const review = (token: string): Promise<Review> => {
    reviews.push(token);
    if (opts.reviewFails) return Promise.reject(new Error('connect ECONNREFUSED'));
    const user = TOKENS[token];
    return Promise.resolve(user ? { authenticated: true, user } : { authenticated: false, reason: 'invalid' });
  };
  const log = memoryLogger();
  const app = withInvokeAuth(inner, createAuthenticator({ review, allowedSubjects: [BRIDGE] }), log, opts.now);
  const event = toCloudEvent(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' }));
  const post = (headers: Record<string, string> = {}) =>
    app.fetch(new Request('http://function/', { method: 'POST', headers: { ...event.headers, ...headers }, body: event.body }));
  const get = (path: string) => app.fetch(new Request(`http://function${path}`));
  return { post, get, seen, reviews, log };
}

describe('a served function behind authentication', () => {
  it('answers 401 without credentials, before the function sees anything', async () => {
    const { post, seen, reviews } = setup();
    const res = await post();
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(await res.text()).not.toContain('192.0.2.15');
    expect(seen).toEqual([]);
    expect(reviews).toEqual([]);
  });

  it('answers 401 for a token the API server refuses', async () => {
    const { post, seen } = setup();
    expect((await post({ authorization: 'Bearer forged' })).status).toBe(401);
    expect(seen).toEqual([]);
  });

  it('logs a repeated refusal once per 30 s, saying how many the line stands for: a caller repeating a bad token cannot flood the log', async () => {
    let t = 0;
    const { post, log } = setup({ now: () => t });
    const refusedLines = () => log.entries.filter((e) => e.msg === 'Invocation refused');
    for (let i = 0; i < 50; i++) expect((await post({ authorization: 'Bearer forged' })).status).toBe(401);
    expect((await post({ authorization: 'Bearer other-token' })).status).toBe(403);
    expect(refusedLines().map((e) => e.fields.status)).toEqual([401, 403]);
    t = 30_000;
    expect((await post({ authorization: 'Bearer forged' })).status).toBe(401);
    expect(refusedLines()).toHaveLength(3);
    expect(refusedLines()[2]?.fields).toMatchObject({ status: 401, repeated: 50 });
  });

  it('answers 403 for a valid token of a user not allowed', async () => {
    const { post, seen, log } = setup();
    const res = await post({ authorization: 'Bearer other-token' });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: 'system:serviceaccount:default:other may not invoke this function' });
    expect(seen).toEqual([]);
    expect(log.entries).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'Invocation refused' }));
    expect(JSON.stringify(log.entries)).not.toContain('other-token');
  });

  it('invokes the function for an allowed caller', async () => {
    const { post, seen } = setup();
    const res = await post({ authorization: 'Bearer bridge-token' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ function: 'program' });
    expect(seen).toHaveLength(1);
  });

  it('answers 503 with Retry-After when the token cannot be reviewed (the bridge retries)', async () => {
    const { post, seen } = setup({ reviewFails: true });
    const res = await post({ authorization: 'Bearer bridge-token' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(seen).toEqual([]);
  });

  it.each(['/healthz', '/readyz'])('keeps %s open, answering only "ok"', async (path) => {
    const { get, reviews } = setup();
    const res = await get(path);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
    expect(reviews).toEqual([]);
  });

  it('guards every other path and method', async () => {
    const { get } = setup();
    expect((await get('/')).status).toBe(401);
    expect((await get('/metrics')).status).toBe(401);
  });
});

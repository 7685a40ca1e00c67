import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { IPPool } from '../../lib/k8s/schemas.js';
import { WEBHOOK_MAX_BODY_BYTES } from '../../lib/http/body-limit.js';
import { countingBody, streamedInit } from '../../lib/http/test-support.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { memoryPortAs } from '../test-support.js';
import { createWebhookApp, poolLister, VALIDATE_PATH } from './app.js';

const existing: IPPool = {
  metadata: { name: 'existing', creationTimestamp: '2024-01-01T00:00:00Z' },
  spec: { ipFamily: 'IPv4', addresses: ['203.0.113.0/28'], autoAssign: true, avoidBuggyIPs: true, advertise: true },
};

/** A CREATE of pool `new` with `addresses`; `overrides` replace fields of the request. */
function review(uid: string, addresses: string[], overrides: Record<string, unknown> = {}): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: 'mikrolb.de', version: 'v1alpha1', kind: 'IPPool' },
      resource: { group: 'mikrolb.de', version: 'v1alpha1', resource: 'ippools' },
      name: 'new',
      operation: 'CREATE',
      userInfo: { username: 'admin' },
      object: { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'new' }, spec: { ipFamily: 'IPv4', addresses } },
      oldObject: null,
      dryRun: false,
      ...overrides,
    },
  };
}

const ReviewOut = z.object({
  apiVersion: z.literal('admission.k8s.io/v1'),
  kind: z.literal('AdmissionReview'),
  response: z.object({
    uid: z.string(),
    allowed: z.boolean(),
    status: z.object({ code: z.number(), message: z.string() }).optional(),
  }),
});

function setup(listPools: () => Promise<IPPool[]> = async () => [existing]) {
  const log = memoryLogger();
  const app = createWebhookApp({ listPools, log });
  const post = (body: string) => app.request(VALIDATE_PATH, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  return { app, post, lines: log.entries };
}

describe('the webhook app', () => {
  it('answers an AdmissionReview with the same uid: allowed', async () => {
    const { post, lines } = setup();
    const res = await post(JSON.stringify(review('a1', ['203.0.113.64/28'])));
    expect(res.status).toBe(200);
    expect(ReviewOut.parse(await res.json()).response).toEqual({ uid: 'a1', allowed: true });
    expect(lines).toEqual([{ level: 'info', msg: 'Reviewed an IPPool', fields: expect.objectContaining({ uid: 'a1', operation: 'CREATE', allowed: true }) }]);
  });

  it('answers an AdmissionReview with the same uid: denied for an overlap with a stored pool', async () => {
    const { post } = setup();
    const res = await post(JSON.stringify(review('d1', ['203.0.113.8/29'])));
    const { response } = ReviewOut.parse(await res.json());
    expect(response).toMatchObject({ uid: 'd1', allowed: false, status: { code: 422 } });
    expect(response.status?.message).toContain('shares 203.0.113.8-203.0.113.15 with IPPool "existing"');
  });

  it('reads the stored pools as its ServiceAccount may (deploy/base/rbac-webhook.yaml: list only)', async () => {
    const kube = memoryPortAs('webhook', { objects: [{ apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', ...existing }] });
    const { post } = setup(poolLister(kube.port));
    const { response } = ReviewOut.parse(await (await post(JSON.stringify(review('r1', ['203.0.113.8/29'])))).json());
    expect(response.status?.message).toContain('shares 203.0.113.8-203.0.113.15 with IPPool "existing"');
  });

  it('answers an UPDATE that changes ipFamily onto a stored pool\'s addresses with a denial, not a 500', async () => {
    const v6: IPPool = { ...existing, metadata: { name: 'v6', creationTimestamp: '2024-01-01T00:00:00Z' }, spec: { ...existing.spec, ipFamily: 'IPv6', addresses: ['2001:db8::/64'] } };
    const { post } = setup(async () => [existing, v6]);
    const res = await post(JSON.stringify(review('f1', [], {
      name: 'existing', operation: 'UPDATE',
      object: { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'existing' }, spec: { ipFamily: 'IPv6', addresses: ['2001:db8::10-2001:db8::20'] } },
      oldObject: { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', ...existing },
    })));
    expect(res.status).toBe(200);
    const { response } = ReviewOut.parse(await res.json());
    expect(response).toMatchObject({ uid: 'f1', allowed: false, status: { code: 422 } });
    expect(response.status?.message).toContain('shares 2001:db8::10-2001:db8::20 with IPPool "v6"');
  });

  it.each([
    ['an empty body', ''],
    ['text that is not JSON', '{"apiVersion": '],
    ['a review of another API version', JSON.stringify(review('x', ['10.0.0.1'])).replace('admission.k8s.io/v1', 'admission.k8s.io/v1beta1')],
    ['a review without a request', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' })],
    ['a request without a uid', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { operation: 'CREATE' } })],
  ])('answers 400 to %s', async (_case, body) => {
    const { post, lines } = setup();
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(z.object({ error: z.literal('malformed AdmissionReview') }).loose().parse(await res.json())).toBeTruthy();
    expect(lines).toEqual([{ level: 'warn', msg: 'Malformed AdmissionReview', fields: { problems: expect.arrayContaining([expect.any(String)]) } }]);
  });

  it('answers 500 when the pools cannot be read, so the failurePolicy decides', async () => {
    const { post, lines } = setup(async () => {
      throw new Error('connection refused');
    });
    const res = await post(JSON.stringify(review('e1', ['10.0.0.1'])));
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('connection refused');
    // At error level, with the cause as a field: a failing webhook refuses every IPPool change.
    expect(lines).toEqual([{ level: 'error', msg: 'Reviewing an IPPool failed', fields: { error: 'connection refused' } }]);
  });

  it('answers 413 to a body whose Content-Length is over 3 MiB, before reading it or listing pools', async () => {
    let listed = 0;
    const { app, lines } = setup(async () => (listed++, [existing]));
    const { body, pulled } = countingBody(WEBHOOK_MAX_BODY_BYTES + 1);
    const res = await app.request(VALIDATE_PATH, { ...streamedInit(body, { 'content-type': 'application/json', 'content-length': String(WEBHOOK_MAX_BODY_BYTES + 1) }) });
    expect([res.status, res.headers.get('connection'), await res.json()]).toEqual([413, 'close', { error: `body exceeds the limit of ${WEBHOOK_MAX_BODY_BYTES} bytes` }]);
    expect(pulled()).toBeLessThanOrEqual(64 * 1024); // at most what the stream queued on its own
    expect([listed, lines]).toEqual([0, []]);
  });

  it('answers 413 to a chunked body over the limit, having read no more than the limit', async () => {
    const { app } = setup();
    const { body, pulled } = countingBody(1024 * 1024 * 1024);
    const res = await app.request(VALIDATE_PATH, streamedInit(body, { 'content-type': 'application/json' }));
    expect(res.status).toBe(413);
    expect(pulled()).toBeLessThanOrEqual(WEBHOOK_MAX_BODY_BYTES + 2 * 64 * 1024);
  });

  it('limits bodies on every route, not only the review', async () => {
    const { app } = setup();
    const res = await app.request('/healthz', { method: 'POST', body: ' '.repeat(2048) });
    expect(res.status).toBe(404);
    const small = createWebhookApp({ listPools: async () => [], maxBodyBytes: 1024 });
    expect((await small.request('/anything', { method: 'PUT', body: ' '.repeat(2048) })).status).toBe(413);
  });

  it('reviews an AdmissionReview sent chunked within the limit', async () => {
    const { app } = setup();
    const bytes = new TextEncoder().encode(JSON.stringify(review('c1', ['203.0.113.64/28'])));
    const body = new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(bytes), c.close()) });
    const res = await app.request(VALIDATE_PATH, streamedInit(body, { 'content-type': 'application/json' }));
    expect(ReviewOut.parse(await res.json()).response).toEqual({ uid: 'c1', allowed: true });
  });

  it('reports healthy', async () => {
    const res = await setup().app.request('/healthz');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
  });
});

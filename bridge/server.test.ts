import { describe, expect, it } from 'vitest';
import { countingBody, streamedInit } from '../lib/http/test-support.js';
import { createBridgeApp } from './server.js';

const app = createBridgeApp({ ready: () => true, metrics: () => 'mikrolb_up 1\n' });

describe('the bridge app', () => {
  it('serves its three endpoints without a body', async () => {
    expect((await app.request('/healthz')).status).toBe(200);
    expect((await app.request('/readyz')).status).toBe(200);
    expect(await (await app.request('/metrics')).text()).toBe('mikrolb_up 1\n');
  });

  it.each(['/metrics', '/healthz', '/anything'])('refuses any request body to %s with 413, declared or chunked', async (path) => {
    const declared = await app.request(path, { method: 'POST', body: 'x' });
    expect([declared.status, declared.headers.get('connection')]).toEqual([413, 'close']);
    const { body, pulled } = countingBody(64 * 1024 * 1024);
    expect((await app.request(path, streamedInit(body))).status).toBe(413);
    expect(pulled()).toBeLessThanOrEqual(2 * 64 * 1024);
  });
});

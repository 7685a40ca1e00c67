import { request } from 'node:http';
import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitBodySize } from './body-limit.js';
import { serveApp, type ServedApp } from './serve.js';

const LIMIT = 16;
const refuse = (c: { text: (t: string, s: 413) => Response }): Response => c.text('too large', 413);

/** An app that answers what its route read, behind `limit`. */
function echo(limit: MiddlewareHandler): Hono {
  const app = new Hono();
  app.use('*', limit);
  app.all('*', async (c) => c.text(`${c.req.method} read ${JSON.stringify(await c.req.text())}`));
  return app;
}

interface Sent { method: string; headers: Record<string, string>; chunks: string[] }

/** One request over real HTTP (through @hono/node-server), its status and body. */
function send(port: number, { method, headers, chunks }: Sent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: '/', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(`${res.statusCode}: ${text}`));
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

const SENT: Record<string, Sent> = {
  'a declared length within the limit': { method: 'POST', headers: { 'content-length': '5' }, chunks: ['hello'] },
  'a declared length at the limit': { method: 'POST', headers: { 'content-length': String(LIMIT) }, chunks: ['x'.repeat(LIMIT)] },
  'a declared length over the limit': { method: 'POST', headers: { 'content-length': String(LIMIT + 1) }, chunks: ['x'.repeat(LIMIT + 1)] },
  'a chunked body within the limit': { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, chunks: ['hel', 'lo'] },
  'a chunked body over the limit': { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, chunks: ['x'.repeat(LIMIT), 'y'] },
  'an empty POST': { method: 'POST', headers: { 'content-length': '0' }, chunks: [] },
  'a GET': { method: 'GET', headers: {}, chunks: [] },
  'a PUT over the limit': { method: 'PUT', headers: { 'content-length': String(LIMIT * 2) }, chunks: ['x'.repeat(LIMIT * 2)] },
};

describe('limitBodySize', () => {
  let ours: ServedApp;
  let hono: ServedApp;
  beforeAll(async () => {
    ours = await serveApp(echo(limitBodySize(LIMIT, refuse)), { port: 0, hostname: '127.0.0.1' });
    hono = await serveApp(echo(bodyLimit({ maxSize: LIMIT, onError: refuse })), { port: 0, hostname: '127.0.0.1' });
  });
  afterAll(async () => {
    await ours.close();
    await hono.close();
  });

  it.each(Object.keys(SENT))('answers %s as hono\'s bodyLimit does', async (name) => {
    const sent = SENT[name];
    if (sent === undefined) throw new Error(name);
    const [answer, honos] = [await send(ours.port, sent), await send(hono.port, sent)];
    expect(answer).toBe(honos);
  });

  it('lets the route read a body it passed, and refuses one declared too large', async () => {
    expect(await send(ours.port, { method: 'POST', headers: { 'content-length': '5' }, chunks: ['hello'] })).toBe('200: POST read "hello"');
    expect(await send(ours.port, { method: 'POST', headers: { 'content-length': '99' }, chunks: ['x'.repeat(99)] })).toBe('413: too large');
  });
});

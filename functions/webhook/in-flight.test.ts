import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { serveApp, type ServedApp } from '../../lib/http/serve.js';
import { createWebhookApp, VALIDATE_PATH } from './app.js';

const MAX = 1000;
const BUDGET = 3 * MAX;

const servers: ServedApp[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(): Promise<number> {
  const served = await serveApp(createWebhookApp({ listPools: async () => [], maxBodyBytes: MAX, bodiesInFlightBytes: BUDGET }), { port: 0, hostname: '127.0.0.1' });
  servers.push(served);
  return served.port;
}

/** A review whose body stops one byte short of its declared length, and stays open. */
function held(port: number, headers: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`POST ${VALIDATE_PATH} HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n${headers}\r\n`);
      resolve(socket);
    });
    sockets.push(socket);
    socket.on('error', reject);
  });
}
const declared = (port: number) => held(port, `Content-Length: ${MAX}\r\n`).then((s) => (s.write(' '.repeat(MAX - 1)), s));
const chunked = (port: number) => held(port, 'Transfer-Encoding: chunked\r\n').then((s) => (s.write(`a\r\n${' '.repeat(10)}\r\n`), s));

const review = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
  request: {
    uid: 'r1', kind: { group: 'mikrolb.de', version: 'v1alpha1', kind: 'IPPool' }, resource: { group: 'mikrolb.de', version: 'v1alpha1', resource: 'ippools' },
    operation: 'CREATE', object: { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'a' }, spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/28'] } },
  },
});
const post = (port: number) => fetch(`http://127.0.0.1:${port}${VALIDATE_PATH}`, { method: 'POST', body: review, headers: { 'content-type': 'application/json' } });

/** Until `check` holds (the server notices a closed connection on its own time). */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('never held');
}

describe('request bodies in flight at the webhook (its port is open to every source)', () => {
  it('refuses a review with 503 while bodies held open by others fill the budget, and takes it again once they go', async () => {
    const port = await serve();
    expect((await post(port)).status).toBe(200);
    const open = await Promise.all([declared(port), declared(port), declared(port)]);
    await eventually(async () => (await post(port)).status === 503);
    const refused = await post(port);
    expect([refused.status, refused.headers.get('retry-after'), refused.headers.get('connection')]).toEqual([503, '1', 'close']);
    open[0]?.destroy(); // an aborted request gives its share back
    await eventually(async () => (await post(port)).status === 200);
  });

  it('counts a chunked body at the limit, since it may grow to it', async () => {
    const port = await serve();
    const open = await Promise.all([chunked(port), chunked(port), chunked(port)]);
    await eventually(async () => (await post(port)).status === 503);
    open[0]?.destroy();
    await eventually(async () => (await post(port)).status === 200);
  });

  it('lets reviews through one after another without end: each gives its share back', async () => {
    const port = await serve();
    for (let i = 0; i < 20; i++) expect((await post(port)).status).toBe(200);
  });
});

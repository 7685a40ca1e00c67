import { connect, type Socket } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { afterEach, describe, expect, it } from 'vitest';
import { objectInvocation, toCloudEvent } from '../events/cloudevent.js';
import { done } from '../events/outcome.js';
import { createFunctionApp } from './function-app.js';
import { CONNECTION_LIMITS, closing, serveApp, type ServedApp } from './serve.js';

const app = createFunctionApp('program', (invocation) => Promise.resolve(done({ saw: invocation.id })));
const served: ServedApp[] = [];
afterEach(async () => {
  await Promise.all(served.splice(0).map((s) => s.close()));
});

describe('serveApp', () => {
  it('listens on a free port when asked for port 0 and serves the app over real HTTP', async () => {
    const server = await serveApp(app, { port: 0, hostname: '127.0.0.1' });
    served.push(server);
    expect(server.port).toBeGreaterThan(0);
    const base = `http://127.0.0.1:${server.port}`;
    expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok');
    const event = toCloudEvent(objectInvocation('add', { kind: 'IPPool', name: 'lan' }, { id: 'e-1' }));
    const res = await fetch(`${base}/`, { method: 'POST', headers: event.headers, body: event.body });
    expect([res.status, await res.json()]).toEqual([200, { saw: 'e-1' }]);
  });

  it('rejects when the port is taken', async () => {
    const first = await serveApp(app, { port: 0, hostname: '127.0.0.1' });
    served.push(first);
    await expect(serveApp(app, { port: first.port, hostname: '127.0.0.1' })).rejects.toThrow(/EADDRINUSE/);
  });

  it('closes, after which nothing listens', async () => {
    const server = await serveApp(app, { port: 0, hostname: '127.0.0.1' });
    await (await fetch(`http://127.0.0.1:${server.port}/healthz`)).text();
    await server.close();
    await expect(fetch(`http://127.0.0.1:${server.port}/healthz`)).rejects.toThrow();
  });
});

/** Resolves with how long the server took to close `socket` (the client reads what it is sent, so it sees the end). */
function closedAfter(socket: Socket): Promise<number> {
  const since = Date.now();
  socket.on('data', () => undefined);
  socket.on('error', () => undefined);
  return new Promise((resolve) => socket.once('close', () => resolve(Date.now() - since)));
}

const connected = (port: number): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });

describe('serveApp: what a client may hold', () => {
  it('closes a connection whose headers never end within seconds, not after Node\'s 60 s', { timeout: 30_000 }, async () => {
    const server = await serveApp(app, { port: 0, hostname: '127.0.0.1' });
    served.push(server);
    const socket = await connected(server.port);
    const closed = closedAfter(socket);
    socket.write('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n'); // the headers never end
    const ms = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), 20_000))]);
    socket.destroy();
    expect(ms).toBeLessThanOrEqual(CONNECTION_LIMITS.headersTimeoutMs + CONNECTION_LIMITS.checkIntervalMs + 2_000);
  });

  it('holds at most CONNECTION_LIMITS.maxConnections connections; one more is closed at once, and serving goes on', async () => {
    const server = await serveApp(app, { port: 0, hostname: '127.0.0.1' });
    served.push(server);
    const held: Socket[] = [];
    try {
      for (let i = 0; i < CONNECTION_LIMITS.maxConnections; i++) held.push(await connected(server.port));
      const extra = await connected(server.port);
      expect(await Promise.race([closedAfter(extra), new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), 2_000))])).toBeLessThan(2_000);
      held.pop()?.destroy();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await (await fetch(`http://127.0.0.1:${server.port}/healthz`)).text()).toBe('ok');
    } finally {
      for (const socket of held) socket.destroy();
    }
  });
});

describe('closing', () => {
  const listen = async (fetchFn: (request: Request) => Promise<Response>, graceMs: number) => {
    const server = createAdaptorServer({ fetch: fetchFn });
    const close = closing(server, graceMs);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('not listening on a TCP port');
    return { close, base: `http://127.0.0.1:${address.port}` };
  };

  it('answers the requests in flight before it closes their connections', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered: () => void = () => undefined;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    const { close, base } = await listen(async () => {
      entered();
      await held;
      return new Response('answered');
    }, 10_000);
    const answer = fetch(`${base}/`).then(async (r) => [r.status, await r.text()]);
    await inHandler;
    const closed = close();
    release();
    expect(await answer).toEqual([200, 'answered']);
    await closed;
    await expect(fetch(`${base}/`)).rejects.toThrow();
  });

  it('closes a request still in flight when the grace period ends', async () => {
    const { close, base } = await listen(() => new Promise<Response>(() => undefined), 200);
    const answer = fetch(`${base}/`).then(() => 'answered', () => 'connection closed');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await close();
    expect(await answer).toBe('connection closed');
  });

  it('closes at once a connection whose request never finished arriving, long before the grace period ends', { timeout: 20_000 }, async () => {
    const { close, base } = await listen(() => Promise.resolve(new Response('ok')), 60_000);
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const gone = new Promise((resolve) => socket.once('close', resolve));
    socket.on('error', () => undefined);
    socket.write('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n'); // the headers never end
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Node's closeIdleConnections leaves this one: close() waited for the client's own timeout
    // (Node's 60 s for headers; kube-apiserver kept such a connection to the webhook for 90 s)
    await close();
    await gone;
    expect(socket.destroyed).toBe(true);
  });
});

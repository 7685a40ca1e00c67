import { afterEach, describe, expect, it } from 'vitest';
import { objectInvocation, toCloudEvent } from '../events/cloudevent.js';
import { done } from '../events/outcome.js';
import { createFunctionApp } from './function-app.js';
import { serveApp, type ServedApp } from './serve.js';

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

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RestRequest, Transport } from '../k8s/rest.js';
import { runServe, warmUp, WARM_UP_TIMEOUT_MS, type ServeContext, type ServeRegistry } from './serve.js';

describe('warmUp', () => {
  it('sends one cheap GET /version with a short timeout, and does not wait for it', () => {
    const sent: RestRequest[] = [];
    const transport: Transport = (req) => {
      sent.push(req);
      return new Promise(() => undefined);
    };
    expect(warmUp(transport)).toBeUndefined();
    expect(sent).toEqual([{ method: 'GET', path: '/version', timeoutMs: WARM_UP_TIMEOUT_MS }]);
  });

  it('swallows a failure: the first real request reports a problem', async () => {
    const failed = Promise.reject(new Error('connection refused'));
    warmUp(() => failed);
    await expect(failed).rejects.toThrow('connection refused');
    // an unhandled rejection would fail the test run
    await new Promise((r) => setTimeout(r, 10));
  });
});

describe('runServe', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  /** A fake API server on plain HTTP whose /version fails (the connection is cut), and a kubeconfig naming it. */
  async function brokenWarmUpServer(): Promise<{ kubeconfig: string; paths: string[] }> {
    const paths: string[] = [];
    const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
      paths.push(req.url ?? '');
      if (req.url === '/version') req.socket.destroy();
      else res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","reason":"NotFound"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const dir = mkdtempSync(join(tmpdir(), 'mikrolb-serve-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, [
      'apiVersion: v1', 'kind: Config', 'current-context: fake',
      'clusters: [{name: fake, cluster: {server: "http://127.0.0.1:' + String(port) + '"}}]',
      'users: [{name: me, user: {token: abc}}]',
      'contexts: [{name: fake, context: {cluster: fake, user: me}}]', '',
    ].join('\n'));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())), () => rmSync(dir, { recursive: true, force: true }));
    return { kubeconfig, paths };
  }

  // the router's warning (a JSON log line) came first: a start refused for its configuration says one line
  it('refuses a bad INVOKE_AUTH in one line, before the router logs anything', async () => {
    const { kubeconfig, paths } = await brokenWarmUpServer();
    let stderr = '';
    const registry: ServeRegistry = { fn: { needsRouter: true, invoked: true, defaultPort: 0, start: () => Promise.reject(new Error('started')) } };
    const env = { KUBECONFIG: kubeconfig, INVOKE_AUTH: 'x', ROUTEROS_URL: 'api://192.0.2.1', ROUTEROS_USERNAME: 'mikrolb' };
    const code = await runServe(['fn'], env, { stdout: { write: () => true }, stderr: { write: (t: string) => (stderr += t) } }, registry);
    expect({ code, stderr }).toEqual({ code: 2, stderr: 'mikrolb serve fn: INVOKE_AUTH="x" must be tokenreview or none\n' });
    expect(paths).toEqual([]);
  });

  it('sends the warm-up before the function\'s first request, and serves even when the warm-up fails', async () => {
    const { kubeconfig, paths } = await brokenWarmUpServer();
    const stop = new AbortController();
    let stderr = '';
    let ctx: ServeContext | undefined;
    const registry: ServeRegistry = {
      fn: {
        needsRouter: false, invoked: true, defaultPort: 0,
        start: async (given) => {
          ctx = given;
          // the function's first request to the API server, after the failed warm-up
          await expect(given.transport({ method: 'GET', path: '/api/v1/namespaces/default/services/absent' })).rejects.toThrow('NotFound');
          setTimeout(() => stop.abort(), 0);
          return { port: 4321, close: () => Promise.resolve() };
        },
      },
    };
    const code = await runServe(['fn'], { KUBECONFIG: kubeconfig, INVOKE_AUTH: 'none' }, { stdout: { write: () => true }, stderr: { write: (t: string) => (stderr += t) }, signal: stop.signal }, registry);
    expect(code).toBe(0);
    expect(ctx).toBeDefined();
    expect(paths).toEqual(['/version', '/api/v1/namespaces/default/services/absent']);
    expect(stderr).toContain('"msg":"Serving"');
    expect(stderr).not.toMatch(/"level":"error"|version/);
  });
});

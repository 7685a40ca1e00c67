import { createServer } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeTransport, userAgentOf, withUserAgent, type Transport } from './rest.js';

/** What a stand-in server saw of each request: its User-Agent and the client port it came from. */
const seen: { userAgent: string | undefined; clientPort: number | undefined }[] = [];
const server = createServer((req, res) => {
  seen.push({ userAgent: req.headers['user-agent'], clientPort: req.socket.remotePort });
  res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
});
let kc: KubeConfig;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const get = (transport: Transport) => transport({ method: 'GET', path: '/api/v1/namespaces' });

describe('the User-Agent of API requests', () => {
  it('names the component that sends them, and each function over one shared transport', async () => {
    seen.length = 0;
    await get(kubeTransport(kc));
    const controller = kubeTransport(kc, { userAgent: userAgentOf('controller') });
    await get(controller);
    await get(withUserAgent(controller, userAgentOf('allocate')));
    await get(withUserAgent(controller, userAgentOf('program')));
    await get(controller);
    expect(seen.map((s) => s.userAgent)).toEqual(['mikrolb', 'mikrolb-controller', 'mikrolb-allocate', 'mikrolb-program', 'mikrolb-controller']);
    // the functions' requests go over the controller's keep-alive connection, not their own
    expect(new Set(seen.slice(1).map((s) => s.clientPort)).size).toBe(1);
  });
});

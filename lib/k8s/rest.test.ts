import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, type TestPki } from '../routeros/client/test-support.js';
import { kubeTransport, userAgentOf, withUserAgent, type Transport } from './rest.js';
import { kubeConfigAt, unansweredAddress } from './test-support.js';

/** What a stand-in server saw of each request: its User-Agent and the client port it came from. */
const seen: { userAgent: string | undefined; clientPort: number | undefined }[] = [];
const server = createServer((req, res) => {
  seen.push({ userAgent: req.headers['user-agent'], clientPort: req.socket.remotePort });
  res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
});
let kc: KubeConfig;

/** A kubeconfig for a plain-HTTP stand-in server listening on 127.0.0.1. */
async function listening(s: ReturnType<typeof createServer>): Promise<KubeConfig> {
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const address = s.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
  return config;
}

beforeAll(async () => {
  kc = await listening(server);
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

describe('the TLS of API requests', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await createTestPki();
  }, 30_000);

  /** An HTTPS stand-in serving `identity`, and a kubeconfig trusting `ca` with a bearer token. */
  async function tlsServer(identity: { key: string; cert: string }, ca: string): Promise<{ kc: KubeConfig; seen: { auth: string | undefined; clientPort: number | undefined }[]; close: () => Promise<void> }> {
    const seen: { auth: string | undefined; clientPort: number | undefined }[] = [];
    const tls = createHttpsServer(identity, (req, res) => {
      seen.push({ auth: req.headers.authorization, clientPort: req.socket.remotePort });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"kind":"NamespaceList"}');
    });
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    const address = tls.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, caData: Buffer.from(ca).toString('base64'), skipTLSVerify: false }],
      users: [{ name: 'u', token: 'secret-token' }],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c',
    });
    return { kc: config, seen, close: () => new Promise<void>((resolve) => tls.close(() => resolve())) };
  }

  it('verifies the server by the kubeconfig CA once the agent holds it, and reuses its connections', async () => {
    const server = await tlsServer(pki.server, pki.caCert);
    try {
      const transport = kubeTransport(server.kc);
      for (let i = 0; i < 3; i++) expect(await get(transport)).toEqual({ kind: 'NamespaceList' });
      expect(server.seen.map((s) => s.auth)).toEqual(['Bearer secret-token', 'Bearer secret-token', 'Bearer secret-token']);
      expect(new Set(server.seen.map((s) => s.clientPort)).size).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('refuses a server another CA signed, and one whose certificate names another host', async () => {
    const untrusted = await tlsServer(pki.server, pki.otherCaCert);
    const misnamed = await tlsServer(pki.wrongName, pki.caCert);
    try {
      await expect(get(kubeTransport(untrusted.kc))).rejects.toMatchObject({ reason: 'NetworkError', message: expect.stringMatching(/certificate/) });
      await expect(get(kubeTransport(misnamed.kc))).rejects.toMatchObject({ reason: 'NetworkError', message: expect.stringMatching(/altnames|IP/) });
      expect([...untrusted.seen, ...misnamed.seen]).toEqual([]);
    } finally {
      await untrusted.close();
      await misnamed.close();
    }
  });
});

describe('an API server address that drops packets', () => {
  it('fails a request within its timeout while connecting, over the keep-alive agent, not after the kernel gives up (~127 s)', async () => {
    const peer = await unansweredAddress();
    try {
      const dropping = kubeConfigAt(peer.port);
      const outcome = await Promise.race([
        kubeTransport(dropping)({ method: 'GET', path: '/api/v1/namespaces', timeoutMs: 500 }).then(() => 'answered', (e: unknown) => e),
        new Promise((resolve) => setTimeout(() => resolve('still connecting after 10 s'), 10_000)),
      ]);
      expect(outcome).toMatchObject({ message: 'GET /api/v1/namespaces: no answer within 500 ms', status: 0, reason: 'NetworkError' });
    } finally {
      await peer.close();
    }
  });
});

describe('answers that are not the API server\'s', () => {
  const odd = createServer((req, res) => {
    if (req.url === '/cut') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"kind":');
      setTimeout(() => res.socket?.destroy(), 20);
    } else if (req.url === '/garbled') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"kind":');
    } else {
      res.writeHead(502, { 'content-type': 'text/html' }).end(`<html>\n  <head><title>502 Bad Gateway</title></head>\n  <body>${'x'.repeat(400)}</body>\n</html>\n`);
    }
  });
  let oddConfig: KubeConfig;
  beforeAll(async () => {
    oddConfig = await listening(odd);
  });
  afterAll(() => new Promise<void>((resolve) => odd.close(() => resolve())));
  const failure = (path: string) => kubeTransport(oddConfig)({ method: 'GET', path }).then(() => 'answered', (e: unknown) => e);

  it('names the request whose answer was cut off or is not JSON', async () => {
    expect(await failure('/cut')).toMatchObject({ message: 'GET /cut: reading the response failed: aborted', status: 0, reason: 'NetworkError' });
    expect(await failure('/garbled')).toMatchObject({ message: 'GET /garbled: the API server answered with invalid JSON', status: 200 });
  });

  it('quotes a proxy\'s page on one line, cut short, after the status', async () => {
    const e = await failure('/api/v1/namespaces');
    expect(e).toMatchObject({ status: 502, message: expect.stringMatching(/^HTTP 502: <html> <head><title>502 Bad Gateway<\/title><\/head> <body>x+…$/) });
    expect(e).toHaveProperty('message.length', 'HTTP 502: '.length + 200 + 1);
  });
});

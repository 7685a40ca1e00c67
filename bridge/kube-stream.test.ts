import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGone, isKubeError } from '../lib/k8s/errors.js';
import { kubeConfigAt, unansweredAddress } from '../lib/k8s/test-support.js';
import { kubeStream, type WatchEvent } from './kube-stream.js';

/** A stand-in API server: each test sets how the next watch request is answered. */
let respond: (req: IncomingMessage, res: ServerResponse) => void = (_, res) => res.end();
const requests: string[] = [];
const userAgents: (string | undefined)[] = [];
const server = createServer((req, res) => {
  requests.push(req.url ?? '');
  userAgents.push(req.headers['user-agent']);
  respond(req, res);
});
let stream: ReturnType<typeof kubeStream>;
let kc: KubeConfig;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  kc = new KubeConfig();
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'nobody' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'nobody' }],
    currentContext: 'fake',
  });
  stream = kubeStream(kc, () => Promise.reject(new Error('lists are not tested here')), { timeoutSeconds: 60, idleTimeoutMs: 500, random: () => 0, userAgent: 'mikrolb-bridge' });
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const line = (type: string, object: unknown): string => `${JSON.stringify({ type, object })}\n`;
const pool = (name: string, rv: string) => ({ kind: 'IPPool', metadata: { name, resourceVersion: rv } });

async function watch(signal = new AbortController().signal): Promise<{ events: WatchEvent[]; outcome: unknown }> {
  const events: WatchEvent[] = [];
  const outcome = await stream.watch('IPPool', '42', (e) => events.push(e), signal).then(() => 'ended', (e: unknown) => e);
  return { events, outcome };
}

describe('the watch stream', () => {
  it('asks for bookmarks from the given resourceVersion, and reads lines split across chunks', async () => {
    respond = (_, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const text = line('ADDED', pool('a', '43')) + line('BOOKMARK', { metadata: { resourceVersion: '44' } }) + line('DELETED', pool('a', '45'));
      res.write(text.slice(0, 30));
      setTimeout(() => res.end(text.slice(30)), 20);
    };
    const { events, outcome } = await watch();
    expect(outcome).toBe('ended');
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'BOOKMARK', 'DELETED']);
    expect(requests.at(-1)).toBe('/apis/mikrolb.de/v1alpha1/ippools?watch=1&resourceVersion=42&allowWatchBookmarks=true&timeoutSeconds=60');
    expect(userAgents.at(-1)).toBe('mikrolb-bridge');
  });

  it('turns an ERROR event with 410 into a Gone error', async () => {
    respond = (_, res) => {
      res.writeHead(200);
      res.write(line('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 42 (90)' }));
    };
    const { outcome } = await watch();
    expect(isGone(outcome)).toBe(true);
  });

  it('fails when the connection breaks mid-stream', async () => {
    respond = (_, res) => {
      res.writeHead(200);
      res.write(line('ADDED', pool('a', '43')));
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const { events, outcome } = await watch();
    expect(events).toHaveLength(1);
    expect(isKubeError(outcome) && outcome.status).toBe(0);
  });

  it('fails when the stream stays silent past the idle timeout', async () => {
    respond = (_, res) => res.writeHead(200).flushHeaders();
    const { outcome } = await watch();
    expect(isKubeError(outcome) && outcome.reason).toBe('Timeout');
  });

  it('reports an HTTP error with its status and message', async () => {
    respond = (_, res) => res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: 403, message: 'ippools is forbidden' }));
    const { outcome } = await watch();
    expect(isKubeError(outcome) && [outcome.status, outcome.message]).toEqual([403, 'watch: ippools is forbidden']);
  });

  it('ends quietly when aborted', async () => {
    respond = (_, res) => res.writeHead(200).flushHeaders();
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    expect((await watch(abort.signal)).outcome).toBe('ended');
  });
});

describe('a watch of an API server address that drops packets', () => {
  it('fails after the connect timeout, not after the idle timeout or the kernel\'s (~127 s)', async () => {
    const peer = await unansweredAddress();
    try {
      const dropping = kubeConfigAt(peer.port);
      const lists = () => Promise.reject(new Error('lists are not tested here'));
      const watching = kubeStream(dropping, lists, { idleTimeoutMs: 60_000, connectTimeoutMs: 500 })
        .watch('IPPool', '42', () => undefined, new AbortController().signal)
        .then(() => 'ended', (e: unknown) => e);
      const outcome = await Promise.race([watching, new Promise((resolve) => setTimeout(() => resolve('still connecting after 10 s'), 10_000))]);
      expect(outcome).toMatchObject({ message: 'watch: could not connect within 500 ms', status: 0, reason: 'Timeout' });
    } finally {
      await peer.close();
    }
  });

  it('a connected stream is held to the idle timeout, not the shorter connect timeout', async () => {
    const slow = kubeStream(kc, () => Promise.reject(new Error('lists are not tested here')), { idleTimeoutMs: 2_000, connectTimeoutMs: 200 });
    respond = (_, res) => {
      res.writeHead(200).flushHeaders();
      setTimeout(() => res.end(line('ADDED', pool('a', '43'))), 600);
    };
    const events: WatchEvent[] = [];
    const outcome = await slow.watch('IPPool', '42', (e) => events.push(e), new AbortController().signal).then(() => 'ended', (e: unknown) => e);
    expect(outcome).toBe('ended');
    expect(events.map((e) => e.type)).toEqual(['ADDED']);
  });
});

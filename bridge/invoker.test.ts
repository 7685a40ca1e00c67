import { createServer } from 'node:http';
import { Hono } from 'hono';
import { afterAll, describe, expect, it } from 'vitest';
import { objectInvocation, parseCloudEvent, resyncInvocation } from '../lib/events/cloudevent.js';
import type { FunctionHandler, Invocation } from '../lib/events/invocation.js';
import { blocked, done, failed, retryLater, type Outcome } from '../lib/events/outcome.js';
import { createFunctionApp } from '../lib/http/function-app.js';
import { memoryLogger } from '../lib/log/logger.js';
import { serveApp } from '../lib/http/serve.js';
import { appDispatch, handlerDispatch, httpDispatch, nodePost } from './invoker.js';

const web = { kind: 'Service', namespace: 'shop', name: 'web' } as const;

function recordingApp(answer: (invocation: Invocation) => Response) {
  const received: Invocation[] = [];
  const app = new Hono();
  app.post('/', async (c) => {
    const parsed = parseCloudEvent({ headers: c.req.header(), body: await c.req.text() });
    if (!parsed.ok) return c.json({ error: parsed.message }, 400);
    received.push(parsed.invocation);
    return answer(parsed.invocation);
  });
  return { app, received };
}

describe('dispatch', () => {
  const { app, received } = recordingApp((inv) =>
    inv.type === 'resync' ? new Response('{"error":"busy"}', { status: 503, headers: { 'retry-after': '12' } }) : Response.json({ ok: true }),
  );
  const served = serveApp(app, { port: 0, hostname: '127.0.0.1' });
  afterAll(async () => (await served).close());

  it('POSTs a binary-mode CloudEvent the functions parse back to the same invocation', async () => {
    const dispatch = httpDispatch(`http://127.0.0.1:${(await served).port}/`);
    const invocation = objectInvocation('update', web);
    expect(await dispatch(invocation, new AbortController().signal)).toEqual({ status: 200 });
    expect(received.at(-1)).toEqual(invocation);
  });

  it('reports the status, Retry-After and the start of the body of a failure', async () => {
    const dispatch = httpDispatch(`http://127.0.0.1:${(await served).port}/`);
    expect(await dispatch(resyncInvocation(), new AbortController().signal)).toEqual({ status: 503, retryAfterSeconds: 12, detail: '{"error":"busy"}' });
  });

  it('fails (to be retried) when nobody listens or nobody answers in time', async () => {
    await expect(httpDispatch('http://127.0.0.1:9/')(resyncInvocation(), new AbortController().signal)).rejects.toThrow();
    const slow = new Hono().post('/', () => new Promise<Response>(() => undefined));
    const server = await serveApp(slow, { port: 0, hostname: '127.0.0.1' });
    await expect(httpDispatch(`http://127.0.0.1:${server.port}/`, { timeoutMs: 100 })(resyncInvocation(), new AbortController().signal)).rejects.toThrow();
    void server.close();
  });

  it('calls an app in process through the same envelope', async () => {
    const local = recordingApp(() => Response.json({}, { status: 202 }));
    const invocation = objectInvocation('delete', web);
    expect(await appDispatch(local.app)(invocation, new AbortController().signal)).toEqual({ status: 202 });
    expect(local.received).toEqual([invocation]);
  });

  it('sends the current token as a bearer token, read per invocation (so a rotated one is used next time)', async () => {
    const sent: (string | null)[] = [];
    const fetchFn = (_: string | URL | Request, init?: RequestInit): Promise<Response> => {
      sent.push(new Headers(init?.headers).get('authorization'));
      return Promise.resolve(Response.json({}));
    };
    const tokens = ['first', 'second', undefined];
    const dispatch = httpDispatch('http://function/', { fetch: fetchFn, token: () => Promise.resolve(tokens.shift()) });
    for (let i = 0; i < 3; i++) await dispatch(resyncInvocation(), new AbortController().signal);
    expect(sent).toEqual(['Bearer first', 'Bearer second', null]);
  });

  it('keeps the connection to a function open between invocations, and gives up on one when its signal aborts', async () => {
    let connections = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => (req.url === '/hang' ? undefined : res.writeHead(200, { 'retry-after': '3' }).end('later')));
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    try {
      const post = nodePost(false);
      const signal = new AbortController().signal;
      for (let i = 0; i < 3; i++) expect(await post(`${base}/`, { 'content-type': 'application/json' }, '{}', signal)).toEqual({ status: 200, retryAfter: '3', text: 'later' });
      expect(connections).toBe(1);
      const abort = new AbortController();
      const hanging = post(`${base}/hang`, {}, '', abort.signal);
      abort.abort();
      await expect(hanging).rejects.toThrow();
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('a handler dispatched in process', () => {
  // each outcome a function can end with, and a handler that throws
  const outcomes: [string, () => Promise<Outcome>][] = [
    ['done', async () => done({ actions: ['x'] })],
    ['blocked', async () => blocked('AddressesInUse', 'pool waits')],
    ['retry with a delay', async () => retryLater('Unavailable', 'router down', 7.2)],
    ['retry without one', async () => retryLater('Conflict', 'lost the race')],
    ['failed', async () => failed('bad state')],
    ['thrown', async () => {
      throw new Error('boom');
    }],
  ];

  it.each(outcomes)('%s: answered and logged exactly as through the function’s HTTP app', async (_, run) => {
    const handler: FunctionHandler = () => run();
    const invocation = objectInvocation('update', web);
    const viaApp = memoryLogger();
    const direct = memoryLogger();
    const expected = await appDispatch(createFunctionApp('program', handler, { log: viaApp }))(invocation, new AbortController().signal);
    expect(await handlerDispatch('program', handler, direct)(invocation, new AbortController().signal)).toEqual(expected);
    const line = (l: typeof direct) => l.entries.map((e) => ({ ...e, fields: { ...e.fields, durationMs: 0 } }));
    expect(line(direct)).toEqual(line(viaApp));
    expect(direct.entries).toHaveLength(1);
  });
});

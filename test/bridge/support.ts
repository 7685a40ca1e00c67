import type { KubeConfig } from '@kubernetes/client-node';
import { Hono } from 'hono';
import { parseCloudEvent } from '../../lib/events/cloudevent.js';
import { objectKey } from '../../lib/events/identity.js';
import type { Invocation } from '../../lib/events/invocation.js';
import { serveApp } from '../../lib/http/serve.js';
import { resourcePath, RESOURCES, type Kind } from '../../lib/k8s/resources.js';
import type { Transport } from '../../lib/k8s/rest.js';
import { silentLogger, type Logger } from '../../lib/log/logger.js';
import { startBridge, type BridgeHandle } from '../../bridge/bridge.js';
import type { BridgeConfigInput } from '../../bridge/config.js';
import { FUNCTION_NAMES, type FunctionName } from '../../bridge/routing.js';

export interface Received {
  fn: FunctionName;
  invocation: Invocation;
  /** The CloudEvent type header as sent. */
  type: string;
  at: number;
}

/** What a fake function answers; a plain status, or one with Retry-After. */
export type Answer = number | { status: number; retryAfter?: number; delayMs?: number };
export type Answerer = (fn: FunctionName, invocation: Invocation, received: readonly Received[]) => Answer;

/** One line per received event: `program update Service/ns/web`, `allocate resync`. */
export const describeReceived = (r: Received): string =>
  r.invocation.type === 'resync' ? `${r.fn} resync` : `${r.fn} ${r.invocation.change} ${objectKey(r.invocation.ref)}`;

/** Fake allocate/program/release functions on loopback that record the CloudEvents they receive. */
export async function fakeFunctions(answer: Answerer = () => 200) {
  const received: Received[] = [];
  const rejected: string[] = [];
  const app = new Hono();
  app.post('/:fn', async (c) => {
    const fn = FUNCTION_NAMES.find((name) => name === c.req.param('fn'));
    const parsed = parseCloudEvent({ headers: c.req.header(), body: await c.req.text() });
    if (!fn || !parsed.ok) {
      rejected.push(parsed.ok ? `unknown function ${c.req.param('fn')}` : parsed.message);
      return c.json({ error: 'malformed' }, 400);
    }
    received.push({ fn, invocation: parsed.invocation, type: c.req.header('ce-type') ?? '', at: Date.now() });
    const a = answer(fn, parsed.invocation, received);
    const { status, retryAfter, delayMs } = typeof a === 'number' ? { status: a, retryAfter: undefined, delayMs: undefined } : a;
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
    return new Response(JSON.stringify({ function: fn }), { status, headers });
  });
  const served = await serveApp(app, { port: 0, hostname: '127.0.0.1' });
  const base = `http://127.0.0.1:${served.port}`;
  const urls = { allocate: `${base}/allocate`, program: `${base}/program`, release: `${base}/release` };
  return {
    urls,
    received,
    rejected,
    /** Received events about objects whose key contains `needle`, described. */
    about: (needle: string): string[] => received.filter((r) => describeReceived(r).includes(needle)).map(describeReceived),
    close: () => served.close(),
  };
}

/** A bridge on loopback with short timings for tests. */
export function testBridge(kc: KubeConfig, transport: Transport, config: BridgeConfigInput, log: Logger = silentLogger()): Promise<BridgeHandle> {
  return startBridge(
    { port: 0, hostname: '127.0.0.1', resyncIntervalMs: 3_600_000, retry: { baseMs: 200, maxMs: 5_000 }, lease: { enabled: false }, ...config },
    { kc, transport, log },
  );
}

/** Small object writers over the REST transport. */
export function kubeWriter(transport: Transport) {
  const path = (kind: Kind, namespace?: string, name?: string) => resourcePath(RESOURCES[kind], namespace, name);
  return {
    create: (kind: Kind, obj: { metadata: { name: string; namespace?: string } } & Record<string, unknown>) =>
      transport({ method: 'POST', path: path(kind, obj.metadata.namespace), body: obj }),
    patch: (kind: Kind, name: string, namespace: string | undefined, body: Record<string, unknown>) =>
      transport({ method: 'PATCH', path: path(kind, namespace, name), body, contentType: 'application/merge-patch+json' }),
    remove: (kind: Kind, name: string, namespace?: string) => transport({ method: 'DELETE', path: path(kind, namespace, name) }),
    namespace: (name: string) => transport({ method: 'POST', path: path('Namespace'), body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } }),
  };
}

export const lbService = (namespace: string, name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace },
  spec: {
    type: 'LoadBalancer',
    // Few cluster IPs and node ports exist in the test cluster: use IPv6 and no node ports.
    ipFamilies: ['IPv6'],
    ipFamilyPolicy: 'SingleStack',
    allocateLoadBalancerNodePorts: false,
    ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
    ...extra,
  },
});

export const endpointSlice = (namespace: string, name: string, service: string) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name, namespace, labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['10.244.1.7'], conditions: { ready: true } }],
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
});

/** Runs `task` over `items` with at most `limit` in flight. */
export async function inParallel<T>(items: readonly T[], limit: number, task: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A sample from Prometheus text: `name{labels} value`. */
export function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

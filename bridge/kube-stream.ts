import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { ClusterAccess } from '../lib/k8s/access.js';
import * as z from 'zod';
import type { ObjectKind } from '../lib/events/invocation.js';
import { KubeError } from '../lib/k8s/errors.js';
import { RESOURCES, resourcePath } from '../lib/k8s/resources.js';
import { DEFAULT_USER_AGENT, type Transport } from '../lib/k8s/rest.js';

export interface ListPage {
  items: unknown[];
  resourceVersion: string;
  continue: string | undefined;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
  object: unknown;
}

/** The two reads a watch source needs; faked in unit tests. */
export interface KubeStream {
  list(kind: ObjectKind, page: { limit: number; continue?: string }): Promise<ListPage>;
  /**
   * Streams changes after `resourceVersion`. Resolves when the server ends the stream cleanly
   * (its timeout) or `signal` aborts; rejects with a KubeError when it fails or breaks (an
   * ERROR event with `410` becomes a KubeError with status 410).
   */
  watch(kind: ObjectKind, resourceVersion: string, onEvent: (event: WatchEvent) => void, signal: AbortSignal): Promise<void>;
}

export interface KubeStreamOptions {
  /** Asks the server to end each watch after this long (jittered up to twice that). */
  timeoutSeconds?: number;
  /** A stream silent for this long (no event, no bookmark) is taken as broken. */
  idleTimeoutMs?: number;
  /** A watch not connected (TCP) after this long fails, so the source re-lists (default 30 s). */
  connectTimeoutMs?: number;
  random?: () => number;
  /** The watches' User-Agent (the lists go through the transport, with its own). */
  userAgent?: string;
}

const ListSchema = z.object({
  metadata: z.object({ resourceVersion: z.string(), continue: z.string().optional() }),
  items: z.array(z.unknown()).nullable().transform((items) => items ?? []),
});

const LineSchema = z.object({ type: z.enum(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']), object: z.unknown() });
const StatusSchema = z.object({ code: z.number().optional(), reason: z.string().optional(), message: z.string().optional() });

export function kubeStream(kc: ClusterAccess, transport: Transport, opts: KubeStreamOptions = {}): KubeStream {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig names no current cluster');
  const base = new URL(cluster.server);
  const timeoutSeconds = opts.timeoutSeconds ?? 300;
  const idleTimeoutMs = opts.idleTimeoutMs ?? 300_000;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 30_000;
  const random = opts.random ?? Math.random;

  return {
    async list(kind, page) {
      const query = { limit: String(page.limit), continue: page.continue };
      const parsed = ListSchema.parse(await transport({ method: 'GET', path: resourcePath(RESOURCES[kind]), query }));
      return { items: parsed.items, resourceVersion: parsed.metadata.resourceVersion, continue: parsed.metadata.continue || undefined };
    },
    async watch(kind, resourceVersion, onEvent, signal) {
      const query = new URLSearchParams({
        watch: '1',
        resourceVersion,
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(Math.round(timeoutSeconds * (1 + random()))),
      });
      const options: RequestOptions = {
        method: 'GET',
        hostname: base.hostname,
        port: base.port,
        path: `${base.pathname.replace(/\/$/, '')}${resourcePath(RESOURCES[kind])}?${query}`,
        headers: { accept: 'application/json', 'user-agent': opts.userAgent ?? DEFAULT_USER_AGENT },
        agent: false,
      };
      await kc.applyToHTTPSOptions(options);
      return stream(base.protocol === 'https:', options, { onEvent, signal, idleTimeoutMs, connectTimeoutMs });
    },
  };
}

interface StreamArgs {
  onEvent: (event: WatchEvent) => void;
  signal: AbortSignal;
  idleTimeoutMs: number;
  connectTimeoutMs: number;
}

function stream(secure: boolean, options: RequestOptions, args: StreamArgs): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (error?: Error): void => {
      if (settled) return;
      settled = true;
      args.signal.removeEventListener('abort', onAbort);
      req.destroy();
      if (error && !args.signal.aborted) reject(error);
      else resolve();
    };
    const onAbort = (): void => settle();
    // `timeout` holds from the start, connecting included; once connected, setTimeout below
    // replaces it with the idle timeout
    const req = (secure ? httpsRequest : httpRequest)({ ...options, timeout: args.connectTimeoutMs }, (res) => {
      if (res.statusCode !== 200) {
        void failure(res).then(settle, (e: unknown) => settle(new KubeError(`watch: ${String(e)}`, res.statusCode ?? 0, '')));
        return;
      }
      readLines(res, (line) => {
        const event = parseLine(line);
        if (event instanceof KubeError) settle(event);
        else if (event) args.onEvent(event);
      });
      res.on('close', () => settle(res.complete ? undefined : new KubeError('the watch stream broke', 0, 'NetworkError')));
    });
    req.setTimeout(args.idleTimeoutMs, () => settle(req.socket?.connecting === false
      ? new KubeError(`the watch was silent for ${args.idleTimeoutMs} ms`, 0, 'Timeout')
      : new KubeError(`watch: could not connect within ${args.connectTimeoutMs} ms`, 0, 'Timeout')));
    req.on('error', (e) => settle(new KubeError(`watch: ${e.message}`, 0, 'NetworkError')));
    if (args.signal.aborted) return settle();
    args.signal.addEventListener('abort', onAbort, { once: true });
    req.end();
  });
}

function readLines(res: IncomingMessage, onLine: (line: string) => void): void {
  let buffered = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) onLine(line);
      newline = buffered.indexOf('\n');
    }
  });
}

/** A watch line; an ERROR event or an unreadable line becomes the KubeError that ends the stream. */
function parseLine(line: string): WatchEvent | KubeError | undefined {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return new KubeError('the watch sent a line that is not JSON', 0, 'InvalidResponse');
  }
  const parsed = LineSchema.safeParse(json);
  if (!parsed.success) return new KubeError('the watch sent an unknown event', 0, 'InvalidResponse');
  const { type, object } = parsed.data;
  if (type !== 'ERROR') return { type, object };
  const status = StatusSchema.safeParse(object);
  const s = status.success ? status.data : {};
  return new KubeError(s.message ?? 'the watch failed', s.code ?? 500, s.reason ?? '');
}

async function failure(res: IncomingMessage): Promise<KubeError> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  const text = Buffer.concat(chunks).toString('utf8');
  let message = text.slice(0, 300) || `HTTP ${res.statusCode ?? 0}`;
  try {
    const status = StatusSchema.safeParse(JSON.parse(text));
    if (status.success && status.data.message) message = status.data.message;
  } catch {
    // not JSON: keep the text
  }
  return new KubeError(`watch: ${message}`, res.statusCode ?? 0, '');
}

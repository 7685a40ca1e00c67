import { Agent, request, type RequestOptions } from 'node:https';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { createSecureContext } from 'node:tls';
import type { ClusterAccess } from './access.js';
import * as z from 'zod';
import { KubeError } from './errors.js';

export interface RestRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
  /** This request's User-Agent, over the transport's own (see withUserAgent). */
  userAgent?: string;
}

/** One JSON request to the API server; errors leave as KubeError. */
export type Transport = (req: RestRequest) => Promise<unknown>;

const StatusSchema = z.object({ kind: z.literal('Status'), message: z.string().optional(), reason: z.string().optional() }).loose();

/** How much of an answer that is no Kubernetes Status (a proxy's HTML page, say) an error quotes. */
const FOREIGN_BODY_CHARS = 200;

function toError(status: number, text: string, retryAfter: string | undefined): KubeError {
  // whitespace collapsed: a page's layout would spread one log line over many
  const quoted = text.replace(/\s+/g, ' ').trim();
  let message = quoted === '' ? `HTTP ${status}` : `HTTP ${status}: ${quoted.length > FOREIGN_BODY_CHARS ? `${quoted.slice(0, FOREIGN_BODY_CHARS)}…` : quoted}`;
  let reason = '';
  try {
    const parsed = StatusSchema.safeParse(JSON.parse(text));
    if (parsed.success) {
      message = parsed.data.message ?? message;
      reason = parsed.data.reason ?? '';
    }
  } catch {
    // not JSON: keep the raw text
  }
  const seconds = retryAfter !== undefined ? Number(retryAfter) : undefined;
  return new KubeError(message, status, reason, Number.isFinite(seconds) ? seconds : undefined);
}

function withQuery(path: string, query: RestRequest['query']): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, v);
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** The User-Agent of requests that name no component. */
export const DEFAULT_USER_AGENT = 'mikrolb';

/**
 * The User-Agent a MikroLB component sends with its API requests (`mikrolb-allocate`,
 * `mikrolb-bridge`, …): the API server's audit and request logs name it, so a request can be
 * traced to the function that sent it, also when all of them run in one process.
 */
export const userAgentOf = (component: string): string => `${DEFAULT_USER_AGENT}-${component}`;

/** `transport`, its requests sent with `userAgent` (the same connections). */
export const withUserAgent = (transport: Transport, userAgent: string): Transport =>
  (req) => transport({ ...req, userAgent });

/**
 * The connections' agent, holding the TLS material the credentials name as one secure context:
 * a request then carries none of it, so the agent neither parses the CA again per connection
 * nor folds the PEMs into each request's connection-pool key (Node's https agent names a pool
 * by every TLS option a request carries: kilobytes of text built and hashed per request).
 */
function tlsAgent(creds: RequestOptions, agentOpts: { keepAlive: boolean; maxSockets: number }): Agent {
  const { ca, cert, key, rejectUnauthorized, servername } = creds;
  return new Agent({
    ...agentOpts, secureContext: createSecureContext({ ca, cert, key }),
    ...(rejectUnauthorized !== undefined ? { rejectUnauthorized } : {}), ...(servername !== undefined ? { servername } : {}),
  });
}

/**
 * A keep-alive JSON transport for the cluster `kc` reaches (its credentials applied to each
 * request: see access.ts), its requests sent with `userAgent` unless one names its own.
 */
export function kubeTransport(kc: ClusterAccess, opts: { maxSockets?: number; userAgent?: string } = {}): Transport {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig names no current cluster');
  const base = new URL(cluster.server);
  const secure = base.protocol === 'https:';
  const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets ?? 32 };
  let agent: Agent | HttpAgent | undefined;
  const send = request;
  return async (req) => {
    // the credentials (a token is read again now and then): the agent keeps their TLS part, the request their headers
    const creds: RequestOptions = {};
    await kc.applyToHTTPSOptions(creds);
    agent ??= secure ? tlsAgent(creds, agentOpts) : new HttpAgent(agentOpts);
    const options: RequestOptions = {
      method: req.method,
      hostname: base.hostname,
      port: base.port,
      path: `${base.pathname.replace(/\/$/, '')}${withQuery(req.path, req.query)}`,
      headers: { accept: 'application/json', 'user-agent': req.userAgent ?? opts.userAgent ?? DEFAULT_USER_AGENT, ...creds.headers },
      agent,
      // bounds connecting too (req.setTimeout below starts only once the socket is connected):
      // an address that drops packets would otherwise hold the request for the kernel's ~127 s
      timeout: req.timeoutMs ?? 30_000,
    };
    const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
    if (payload !== undefined) {
      options.headers = { ...options.headers, 'content-type': req.contentType ?? 'application/json', 'content-length': Buffer.byteLength(payload) };
    }
    return new Promise<unknown>((resolve, reject) => {
      const r = (secure ? send : httpRequest)(options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(new KubeError(`${req.method} ${req.path}: reading the response failed: ${e.message}`, 0, 'NetworkError')));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            try {
              resolve(text ? JSON.parse(text) : undefined);
            } catch {
              reject(new KubeError(`${req.method} ${req.path}: the API server answered with invalid JSON`, status, 'InvalidResponse'));
            }
          } else {
            const ra = res.headers['retry-after'];
            reject(toError(status, text, Array.isArray(ra) ? ra[0] : ra));
          }
        });
      });
      r.setTimeout(req.timeoutMs ?? 30_000, () => r.destroy(new Error(`no answer within ${req.timeoutMs ?? 30_000} ms`)));
      r.on('error', (e) => reject(new KubeError(`${req.method} ${req.path}: ${e.message}`, 0, 'NetworkError')));
      r.end(payload);
    });
  };
}

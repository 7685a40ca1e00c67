import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';

export interface FetchApp {
  fetch: (request: Request) => Response | Promise<Response>;
}

export interface ServeOptions {
  /** 0 picks a free port; the answer says which. */
  port: number;
  hostname?: string;
}

export interface ServedApp {
  port: number;
  close(): Promise<void>;
}

/**
 * What one client may hold of a server, for every server MikroLB runs (a function, the bridge's
 * probes and metrics, the IPPool webhook). Each connection that has not sent a whole request costs
 * ~45 KiB (TLS more); Node keeps one whose headers never end for 60 s (and one that never
 * completes its TLS handshake for 120 s), so a few thousand of them a minute, from anything that
 * can reach the port, grew the controller to its memory limit. Every legitimate client (the API
 * server calling the webhook, the kubelet's probes, Prometheus, the bridge, Knative's
 * queue-proxy) sends a request's headers at once and its body right after, and holds a few
 * connections, not hundreds: these limits cost them nothing. Past `maxConnections` a new
 * connection is closed at once, which bounds memory (~45 MiB) when timeouts alone would not (a
 * client opening connections faster than they expire); while one floods a port, the API server
 * may find it full and retry, rather than the process running out of memory.
 */
export const CONNECTION_LIMITS = {
  /** The request line and every header must arrive within this (Node: 60 s). */
  headersTimeoutMs: 10_000,
  /** The whole request, body included (≤ 3 MiB), within this; the answer may take longer (Node: 300 s). */
  requestTimeoutMs: 30_000,
  /** How often the two timeouts above are checked (Node: 30 s, which would stretch them by as much). */
  checkIntervalMs: 1_000,
  /** A TLS client must finish its handshake within this (Node: 120 s). */
  handshakeTimeoutMs: 10_000,
  /** Connections open at once, per server (Node: unlimited). */
  maxConnections: 1_000,
} as const;

/** The options of Node's HTTP (and HTTPS) server that carry CONNECTION_LIMITS. */
export const limitedServerOptions = () => ({
  headersTimeout: CONNECTION_LIMITS.headersTimeoutMs,
  requestTimeout: CONNECTION_LIMITS.requestTimeoutMs,
  connectionsCheckingInterval: CONNECTION_LIMITS.checkIntervalMs,
});

/** The limit of CONNECTION_LIMITS that is set on a server rather than passed when it is made. */
export function limitConnections(server: { maxConnections: number }): void {
  server.maxConnections = CONNECTION_LIMITS.maxConnections;
}

/** Listens with Node's HTTP server; resolves once listening, rejects if the port is taken. */
export function serveApp(app: FetchApp, opts: ServeOptions): Promise<ServedApp> {
  const server = createAdaptorServer({ fetch: (request) => app.fetch(request), serverOptions: limitedServerOptions() });
  limitConnections(server);
  const close = closing(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const onListening = () => {
      server.off('error', reject);
      const address = server.address();
      resolve({ port: isAddressInfo(address) ? address.port : opts.port, close });
    };
    if (opts.hostname === undefined) server.listen(opts.port, onListening);
    else server.listen(opts.port, opts.hostname, onListening);
  });
}

type NodeServer = ReturnType<typeof createAdaptorServer>;

/** How long a close waits for the requests in flight before it closes their connections. */
const CLOSE_GRACE_MS = 10_000;

/**
 * The server's close, to be made before it serves anything: it stops listening and resolves once
 * every connection is gone. The requests in flight are answered first (for at most `graceMs`);
 * then every connection is closed. Node's `closeIdleConnections` alone is not enough: it leaves
 * a connection whose client has begun a request it has not finished sending, or (seen with
 * kube-apiserver's keep-alive connections to the webhook) one it never counts as idle, and
 * such a connection held close() open until the client gave it up — 90 s for Go's clients.
 */
export function closing(server: NodeServer, graceMs = CLOSE_GRACE_MS): () => Promise<void> {
  let inFlight = 0;
  let closed = false;
  const closeAll = (): void => {
    if ('closeAllConnections' in server) server.closeAllConnections();
  };
  server.on('request', (_req, res) => {
    inFlight++;
    res.once('close', () => {
      inFlight--;
      if (closed && inFlight === 0) closeAll();
    });
  });
  return () => new Promise((resolve, reject) => {
    closed = true;
    const deadline = setTimeout(closeAll, graceMs);
    server.close((err) => {
      clearTimeout(deadline);
      if (err) reject(err);
      else resolve();
    });
    if (inFlight === 0) closeAll();
  });
}

const isAddressInfo = (address: string | AddressInfo | null): address is AddressInfo =>
  typeof address === 'object' && address !== null;

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

/** Listens with Node's HTTP server; resolves once listening, rejects if the port is taken. */
export function serveApp(app: FetchApp, opts: ServeOptions): Promise<ServedApp> {
  const server = createAdaptorServer({ fetch: (request) => app.fetch(request) });
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

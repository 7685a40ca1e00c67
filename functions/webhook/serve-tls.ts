/**
 * Serves a fetch app over HTTPS (the API server calls admission webhooks over TLS only).
 */
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';

export interface TlsServeOptions {
  /** PEM text of the serving certificate (chain) and its key. */
  cert: string;
  key: string;
  /** 0 picks a free port; the answer says which. */
  port: number;
  hostname?: string;
}

export interface ServedTls {
  port: number;
  close(): Promise<void>;
}

export interface FetchApp {
  fetch: (request: Request) => Response | Promise<Response>;
}

/** Resolves once listening; rejects if the port is taken or the certificate is unusable. */
export async function serveTls(app: FetchApp, opts: TlsServeOptions): Promise<ServedTls> {
  const server = createAdaptorServer({
    fetch: (request) => app.fetch(request),
    createServer,
    serverOptions: { cert: opts.cert, key: opts.key },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const onListening = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (opts.hostname === undefined) server.listen(opts.port, onListening);
    else server.listen(opts.port, opts.hostname, onListening);
  });
  const address = server.address();
  return {
    port: isAddressInfo(address) ? address.port : opts.port,
    close: () => new Promise((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      // The API server keeps connections alive; idle ones would hold close() open until they time out.
      if ('closeIdleConnections' in server) server.closeIdleConnections();
    }),
  };
}

const isAddressInfo = (address: string | AddressInfo | null): address is AddressInfo =>
  typeof address === 'object' && address !== null;

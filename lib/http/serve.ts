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
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const onListening = () => {
      server.off('error', reject);
      const address = server.address();
      resolve({ port: isAddressInfo(address) ? address.port : opts.port, close: () => closeServer(server) });
    };
    if (opts.hostname === undefined) server.listen(opts.port, onListening);
    else server.listen(opts.port, opts.hostname, onListening);
  });
}

type NodeServer = ReturnType<typeof createAdaptorServer>;

function closeServer(server: NodeServer): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    // Idle keep-alive connections would otherwise hold close() open until they time out.
    if ('closeIdleConnections' in server) server.closeIdleConnections();
  });
}

const isAddressInfo = (address: string | AddressInfo | null): address is AddressInfo =>
  typeof address === 'object' && address !== null;

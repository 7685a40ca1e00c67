/**
 * Serves a fetch app over HTTPS (the API server calls admission webhooks over TLS only), with
 * the key pair re-read from its files when they change: cert-manager renews the certificate in
 * the mounted Secret and the server presents the new one on the next connection, no restart.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import { createAdaptorServer } from '@hono/node-server';
import { CONNECTION_LIMITS, closing, limitConnections, limitedServerOptions } from '../../lib/http/serve.js';
import type { Logger } from '../../lib/log/logger.js';
import { messageOf } from '../../lib/errors.js';

export interface TlsServeOptions {
  /** Files holding the PEM serving certificate (chain) and its key, e.g. a mounted Secret's tls.crt and tls.key. */
  certFile: string;
  keyFile: string;
  /** 0 picks a free port; the answer says which. */
  port: number;
  hostname?: string;
  /**
   * Besides watching the files' folder, the files are compared every this many milliseconds, for
   * volumes whose changes no watch reports; 60 s by default.
   */
  recheckMs?: number;
  /** Told after every attempt to load a changed key pair (a bad pair keeps the one in use). */
  onReload?: (outcome: ReloadOutcome) => void;
}

export type ReloadOutcome = { ok: true } | { ok: false; message: string };

export interface ServedTls {
  port: number;
  close(): Promise<void>;
}

export interface FetchApp {
  fetch: (request: Request) => Response | Promise<Response>;
}

interface KeyPair {
  cert: string;
  key: string;
}

const DEFAULT_RECHECK_MS = 60_000;

/** Resolves once listening; rejects if the port is taken or the files hold no usable key pair. */
export async function serveTls(app: FetchApp, opts: TlsServeOptions): Promise<ServedTls> {
  let current = await readPair(opts);
  const server = createAdaptorServer({
    fetch: (request) => app.fetch(request),
    createServer,
    serverOptions: { ...current, ...limitedServerOptions(), handshakeTimeout: CONNECTION_LIMITS.handshakeTimeoutMs },
  });
  limitConnections(server);
  const closeServer = closing(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const onListening = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (opts.hostname === undefined) server.listen(opts.port, onListening);
    else server.listen(opts.port, opts.hostname, onListening);
  });

  // One reload at a time; a change seen meanwhile runs one more after it.
  let running: Promise<void> | undefined;
  let again = false;
  const reload = async (): Promise<void> => {
    let next: KeyPair;
    try {
      next = await readPair(opts);
      if (next.cert === current.cert && next.key === current.key) return;
      // Validates the pair: a certificate written before its key does not match it yet.
      createSecureContext(next);
    } catch (err) {
      opts.onReload?.({ ok: false, message: messageOf(err) });
      return;
    }
    if ('setSecureContext' in server) server.setSecureContext(next);
    current = next;
    opts.onReload?.({ ok: true });
  };
  const check = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = reload().finally(() => {
      running = undefined;
      if (again) {
        again = false;
        check();
      }
    });
  };

  // A mounted Secret changes by swapping a symlink in its folder, which a watch on the file
  // itself would not see: watch the folders.
  const watchers: FSWatcher[] = [];
  for (const dir of new Set([dirname(opts.certFile), dirname(opts.keyFile)])) {
    try {
      const watcher = watch(dir, { persistent: false }, check);
      watcher.on('error', () => watcher.close()); // the periodic check still runs
      watchers.push(watcher);
    } catch {
      // Not watchable here: the periodic check alone.
    }
  }
  const timer = setInterval(check, opts.recheckMs ?? DEFAULT_RECHECK_MS);
  timer.unref();

  const address = server.address();
  return {
    port: isAddressInfo(address) ? address.port : opts.port,
    close: async () => {
      clearInterval(timer);
      for (const w of watchers) w.close();
      await closeServer();
      await running;
    },
  };
}

/** Logs each reload: Normal news when the new pair is served, a warning when a changed pair is unusable. */
export function certificateReloaded(log: Logger, certDir: string): (outcome: ReloadOutcome) => void {
  return (outcome) => {
    if (outcome.ok) log.info('Serving the renewed webhook certificate', { certDir });
    else log.warn('Webhook certificate not reloaded; the previous one is still served', { certDir, error: outcome.message });
  };
}

async function readPair(opts: TlsServeOptions): Promise<KeyPair> {
  const [cert, key] = await Promise.all([readFile(opts.certFile, 'utf8'), readFile(opts.keyFile, 'utf8')]);
  return { cert, key };
}

const isAddressInfo = (address: string | AddressInfo | null): address is AddressInfo =>
  typeof address === 'object' && address !== null;

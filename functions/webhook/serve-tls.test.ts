import { X509Certificate } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect } from 'node:tls';
import { CONNECTION_LIMITS } from '../../lib/http/serve.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, type TestPki } from '../../lib/routeros/client/test-support.js';
import { createWebhookApp, VALIDATE_PATH } from './app.js';
import { serveTls, type ReloadOutcome, type ServedTls } from './serve-tls.js';

let pki: TestPki;
const dirs: string[] = [];
const servers: ServedTls[] = [];
beforeAll(async () => {
  pki = await createTestPki();
}, 30_000);
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const app = createWebhookApp({ listPools: () => Promise.resolve([]) });

async function certDir(pair: { cert: string; key: string }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mikrolb-webhook-certs-'));
  dirs.push(dir);
  await Promise.all([writeFile(join(dir, 'tls.crt'), pair.cert), writeFile(join(dir, 'tls.key'), pair.key)]);
  return dir;
}

/** The SHA-256 fingerprint of the certificate a new TLS connection is shown. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

const fingerprintOf = (pem: string): string => new X509Certificate(pem).fingerprint256;

describe('serveTls', () => {
  it('serves a renewed key pair on new connections once its files change, without a restart', async () => {
    const dir = await certDir(pki.server);
    const outcomes: ReloadOutcome[] = [];
    let reloaded: () => void = () => undefined;
    const served = new Promise<void>((resolve) => (reloaded = resolve));
    const server = await serveTls(app, {
      certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), port: 0, hostname: '127.0.0.1',
      onReload: (outcome) => {
        outcomes.push(outcome);
        if (outcome.ok) reloaded();
      },
    });
    servers.push(server);
    expect(await servedFingerprint(server.port)).toBe(fingerprintOf(pki.server.cert));

    // Like the kubelet's atomic writer: the new pair appears at once (renamed into place).
    await Promise.all([writeFile(join(dir, 'tls.crt.new'), pki.wrongName.cert), writeFile(join(dir, 'tls.key.new'), pki.wrongName.key)]);
    await rename(join(dir, 'tls.key.new'), join(dir, 'tls.key'));
    await rename(join(dir, 'tls.crt.new'), join(dir, 'tls.crt'));
    await served;

    expect(await servedFingerprint(server.port)).toBe(fingerprintOf(pki.wrongName.cert));
    expect(fingerprintOf(pki.wrongName.cert)).not.toBe(fingerprintOf(pki.server.cert));
    // One renewal, taken once (a check between the two renames may have refused a half-renewed pair).
    expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
  });

  it('keeps serving the previous pair when the changed files do not form one', async () => {
    const dir = await certDir(pki.server);
    let refused: (message: string) => void = () => undefined;
    const refusal = new Promise<string>((resolve) => (refused = resolve));
    const server = await serveTls(app, {
      certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), port: 0, hostname: '127.0.0.1',
      onReload: (outcome) => {
        if (!outcome.ok) refused(outcome.message);
      },
    });
    servers.push(server);
    // A new certificate, renamed into place, while the old key stays: they do not match.
    await writeFile(join(dir, 'tls.crt.new'), pki.wrongName.cert);
    await rename(join(dir, 'tls.crt.new'), join(dir, 'tls.crt'));
    expect(await refusal).toMatch(/mismatch/i);
    expect(await servedFingerprint(server.port)).toBe(fingerprintOf(pki.server.cert));
  });

  it('refuses a chunked body over the limit with 413 and closes the connection without reading the rest', async () => {
    const dir = await certDir(pki.server);
    const server = await serveTls(app, { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), port: 0, hostname: '127.0.0.1' });
    servers.push(server);
    const outcome = await sendChunked(server.port, 256 * 1024 * 1024);
    expect(outcome.status).toBe(413);
    expect(outcome.closed).toBe(true);
    // The answer came, and the connection was closed, long before the 256 MiB were sent: the
    // server read about its 3 MiB limit (plus what the sockets' buffers held) and stopped.
    expect(outcome.sentWhenAnswered).toBeLessThan(32 * 1024 * 1024);
    expect(outcome.sentWhenClosed).toBeLessThan(64 * 1024 * 1024);
  });
});

/** How long the server took to close `socket`, or Infinity when it had not after `withinMs`. */
function closedWithin(socket: Socket, withinMs: number): Promise<number> {
  const since = Date.now();
  socket.on('data', () => undefined); // read what comes, so the end is seen
  socket.on('error', () => undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(Infinity), withinMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - since);
    });
  });
}

describe('serveTls: what a client may hold', () => {
  // A previous audit: 5,000 such connections raised the controller's RSS from 103 to 245 MiB, and
  // Node kept each for 60 s (120 s before the handshake): ~13,000 would have reached the 512 MiB limit.
  it('closes within seconds a connection that never completes its TLS handshake, and one whose headers never end', { timeout: 40_000 }, async () => {
    const dir = await certDir(pki.server);
    const server = await serveTls(app, { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), port: 0, hostname: '127.0.0.1' });
    servers.push(server);
    const silent = connectTcp(server.port, '127.0.0.1'); // no ClientHello
    const partial = connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false }, () => {
      partial.write(`POST ${VALIDATE_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n`); // the headers never end
    });
    const slack = CONNECTION_LIMITS.checkIntervalMs + 3_000;
    const [handshake, headers] = await Promise.all([closedWithin(silent, 30_000), closedWithin(partial, 30_000)]);
    silent.destroy();
    partial.destroy();
    expect(handshake).toBeLessThanOrEqual(CONNECTION_LIMITS.handshakeTimeoutMs + slack);
    expect(headers).toBeLessThanOrEqual(CONNECTION_LIMITS.headersTimeoutMs + slack);
  });
});

interface ChunkedOutcome {
  status: number | undefined;
  closed: boolean;
  sentWhenAnswered: number;
  sentWhenClosed: number;
}

/**
 * POSTs `total` bytes of whitespace to the webhook in 64 KiB chunks (Transfer-Encoding: chunked,
 * no Content-Length), writing only as fast as the server reads, until it answers and the
 * connection ends or everything was sent.
 */
function sendChunked(port: number, total: number): Promise<ChunkedOutcome> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(64 * 1024, ' ');
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    let sent = 0;
    let response = '';
    let sentWhenAnswered = -1;
    let done = false;
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      socket.write(`POST ${VALIDATE_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
      pump();
    });
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1];
      resolve({ status: status === undefined ? undefined : Number(status), closed, sentWhenAnswered: sentWhenAnswered < 0 ? sent : sentWhenAnswered, sentWhenClosed: sent });
    };
    const pump = (): void => {
      while (!done && sent < total && !socket.destroyed) {
        sent += chunk.length;
        if (!socket.write(frame)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (sent >= total && !done) socket.end('0\r\n\r\n');
    };
    socket.on('data', (d: Buffer) => {
      if (sentWhenAnswered < 0) sentWhenAnswered = sent;
      response += d.toString('latin1');
    });
    // A reset while still sending is the server closing on us, as it should.
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? finish(true) : reject(err)));
    socket.on('close', () => finish(sent < total));
  });
}

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach } from 'vitest';
import type { RouterState } from '../../router/state.js';
import { startRouterSim, type RouterSim, type RouterSimOptions } from '../sim/index.js';
import { connectRouter, type RouterClient, type RouterClientConfig } from './client.js';

/** Tests only: simulators and clients that are closed after each test. */

export const USER = { name: 'api', password: 'pw' };
const opened: { sims: RouterSim[]; clients: RouterClient[] } = { sims: [], clients: [] };

afterEach(async () => {
  await Promise.all(opened.clients.splice(0).map((client) => client.close()));
  await Promise.all(opened.sims.splice(0).map((sim) => sim.close()));
});

export async function sim(options: RouterSimOptions = {}): Promise<RouterSim> {
  const started = await startRouterSim({ users: [USER, { name: 'reader', password: 'ro', group: 'read' }], ...options });
  opened.sims.push(started);
  return started;
}

/**
 * The client's deadline in these tests: far above what a loopback call takes even on a busy
 * machine, so only a fault the test injects ever reaches it.
 */
export const TEST_TIMEOUT_MS = 3_000;

export function client(target: RouterSim, config: Partial<RouterClientConfig> = {}): RouterClient {
  const created = connectRouter({ url: target.url, username: USER.name, password: USER.password, timeoutMs: TEST_TIMEOUT_MS, ...config });
  opened.clients.push(created);
  return created;
}

/** A router state with `count` entries in `/ip/firewall/address-list` (list `bulk`). */
export function bulkState(count: number, version = '7.19.1'): RouterState {
  const entries = Array.from({ length: count }, (_, i) => ({
    '.id': `*${(i + 1).toString(16).toUpperCase()}`,
    list: 'bulk',
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
  }));
  return { version, menus: { '/ip/firewall/address-list': entries } };
}

export const elapsedSince = (start: number): number => Math.round(performance.now() - start);

const run = promisify(execFile);

export interface TestPki {
  caCert: string;
  otherCaCert: string;
  /** Signed by `caCert` for IP 127.0.0.1. */
  server: { key: string; cert: string };
  /** Signed by `caCert`, but only for `router.invalid`. */
  wrongName: { key: string; cert: string };
}

/** Two throw-away EC CAs and server certificates, made with openssl (as test/cluster/pki.ts does). */
export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'mikrolb-client-pki-'));
  const openssl = async (...args: string[]): Promise<void> => {
    await run('openssl', args, { cwd: dir });
  };
  const key = (name: string): Promise<void> => openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
  const ca = async (name: string): Promise<void> => {
    await key(name);
    await openssl('req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-days', '2', '-sha256', '-out', `${name}.crt`);
  };
  const issue = async (name: string, san: string): Promise<void> => {
    await key(name);
    await openssl('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`);
    await writeFile(join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n`);
    await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
      '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  };
  try {
    await Promise.all([ca('ca'), ca('other-ca')]);
    await issue('server', 'IP:127.0.0.1');
    await issue('wrong-name', 'DNS:router.invalid');
    const text = (file: string): Promise<string> => readFile(join(dir, file), 'utf8');
    return {
      caCert: await text('ca.crt'),
      otherCaCert: await text('other-ca.crt'),
      server: { key: await text('server.key'), cert: await text('server.crt') },
      wrongName: { key: await text('wrong-name.key'), cert: await text('wrong-name.crt') },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

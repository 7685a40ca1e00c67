import { beforeAll, describe, expect, it } from 'vitest';
import { isAuth, isConnection, isRouterError, type RouterError } from '../../router/errors.js';
import { client, createTestPki, sim, type TestPki } from './test-support.js';

let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki();
}, 30_000);

/** A TLS failure, detected at once: of kind 'tls', never a timeout of the client's deadline. */
async function tlsFailure(promise: Promise<unknown>): Promise<RouterError> {
  const error: unknown = await promise.then(() => expect.fail('expected a TLS failure'), (reason: unknown) => reason);
  if (!isRouterError(error)) throw error;
  expect([error.kind, isConnection(error), isAuth(error)]).toEqual(['tls', true, false]);
  return error;
}

describe('api-ssl', () => {
  it('connects with the CA from caCert, verifying the certificate and its address', async () => {
    const router = await sim({ tls: pki.server });
    expect(router.url).toMatch(/^api-ssl:\/\/127\.0\.0\.1:\d+$/);
    const api = client(router, { caCert: pki.caCert });
    expect(await api.version()).toBe('7.19.1');
    expect(await api.readMany(['/interface', '/ip/address'])).toMatchObject({ '/ip/address': [] });
  });

  it('refuses a certificate from another CA, within the timeout, and retries on the next call', async () => {
    const router = await sim({ tls: pki.server });
    const api = client(router, { caCert: pki.otherCaCert });
    const error = await tlsFailure(api.version());
    expect(error.message).toMatch(/^TLS handshake with router 127\.0\.0\.1:\d+ failed: .*certificate/);
    await tlsFailure(api.version());
    expect(router.stats.connections).toBe(2);
    expect(await client(router, { caCert: pki.caCert }).version()).toBe('7.19.1');
  });

  it('refuses a certificate of the right CA issued for another host name', async () => {
    const router = await sim({ tls: pki.wrongName });
    const error = await tlsFailure(client(router, { caCert: pki.caCert }).version());
    expect(error.message).toMatch(/does not match certificate's altnames/);
  });

  it('without caCert trusts only the system CAs', async () => {
    const router = await sim({ tls: pki.server });
    await tlsFailure(client(router).version());
  });

  it('uses TLS on the explicit port of an api-ssl URL', async () => {
    const router = await sim({ tls: pki.server });
    const plain = await sim();
    const error = await client(plain, { url: plain.url.replace('api://', 'api-ssl://'), caCert: pki.caCert })
      .version()
      .catch((reason: unknown) => reason);
    expect(isConnection(error)).toBe(true);
    expect(await client(router, { caCert: pki.caCert }).version()).toBe('7.19.1');
  });

  it('survives a TLS failure followed by more socket errors, attempt after attempt (no uncaught error)', async () => {
    // A ClientHello on a plain API port is read as a sentence: the simulator either waits for
    // more (the client's deadline ends the attempt) or closes at once, and a close in the middle
    // of a handshake is often followed by one more socket error, which node-routeros re-emitted
    // on a Connector it had already stripped of listeners. Vitest fails the run on any uncaught
    // error, so every attempt must end as one RouterError of a connection kind and nothing else.
    const plain = await sim();
    const api = client(plain, { url: plain.url.replace('api://', 'api-ssl://'), caCert: pki.caCert, timeoutMs: 1_000 });
    const kinds = new Set<string>();
    for (let attempt = 0; attempt < 12; attempt += 1) {
      const error: unknown = await api.version().catch((reason: unknown) => reason);
      if (!isRouterError(error)) throw error;
      expect(isConnection(error)).toBe(true);
      kinds.add(error.kind);
    }
    expect(plain.stats.connections).toBe(12);
    expect([...kinds].sort()).toContain('tls');
  });
});

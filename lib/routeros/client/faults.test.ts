import { describe, expect, it, vi } from 'vitest';
import type { Op } from '../../router/ops.js';
import { isAuth, isConnection, isRouterError, isTimeout, type RouterError } from '../../router/errors.js';
import { bulkState, client, elapsedSince, sim, TEST_TIMEOUT_MS } from './test-support.js';

/**
 * Each fault gives a typed error, never a crash or a hang, and the next call opens a fresh
 * connection and succeeds. A fault the client detects fails the call at once: its error is of
 * its own kind, never a timeout (which only the client's deadline produces), so no test here
 * needs to time anything but the deadline itself, and that only from below.
 */
const TIMEOUT = TEST_TIMEOUT_MS;
const LIST = '/ip/firewall/address-list';

async function failure(promise: Promise<unknown>): Promise<{ error: RouterError; ms: number }> {
  const started = performance.now();
  try {
    await promise;
  } catch (error) {
    if (!isRouterError(error)) throw error;
    return { error, ms: elapsedSince(started) };
  }
  return expect.fail('expected the call to fail');
}

describe('faults on the way to the router', () => {
  it.each([
    ['a clean cut', false],
    ['a cut inside a sentence', true],
  ])('a connection dropped mid-reply (%s) fails the call at once; the next call reconnects', async (_name, partial) => {
    const router = await sim({ initialState: bulkState(50) });
    const api = client(router);
    await api.version();
    router.faults.dropAfterSentences(10, { partial });
    const { error } = await failure(api.print(LIST));
    expect([error.kind, isConnection(error), isTimeout(error)]).toEqual(['connection', true, false]);
    expect(error.message).toMatch(/lost the connection to router 127\.0\.0\.1:\d+/);
    expect(await api.print(LIST)).toHaveLength(50);
    expect(router.stats.connections).toBe(2);
  });

  it('a batch in flight on a dropped connection settles at once, every op failing', async () => {
    const router = await sim();
    const api = client(router);
    await api.version();
    router.faults.dropAfterSentences(20);
    const ops: Op[] = Array.from({ length: 100 }, (_, i) => ({ op: 'add', menu: LIST, entry: { list: 'x', address: `10.0.0.${i}`, comment: 'mikrolb:t' } }));
    const { error } = await failure(api.execute(ops));
    expect(error).toMatchObject({ kind: 'connection', opIndex: 20 }); // one `!done` per add went through
    const retry: Op[] = [{ op: 'add', menu: LIST, entry: { list: 'y', address: '10.9.9.9', comment: 'mikrolb:t' } }];
    expect((await api.execute(retry)).ids).toEqual([expect.stringMatching(/^\*[0-9A-F]+$/)]);
    // 20 answered adds, the 21st applied but its answer cut off (why callers re-read after a failure), the retry.
    expect(router.state().menus[LIST]).toHaveLength(22);
  });

  it.each([
    ['hangs', (s: Awaited<ReturnType<typeof sim>>) => s.faults.hangCommand('/ip/address/print')],
    ['answers too late', (s: Awaited<ReturnType<typeof sim>>) => s.faults.delayReplies(3 * TIMEOUT)],
  ])('a router that %s gives a timeout within the deadline; the next call reconnects', async (_name, fault) => {
    const router = await sim();
    const api = client(router);
    await api.version();
    fault(router);
    const { error, ms } = await failure(api.print('/ip/address'));
    expect([error.kind, isConnection(error), isTimeout(error)]).toEqual(['timeout', true, true]);
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT - 50);
    router.faults.clear();
    expect(await api.print('/ip/address')).toEqual([]);
    expect(api.stats.connects).toBe(2);
  });

  it('a router that stops answering during login gives a timeout', async () => {
    const router = await sim();
    router.faults.hangCommand('/login');
    const api = client(router);
    const { error, ms } = await failure(api.version());
    expect(error.kind).toBe('timeout');
    expect(error.message).toMatch(new RegExp(`did not complete login within ${TIMEOUT} ms`));
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT - 50);
    expect(await api.version()).toBe('7.19.1');
  });

  it('!fatal ends the session with the router reason; the next call reconnects', async () => {
    const router = await sim();
    const api = client(router);
    await api.version();
    router.faults.fatalOnNextCommand('out of memory');
    const { error } = await failure(api.print('/interface'));
    expect(error).toMatchObject({ kind: 'fatal', routerMessage: 'out of memory' });
    expect(isConnection(error)).toBe(true);
    expect(await api.print('/interface')).toHaveLength(4);
  });

  it('!fatal in answer to the login is a fatal error with the router\'s reason, not an unreachable router', async () => {
    const router = await sim();
    router.faults.fatalOnNextCommand('too many sessions');
    const api = client(router);
    const { error } = await failure(api.version());
    expect(error).toMatchObject({ kind: 'fatal', routerMessage: 'too many sessions' });
    expect(error.message).toMatch(/^router 127\.0\.0\.1:\d+ ended the session during login: too many sessions$/);
    expect(isConnection(error)).toBe(true);
    expect(await api.version()).toBe('7.19.1');
  });

  it.each([
    ['RouterOS >= 6.43 login', false],
    ['pre-6.43 challenge login', true],
  ])('a wrong password is isAuth (%s), and retrying reconnects', async (_name, legacyLogin) => {
    const router = await sim({ legacyLogin, version: legacyLogin ? '6.40.9' : '7.19.1' });
    const api = client(router, { password: 'wrong' });
    const { error } = await failure(api.version());
    expect([error.kind, isAuth(error), isConnection(error)]).toEqual(['auth', true, true]);
    expect(error.message).toMatch(/refused the login/);
    expect(error.message).not.toContain('wrong');
    expect(isAuth((await failure(api.version())).error)).toBe(true);
    expect(router.stats.connections).toBe(2);
    expect(await client(router).version()).toBe(legacyLogin ? '6.40.9' : '7.19.1');
  });

  it('a login the router refuses for another reason (a user without the api policy) is isAuth too, with the router\'s words', async () => {
    const router = await sim();
    router.faults.trapCommand('/login', { message: 'not enough permissions (9)', times: 1 });
    const { error } = await failure(client(router).version());
    expect([error.kind, isAuth(error), isConnection(error)]).toEqual(['auth', true, true]);
    expect(error.message).toMatch(/^router 127\.0\.0\.1:\d+ refused the login: not enough permissions \(9\)$/);
  });

  it('refused connections are connection errors until the router accepts again', async () => {
    const router = await sim();
    const api = client(router);
    router.faults.refuseConnections('reset');
    const { error } = await failure(api.version());
    expect([error.kind, isConnection(error), isAuth(error)]).toEqual(['connection', true, false]);
    router.faults.refuseConnections(false);
    expect(await api.version()).toBe('7.19.1');
  });

  it('a router that goes away fails calls with isConnection, and they succeed once it is back', async () => {
    const router = await sim();
    const api = client(router);
    await api.version();
    await router.faults.goAway();
    for (let i = 0; i < 3; i++) {
      const { error } = await failure(api.print('/interface'));
      expect([isConnection(error), isTimeout(error)]).toEqual([true, false]);
      expect(error.message).toMatch(/cannot reach router|lost the connection/);
    }
    await router.faults.comeBack();
    expect(await api.print('/interface')).toHaveLength(4);
    expect(api.stats.connects).toBe(2);
  });

  it('an idle connection lost between calls is replaced without failing the next call', async () => {
    const router = await sim();
    const api = client(router);
    await api.version();
    await router.faults.goAway();
    await router.faults.comeBack();
    await new Promise((done) => setTimeout(done, 50));
    expect(await api.version()).toBe('7.19.1');
    expect(api.stats.connects).toBe(2);
  });

  it('a closed client refuses further calls', async () => {
    const router = await sim();
    const api = client(router);
    await api.version();
    await api.close();
    expect(isConnection((await failure(api.version())).error)).toBe(true);
    await vi.waitFor(() => expect(router.stats.openConnections).toBe(0));
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import {
  connectRouter, isAuth, isBadArgument, isConnection, isRouterError, isTimeout, type RouterClient, type RouterErrorKind,
} from '../../lib/routeros/client/index.js';
import { encodeLength, encodeSentence } from '../../lib/routeros/wire/index.js';
import { GOOD_VERSION, startFakeRouter, type FakeRouter, type Misbehaviour } from './fake-router.js';
import { bounded, type Tally } from './support.js';

/**
 * Router replies to the client adapter: a fake RouterOS logs the client in, then answers with
 * garbage. Each call fails with a typed RouterError (or, where the garbage is ignorable, still
 * answers right) within the timeout; the next call reconnects and works once the router behaves.
 */

const TIMEOUT_MS = 300;
/** How late past the timeout an answer may come (scheduling slack on a busy machine). */
const SLACK_MS = 700;

/** A deterministic byte soup (xorshift32), never a valid RouterOS stream. */
function noise(length: number, seed: number): Uint8Array {
  let x = seed;
  return Uint8Array.from({ length }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x & 0xff;
  });
}

const fail = (kind: RouterErrorKind, message: RegExp, extra: Record<string, unknown> = {}) => ({ kind, message, extra });
type Expected = ReturnType<typeof fail> | { answers: string };

interface RouterCase {
  misbehave: Misbehaviour;
  expected: Expected;
  login?: Misbehaviour;
  call?: (api: RouterClient) => Promise<unknown>;
}

const TIMED_OUT = fail('timeout', new RegExp(`did not answer within ${TIMEOUT_MS} ms`));
const LOGIN_TIMED_OUT = fail('timeout', new RegExp(`did not complete login within ${TIMEOUT_MS} ms`));
const DROPPED = fail('connection', /lost the connection to router 127\.0\.0\.1:\d+/);

const CASES: [string, RouterCase][] = [
  ['random bytes', { misbehave: (r) => r.bytes(noise(4096, 0x5eed)), expected: fail('limit', /sent a reply over the limit: word of \d+ bytes exceeds 1048576/) }],
  ['a reserved length byte (0xF8)', { misbehave: (r) => r.bytes(Uint8Array.from([0xf8, 0x21, 0x64, 0x6f, 0x6e, 0x65, 0])), expected: fail('protocol', /reserved length byte 0xf8/) }],
  ['a control byte 0xFF after a good word', { misbehave: (r, c) => r.bytes(Buffer.concat([encodeSentence(['!re', `.tag=${c.tag}`]).subarray(0, 4), Uint8Array.from([0xff])])), expected: fail('protocol', /reserved length byte 0xff/) }],
  ['a word announced at 2 GiB', { misbehave: (r) => r.bytes(Uint8Array.from([0xf0, 0x7f, 0xff, 0xff, 0xff, 0x21])), expected: fail('limit', /reply over the limit: word of 2147483647 bytes exceeds 1048576/) }],
  ['a word announced just over the limit', { misbehave: (r) => r.bytes(encodeLength(1024 * 1024 + 1)), expected: fail('limit', /reply over the limit: word of 1048577 bytes exceeds 1048576/) }],
  ['a sentence of 70,000 words', { misbehave: (r, c) => r.sentence(['!re', `.tag=${c.tag}`, ...Array.from({ length: 70_000 }, () => '=x=1')]), expected: fail('protocol', /sentence has more than 65536 words/) }],
  ['an unknown reply word, then silence', { misbehave: (r, c) => r.sentence(['!weird', `.tag=${c.tag}`]), expected: TIMED_OUT }],
  ['an unknown reply word before a good answer', { misbehave: (r, c) => { r.sentence(['!weird', `.tag=${c.tag}`, '=version=0.0']); r.sentence(['!re', `.tag=${c.tag}`, `=version=${GOOD_VERSION}`]); r.sentence(['!done', `.tag=${c.tag}`]); }, expected: { answers: GOOD_VERSION } }],
  ['a reply for a tag never sent, then silence', { misbehave: (r) => { r.sentence(['!re', '.tag=999', '=version=6.0']); r.sentence(['!done', '.tag=999']); }, expected: TIMED_OUT }],
  ['a reply for a tag never sent before the real one', { misbehave: (r, c) => { r.sentence(['!re', '.tag=999', '=version=6.0']); r.sentence(['!done', '.tag=999']); r.sentence(['!re', `.tag=${c.tag}`, `=version=${GOOD_VERSION}`]); r.sentence(['!done', `.tag=${c.tag}`]); }, expected: { answers: GOOD_VERSION } }],
  ['!trap without a message', { misbehave: (r, c) => { r.sentence(['!trap', `.tag=${c.tag}`]); r.sentence(['!done', `.tag=${c.tag}`]); }, expected: fail('trap', /^\/system\/resource\/print: unknown failure$/, { routerMessage: 'unknown failure', category: undefined }) }],
  ['!trap with a category that is not a number', { misbehave: (r, c) => { r.sentence(['!trap', `.tag=${c.tag}`, '=category=bad', '=message=no']); r.sentence(['!done', `.tag=${c.tag}`]); }, expected: fail('trap', /: no$/, { routerMessage: 'no', category: undefined }) }],
  ['!trap and never !done', { misbehave: (r, c) => r.sentence(['!trap', `.tag=${c.tag}`, '=message=stuck']), expected: TIMED_OUT }],
  ['!done without a tag', { misbehave: (r) => r.sentence(['!done']), expected: TIMED_OUT }],
  ['an empty sentence', { misbehave: (r) => r.bytes(Uint8Array.from([0])), expected: TIMED_OUT }],
  ['half a sentence, then close', { misbehave: (r, c) => { r.bytes(encodeSentence(['!re', `.tag=${c.tag}`, '=version=7']).subarray(0, 9)); r.close(); }, expected: DROPPED }],
  ['half a length prefix, then close', { misbehave: (r) => { r.bytes(Uint8Array.from([0xc0, 0x01])); r.close(); }, expected: DROPPED }],
  ['a close without any reply', { misbehave: (r) => r.close(), expected: DROPPED }],
  ['!fatal with a reason', { misbehave: (r) => r.sentence(['!fatal', 'out of memory']), expected: fail('fatal', /ended the session: out of memory/, { routerMessage: 'out of memory' }) }],
  ['!fatal without a reason', { misbehave: (r) => r.sentence(['!fatal']), expected: fail('fatal', /ended the session: $/, { routerMessage: '' }) }],
  ['a resource without a version', { misbehave: (r, c) => { r.sentence(['!re', `.tag=${c.tag}`, '=uptime=1d']); r.sentence(['!done', `.tag=${c.tag}`]); }, expected: fail('protocol', /reported no usable version/) }],
  ['a version that is not one', { misbehave: (r, c) => { r.sentence(['!re', `.tag=${c.tag}`, '=version=\u00ff\u00fe']); r.sentence(['!done', `.tag=${c.tag}`]); }, expected: fail('protocol', /reported no usable version/) }],
  ['an add answered without an id', { misbehave: (r, c) => r.sentence(['!done', `.tag=${c.tag}`]), call: (api) => api.add('/ip/address', { address: '192.0.2.1/24', interface: 'ether1' }), expected: fail('protocol', /\/ip\/address\/add: router returned no id/) }],
  ['a login answered with an unknown reply word', { login: (r, c) => r.sentence(['!weird', `.tag=${c.tag}`]), misbehave: () => undefined, expected: fail('connection', /during login/) }],
  ['a login answered for another tag', { login: (r) => r.sentence(['!done', '.tag=999']), misbehave: () => undefined, expected: fail('connection', /during login/) }],
  ['a login answered with a reserved byte', { login: (r) => r.bytes(Uint8Array.from([0xf9, 0x01])), misbehave: () => undefined, expected: LOGIN_TIMED_OUT }],
];

async function outcome(work: Promise<unknown>): Promise<{ value?: unknown; error?: unknown; ms: number }> {
  const started = performance.now();
  try {
    const value = await bounded('router call', TIMEOUT_MS + SLACK_MS + 1_000, work);
    return { value, ms: performance.now() - started };
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
}

export function routerCases(count: Tally, faults: () => readonly string[]): void {
  count.add('router replies', CASES.length);

  describe('router replies to the client adapter: a typed RouterError in time, then recovery', () => {
    const open: { routers: FakeRouter[]; clients: RouterClient[] } = { routers: [], clients: [] };
    afterEach(async () => {
      await Promise.all(open.clients.splice(0).map((c) => c.close()));
      await Promise.all(open.routers.splice(0).map((r) => r.close()));
    });

    it.each(CASES)('%s', async (_story, c) => {
      const router = await startFakeRouter({ misbehave: c.misbehave, ...(c.login ? { login: c.login } : {}) });
      open.routers.push(router);
      const api = connectRouter({ url: router.url, username: 'api', password: 'pw', timeoutMs: TIMEOUT_MS });
      open.clients.push(api);
      const got = await outcome((c.call ?? ((a: RouterClient) => a.version()))(api));
      if ('answers' in c.expected) {
        expect(got.error).toBeUndefined();
        expect(got.value).toBe(c.expected.answers);
      } else {
        const { error } = got;
        expect(isRouterError(error), String(error)).toBe(true);
        if (!isRouterError(error)) return;
        expect(error.kind, error.message).toBe(c.expected.kind);
        expect(error.message).toMatch(c.expected.message);
        expect(error).toMatchObject(c.expected.extra);
        expect(isConnection(error)).toBe(c.expected.kind !== 'trap');
        expect(isTimeout(error)).toBe(c.expected.kind === 'timeout');
        expect([isAuth(error), isBadArgument(error)]).toEqual([false, false]);
        expect(got.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
      }
      // the router behaves again: the next call (on a new connection if the old one broke) works
      router.heal();
      expect(await bounded('recovery', 5_000, api.version())).toBe(GOOD_VERSION);
      // the adapter only read: it never sent a write of its own while things went wrong
      expect(router.commands.filter((w) => !w.endsWith('/print') && !w.endsWith('/add'))).toEqual([]);
      expect(faults()).toEqual([]);
    });
  });
}

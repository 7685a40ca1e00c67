import { describe, expect, it } from 'vitest';
import { bearerToken, createAuthenticator, expiryOf, type Review } from './authenticator.js';

const BRIDGE = 'system:serviceaccount:mikrolb-system:mikrolb-bridge';
const OTHER = 'system:serviceaccount:default:curious';

/** An unsigned JWT-shaped token with these claims (the reviewer below decides validity). */
const jwt = (claims: Record<string, unknown>, tag = 'sig'): string =>
  `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${tag}`;

/** A reviewer that knows some tokens, counts its reviews, and can be made to fail. */
function reviewer(known: Record<string, string>) {
  const calls: string[] = [];
  let failing = false;
  const review = (token: string): Promise<Review> => {
    calls.push(token);
    if (failing) return Promise.reject(new Error('API server unreachable'));
    const user = known[token];
    return Promise.resolve(user === undefined ? { authenticated: false, reason: 'invalid bearer token' } : { authenticated: true, user });
  };
  return { review, calls, fail: (f: boolean) => (failing = f) };
}

function setup(known: Record<string, string>, opts: { maxEntries?: number; maxTtlMs?: number; maxRefused?: number; refusedTtlMs?: number } = {}) {
  let clock = 1_000_000_000_000;
  const r = reviewer(known);
  const authenticate = createAuthenticator({ review: r.review, allowedSubjects: [BRIDGE], now: () => clock, ...opts });
  return { authenticate, calls: r.calls, fail: r.fail, advance: (ms: number) => (clock += ms), now: () => clock };
}

describe('invocation authentication', () => {
  const good = jwt({ exp: 1_000_000_000 + 3600 });
  const other = jwt({ exp: 1_000_000_000 + 3600 }, 'other');

  it.each([
    ['no Authorization header', undefined, 401],
    ['an empty header', '', 401],
    ['another scheme', `Basic ${Buffer.from('a:b').toString('base64')}`, 401],
    ['Bearer without a token', 'Bearer ', 401],
    ['a token the API server refuses', `Bearer ${jwt({ exp: 1 }, 'forged')}`, 401],
    ['a valid token of a user not allowed', `Bearer ${other}`, 403],
  ])('refuses %s', async (_, header, status) => {
    const { authenticate } = setup({ [good]: BRIDGE, [other]: OTHER });
    expect(await authenticate(header)).toMatchObject({ ok: false, status });
  });

  it('admits an allowed user and names it; the scheme is case-insensitive', async () => {
    const { authenticate } = setup({ [good]: BRIDGE });
    expect(await authenticate(`Bearer ${good}`)).toEqual({ ok: true, user: BRIDGE });
    expect(await authenticate(`bearer ${good}`)).toEqual({ ok: true, user: BRIDGE });
  });

  it('asks the API server once per token while it is valid, then again after its exp', async () => {
    const token = jwt({ exp: 1_000_000_000 + 120 }); // 2 minutes from the clock's start
    const { authenticate, calls, advance } = setup({ [token]: BRIDGE });
    for (let i = 0; i < 50; i++) expect((await authenticate(`Bearer ${token}`)).ok).toBe(true);
    expect(calls).toHaveLength(1);
    advance(119_000);
    await authenticate(`Bearer ${token}`);
    expect(calls).toHaveLength(1);
    advance(2_000);
    await authenticate(`Bearer ${token}`);
    expect(calls).toHaveLength(2);
  });

  it('keeps an answer no longer than maxTtlMs, also for a token without exp', async () => {
    const token = 'opaque-token';
    const { authenticate, calls, advance } = setup({ [token]: BRIDGE }, { maxTtlMs: 60_000 });
    await authenticate(`Bearer ${token}`);
    advance(59_000);
    await authenticate(`Bearer ${token}`);
    expect(calls).toHaveLength(1);
    advance(2_000);
    await authenticate(`Bearer ${token}`);
    expect(calls).toHaveLength(2);
  });

  it('keeps a refusal for refusedTtlMs: a caller repeating a bad token costs one review per period', async () => {
    const { authenticate, calls, advance } = setup({}, { refusedTtlMs: 30_000 });
    for (let i = 0; i < 100; i++) expect(await authenticate('Bearer not-valid')).toMatchObject({ ok: false, status: 401 });
    expect(calls).toHaveLength(1);
    advance(29_000);
    await authenticate('Bearer not-valid');
    expect(calls).toHaveLength(1);
    advance(2_000);
    await authenticate('Bearer not-valid');
    expect(calls).toHaveLength(2);
  });

  it('a token refused once is admitted after refusedTtlMs once the API server accepts it', async () => {
    const known: Record<string, string> = {};
    const { authenticate, advance } = setup(known, { refusedTtlMs: 30_000 });
    expect(await authenticate(`Bearer ${good}`)).toMatchObject({ status: 401 });
    known[good] = BRIDGE;
    expect(await authenticate(`Bearer ${good}`)).toMatchObject({ status: 401 });
    advance(31_000);
    expect(await authenticate(`Bearer ${good}`)).toEqual({ ok: true, user: BRIDGE });
  });

  it('remembers at most maxRefused refusals, and a flood of them never pushes out an admitted token', async () => {
    const { authenticate, calls } = setup({ [good]: BRIDGE }, { maxEntries: 2, maxRefused: 3 });
    await authenticate(`Bearer ${good}`);
    for (let i = 0; i < 10; i++) await authenticate(`Bearer bad-${i}`);
    expect(calls).toHaveLength(11);
    expect(await authenticate(`Bearer ${good}`)).toEqual({ ok: true, user: BRIDGE });
    await authenticate('Bearer bad-9'); // among the last 3: still remembered
    expect(calls).toHaveLength(11);
    await authenticate('Bearer bad-0'); // forgotten
    expect(calls).toHaveLength(12);
  });

  it('keeps a 403 answer cheap too: the valid token of another user is reviewed once', async () => {
    const { authenticate, calls } = setup({ [other]: OTHER });
    for (let i = 0; i < 3; i++) expect(await authenticate(`Bearer ${other}`)).toMatchObject({ status: 403 });
    expect(calls).toHaveLength(1);
  });

  it('shares one review between concurrent requests with the same token', async () => {
    const { authenticate, calls } = setup({ [good]: BRIDGE });
    const answers = await Promise.all(Array.from({ length: 20 }, () => authenticate(`Bearer ${good}`)));
    expect(answers.every((a) => a.ok)).toBe(true);
    expect(calls).toHaveLength(1);
  });

  it('remembers at most maxEntries tokens, forgetting the oldest', async () => {
    const tokens = ['t-1', 't-2', 't-3'];
    const { authenticate, calls } = setup(Object.fromEntries(tokens.map((t) => [t, BRIDGE])), { maxEntries: 2 });
    for (const t of tokens) await authenticate(`Bearer ${t}`);
    await authenticate('Bearer t-3');
    await authenticate('Bearer t-2');
    expect(calls).toEqual(['t-1', 't-2', 't-3']);
    await authenticate('Bearer t-1');
    expect(calls).toEqual(['t-1', 't-2', 't-3', 't-1']);
  });

  it('lets a failed review throw (the caller answers "retry later") and keeps nothing of it', async () => {
    const { authenticate, calls, fail } = setup({ [good]: BRIDGE });
    fail(true);
    await expect(authenticate(`Bearer ${good}`)).rejects.toThrow('API server unreachable');
    fail(false);
    expect(await authenticate(`Bearer ${good}`)).toEqual({ ok: true, user: BRIDGE });
    expect(calls).toHaveLength(2);
  });
});

describe('bearerToken and expiryOf', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['BEARER   abc', 'abc'],
    ['Bearer abc def', undefined],
    ['Token abc', undefined],
    [undefined, undefined],
  ])('%s -> %s', (header, token) => expect(bearerToken(header)).toBe(token));

  it('reads exp in milliseconds, and nothing from what is not a JWT', () => {
    expect(expiryOf(jwt({ exp: 1700000000 }))).toBe(1_700_000_000_000);
    expect(expiryOf(jwt({ sub: 'x' }))).toBeUndefined();
    expect(expiryOf('opaque')).toBeUndefined();
    expect(expiryOf('a.!!!.c')).toBeUndefined();
  });
});

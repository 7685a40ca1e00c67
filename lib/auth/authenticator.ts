import { createHash } from 'node:crypto';
import * as z from 'zod';

/** What the API server says about a bearer token (a TokenReview's status). */
export type Review =
  | { authenticated: true; user: string; audiences?: readonly string[] }
  | { authenticated: false; reason: string };

/** Asks the API server about one token; throws when it cannot be asked (then the caller retries). */
export type Reviewer = (token: string) => Promise<Review>;

/** The answer for one request: go ahead, or the status to refuse it with. */
export type Decision =
  | { ok: true; user: string }
  | { ok: false; status: 401 | 403; message: string };

/** Decides one request from its `Authorization` header. */
export type Authenticate = (authorization: string | undefined) => Promise<Decision>;

export interface AuthenticatorOptions {
  review: Reviewer;
  /** User names allowed to invoke; everyone else authenticated gets 403. */
  allowedSubjects: readonly string[];
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** Admitted tokens remembered at most (the oldest is forgotten first). */
  maxEntries?: number;
  /** A reviewed token is trusted again without a review for at most this long (and never past its `exp`). */
  maxTtlMs?: number;
  /** Refused tokens remembered at most (the oldest is forgotten first), apart from the admitted ones. */
  maxRefused?: number;
  /** A refused token is refused again without a review for this long. */
  refusedTtlMs?: number;
}

/** What an authenticator remembers unless told otherwise (docs/configuration.md quotes these). */
export const AUTH_CACHE = { maxEntries: 256, maxTtlMs: 10 * 60_000, maxRefused: 1024, refusedTtlMs: 30_000 } as const;

/**
 * Authentication and authorisation of function invocations: the bearer token is reviewed by the
 * API server once and the answer kept until the token expires (its `exp` claim, bounded by
 * `maxTtlMs`), so a warm instance pays nothing per event. A refusal (401 or 403) is kept too, for
 * `refusedTtlMs` only and in a cache of its own: a caller repeating a bad token costs the API
 * server one review per period instead of one per request, and a flood of random tokens can
 * push out only other refusals, never an admitted token. (Each new token still costs one review.)
 * Requests with the same token while its review is in flight share that review.
 */
export function createAuthenticator(opts: AuthenticatorOptions): Authenticate {
  const now = opts.now ?? Date.now;
  const maxTtlMs = opts.maxTtlMs ?? AUTH_CACHE.maxTtlMs;
  const refusedTtlMs = opts.refusedTtlMs ?? AUTH_CACHE.refusedTtlMs;
  const allowed = new Set(opts.allowedSubjects);
  const admitted = expiringCache<Decision>(opts.maxEntries ?? AUTH_CACHE.maxEntries, now);
  const refused = expiringCache<Decision>(opts.maxRefused ?? AUTH_CACHE.maxRefused, now);
  const inFlight = new Map<string, Promise<Decision>>();

  const decide = (review: Review): Decision => {
    if (!review.authenticated) return { ok: false, status: 401, message: 'the bearer token is not valid' };
    if (!allowed.has(review.user)) return { ok: false, status: 403, message: `${review.user} may not invoke this function` };
    return { ok: true, user: review.user };
  };

  const remember = (key: string, decision: Decision, token: string): void => {
    if (decision.ok) admitted.set(key, decision, Math.min(now() + maxTtlMs, expiryOf(token) ?? Number.POSITIVE_INFINITY));
    else refused.set(key, decision, now() + refusedTtlMs);
  };

  return async (authorization) => {
    const token = bearerToken(authorization);
    if (token === undefined) return { ok: false, status: 401, message: 'authentication required: send Authorization: Bearer <ServiceAccount token>' };
    const key = createHash('sha256').update(token).digest('hex');
    const known = admitted.get(key) ?? refused.get(key);
    if (known) return known;
    const pending = inFlight.get(key);
    if (pending) return pending;
    const decision = opts.review(token).then((review) => {
      const d = decide(review);
      remember(key, d, token);
      return d;
    }).finally(() => inFlight.delete(key));
    inFlight.set(key, decision);
    return decision;
  };
}

/** At most `max` values, each until its own expiry; the oldest is forgotten first. */
function expiringCache<V>(max: number, now: () => number) {
  const entries = new Map<string, { value: V; expiresAt: number }>();
  return {
    get(key: string): V | undefined {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (entry.expiresAt > now()) return entry.value;
      entries.delete(key);
      return undefined;
    },
    set(key: string, value: V, expiresAt: number): void {
      if (expiresAt <= now()) return;
      entries.delete(key);
      while (entries.size >= max) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
      entries.set(key, { value, expiresAt });
    },
  };
}

/** The token of `Bearer <token>` (case-insensitive scheme); undefined for anything else. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization ?? '');
  return match?.[1];
}

const Claims = z.object({ exp: z.number().finite() }).loose();

/**
 * The `exp` claim of a JWT in milliseconds, read without checking the signature: it only
 * shortens how long the API server's positive answer is kept, never grants anything.
 */
export function expiryOf(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const claims = Claims.safeParse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
    return claims.success ? claims.data.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

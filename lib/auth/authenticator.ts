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
  /** Tokens remembered at most (the oldest is forgotten first). */
  maxEntries?: number;
  /** A reviewed token is trusted again without a review for at most this long (and never past its `exp`). */
  maxTtlMs?: number;
}

const DEFAULT_MAX_ENTRIES = 256;
const DEFAULT_MAX_TTL_MS = 10 * 60_000;

interface Entry {
  review: Review;
  expiresAt: number;
}

/**
 * Authentication and authorisation of function invocations: the bearer token is reviewed by the
 * API server once and the answer kept until the token expires (its `exp` claim, bounded by
 * `maxTtlMs`), so a warm instance pays nothing per event. Only valid answers are kept; a token
 * the API server refused is asked about again (an attacker's random tokens must not fill the
 * cache). Requests with the same token while its review is in flight share that review.
 */
export function createAuthenticator(opts: AuthenticatorOptions): Authenticate {
  const now = opts.now ?? Date.now;
  const maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const maxTtlMs = opts.maxTtlMs ?? DEFAULT_MAX_TTL_MS;
  const allowed = new Set(opts.allowedSubjects);
  const cache = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<Review>>();

  const remember = (key: string, review: Review, token: string): void => {
    if (!review.authenticated) return;
    const expiresAt = Math.min(now() + maxTtlMs, expiryOf(token) ?? Number.POSITIVE_INFINITY);
    if (expiresAt <= now()) return;
    cache.delete(key);
    while (cache.size >= maxEntries) {
      const oldest = cache.keys().next();
      if (oldest.done) break;
      cache.delete(oldest.value);
    }
    cache.set(key, { review, expiresAt });
  };

  const reviewOf = async (token: string): Promise<Review> => {
    const key = createHash('sha256').update(token).digest('hex');
    const cached = cache.get(key);
    if (cached && cached.expiresAt > now()) return cached.review;
    if (cached) cache.delete(key);
    const pending = inFlight.get(key);
    if (pending) return pending;
    const review = opts.review(token).then((r) => {
      remember(key, r, token);
      return r;
    }).finally(() => inFlight.delete(key));
    inFlight.set(key, review);
    return review;
  };

  return async (authorization) => {
    const token = bearerToken(authorization);
    if (token === undefined) return { ok: false, status: 401, message: 'authentication required: send Authorization: Bearer <ServiceAccount token>' };
    const review = await reviewOf(token);
    if (!review.authenticated) return { ok: false, status: 401, message: 'the bearer token is not valid' };
    if (!allowed.has(review.user)) return { ok: false, status: 403, message: `${review.user} may not invoke this function` };
    return { ok: true, user: review.user };
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

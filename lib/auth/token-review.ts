import * as z from 'zod';
import type { Transport } from '../k8s/rest.js';
import type { Review, Reviewer } from './authenticator.js';

const TOKEN_REVIEWS = '/apis/authentication.k8s.io/v1/tokenreviews';

const TokenReviewSchema = z.object({
  status: z.object({
    authenticated: z.boolean().optional(),
    user: z.object({ username: z.string().optional() }).loose().optional(),
    audiences: z.array(z.string()).optional(),
    error: z.string().optional(),
  }).loose().optional(),
}).loose();

/**
 * Reviews bearer tokens with the API server (authentication.k8s.io/v1 TokenReview; the caller's
 * ServiceAccount needs `tokenreviews: create`). With `audience`, the token must be valid for it:
 * the review asks for that audience and the answer must name it.
 */
export function tokenReviewer(transport: Transport, audience?: string): Reviewer {
  return async (token) => {
    const res = await transport({
      method: 'POST',
      path: TOKEN_REVIEWS,
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(audience === undefined ? {} : { audiences: [audience] }) } },
      timeoutMs: 10_000,
    });
    return reviewOf(TokenReviewSchema.parse(res), audience);
  };
}

function reviewOf(review: z.infer<typeof TokenReviewSchema>, audience: string | undefined): Review {
  const status = review.status;
  const user = status?.user?.username;
  if (status?.authenticated !== true || user === undefined || user === '') {
    return { authenticated: false, reason: status?.error ?? 'not authenticated' };
  }
  if (audience !== undefined && !(status.audiences ?? []).includes(audience)) {
    return { authenticated: false, reason: `the token is not valid for the audience ${audience}` };
  }
  return { authenticated: true, user, ...(status.audiences ? { audiences: status.audiences } : {}) };
}

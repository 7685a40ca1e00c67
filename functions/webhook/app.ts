/**
 * The IPPool validating admission webhook over HTTP: AdmissionReview v1 in, the same review
 * with a response (and the request's uid) out. It only translates; `reviewPool` decides.
 */
import { Hono } from 'hono';
import { limitBodiesInFlight, limitBody, WEBHOOK_BODIES_IN_FLIGHT_BYTES, WEBHOOK_MAX_BODY_BYTES } from '../../lib/http/body-limit.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { silentLogger, type Logger } from '../../lib/log/logger.js';
import type { IPPool } from '../../lib/k8s/schemas.js';
import { listPools } from '../../lib/k8s/typed.js';
import { AdmissionReviewSchema, reviewPool, reviewResponse } from './review.js';

export const VALIDATE_PATH = '/validate-ippool';

export interface WebhookDeps {
  /** Every IPPool in the cluster, read fresh for each review. */
  listPools: () => Promise<IPPool[]>;
  /** One entry per review (info), malformed review (warn) or failure (error); none by default. */
  log?: Logger;
  /** Larger request bodies are refused with 413; `WEBHOOK_MAX_BODY_BYTES` (3 MiB) by default. */
  maxBodyBytes?: number;
  /** Past this many bytes of bodies in flight a request is refused with 503; `WEBHOOK_BODIES_IN_FLIGHT_BYTES` (32 MiB) by default. */
  bodiesInFlightBytes?: number;
}

export function createWebhookApp(deps: WebhookDeps): Hono {
  const log = deps.log ?? silentLogger();
  const app = new Hono();

  // Every route, before anything reads a body: the webhook's port is open to every source. The
  // share in flight is taken first: limitBody buffers a chunked body before it passes it on.
  const maxBodyBytes = deps.maxBodyBytes ?? WEBHOOK_MAX_BODY_BYTES;
  app.use('*', limitBodiesInFlight(deps.bodiesInFlightBytes ?? WEBHOOK_BODIES_IN_FLIGHT_BYTES, maxBodyBytes), limitBody(maxBodyBytes));
  app.get('/healthz', (c) => c.text('ok'));

  app.post(VALIDATE_PATH, async (c) => {
    const review = AdmissionReviewSchema.safeParse(parseJson(await c.req.text()));
    if (!review.success) {
      const problems = review.error.issues.map((i) => `${i.path.join('.') || '<body>'}: ${i.message}`);
      log.warn('Malformed AdmissionReview', { problems });
      return c.json({ error: 'malformed AdmissionReview', problems }, 400);
    }
    const { request } = review.data;
    const response = reviewPool(request, await deps.listPools());
    log.info('Reviewed an IPPool', {
      uid: request.uid, operation: request.operation, name: request.name,
      dryRun: request.dryRun ?? false, allowed: response.allowed, message: response.status?.message,
    });
    return c.json(reviewResponse(response));
  });

  // Answering 500 makes the API server apply the failurePolicy (Fail: the change is refused).
  app.onError((err, c) => {
    log.error('Reviewing an IPPool failed', { error: err.message });
    return c.json({ error: `reviewing the IPPool failed: ${err.message}` }, 500);
  });

  return app;
}

/** The production `listPools`: every IPPool the API server has (objects our schema rejects own nothing). */
export const poolLister = (kube: KubePort) => async (): Promise<IPPool[]> => (await listPools(kube)).items;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

import { join } from 'node:path';
import type { KubePort } from '../../lib/k8s/port.js';
import type { Logger } from '../../lib/log/logger.js';
import { createWebhookApp, poolLister } from './app.js';
import { certificateReloaded, serveTls, type ServedTls } from './serve-tls.js';

/** The webhook's key pair in its certificate folder. */
export const webhookCertFiles = (certDir: string): { certFile: string; keyFile: string } =>
  ({ certFile: join(certDir, 'tls.crt'), keyFile: join(certDir, 'tls.key') });

export interface WebhookOptions {
  kube: KubePort;
  log: Logger;
  certDir: string;
  port: number;
  hostname?: string;
}

/** The IPPool admission webhook over TLS, its key pair re-read when the files change. */
export function serveWebhook(opts: WebhookOptions): Promise<ServedTls> {
  const app = createWebhookApp({ listPools: poolLister(opts.kube), log: (line) => opts.log.info('Reviewed an IPPool', { review: line }) });
  return serveTls(app, {
    ...webhookCertFiles(opts.certDir), port: opts.port, onReload: certificateReloaded(opts.log, opts.certDir), ...(opts.hostname ? { hostname: opts.hostname } : {}),
  });
}

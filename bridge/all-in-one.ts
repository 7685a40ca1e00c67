import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { createAllocateApp } from '../functions/allocate/app.js';
import { createProgramApp } from '../functions/program/app.js';
import { createReleaseApp } from '../functions/release/app.js';
import { createWebhookApp, poolLister } from '../functions/webhook/app.js';
import { certificateReloaded, serveTls } from '../functions/webhook/serve-tls.js';
import type { ClassConfig } from '../lib/core/service.js';
import { apiServerPort } from '../lib/k8s/client.js';
import { defaultPause } from '../lib/k8s/conflict.js';
import { kubeTransport, type Transport } from '../lib/k8s/rest.js';
import type { Logger } from '../lib/log/logger.js';
import { gcCounters, type Counters } from '../lib/metrics.js';
import type { RouterPort } from '../lib/router/port.js';
import { startBridge, type BridgeHandle } from './bridge.js';
import type { BridgeConfigInput } from './config.js';
import { appDispatch } from './invoker.js';

export interface ControllerOptions {
  kc: KubeConfig;
  /** The functions' API access (default: a transport over `kc`); benchmarks count requests here. */
  transport?: Transport;
  router: RouterPort;
  classes: ClassConfig;
  log: Logger;
  bridge: BridgeConfigInput;
  /** Serve the IPPool webhook over TLS from this folder's tls.crt/tls.key, when present. */
  webhook?: { certDir: string; port: number; hostname?: string };
  ledgerGraceMs?: number;
  /** Served on /metrics next to the bridge's (GC, router bounds); made here when not given. */
  counters?: Counters;
}

export interface Controller {
  bridge: BridgeHandle;
  webhookPort?: number;
  stop(): Promise<void>;
}

/**
 * `mikrolb controller`: the bridge with allocate, program and release in the same process
 * (dispatched through their HTTP apps, so answers and retries are exactly as over the wire),
 * plus the IPPool admission webhook.
 */
export async function startController(opts: ControllerOptions): Promise<Controller> {
  const kube = apiServerPort(opts.transport ?? kubeTransport(opts.kc), { instance: 'mikrolb-controller' });
  const retry = { attempts: 20, pause: defaultPause() };
  const counters = opts.counters ?? gcCounters();
  const base = { kube, classes: opts.classes, now: () => new Date(), retry };
  const dispatch = {
    allocate: appDispatch(createAllocateApp({ ...base, log: opts.log.child({ function: 'allocate' }) })),
    program: appDispatch(createProgramApp({ ...base, router: opts.router, log: opts.log.child({ function: 'program' }) })),
    release: appDispatch(createReleaseApp({ ...base, router: opts.router, log: opts.log.child({ function: 'release' }), ledgerGraceMs: opts.ledgerGraceMs ?? 5 * 60_000, counters })),
  };
  const webhook = opts.webhook ? await startWebhook(opts.webhook, kube, opts.log) : undefined;
  const bridge = await startBridge(opts.bridge, { kc: opts.kc, log: opts.log, dispatch, extraMetrics: () => counters.render() });
  return {
    bridge,
    ...(webhook ? { webhookPort: webhook.port } : {}),
    stop: async () => {
      await bridge.stop();
      await webhook?.close();
    },
  };
}

async function startWebhook(cfg: NonNullable<ControllerOptions['webhook']>, kube: ReturnType<typeof apiServerPort>, log: Logger) {
  const crt = join(cfg.certDir, 'tls.crt');
  const key = join(cfg.certDir, 'tls.key');
  if (!existsSync(crt) || !existsSync(key)) {
    log.warn('IPPool webhook not served: no certificate', { certDir: cfg.certDir });
    return undefined;
  }
  const wlog = log.child({ component: 'webhook' });
  const app = createWebhookApp({ listPools: poolLister(kube), log: (line) => wlog.info('Reviewed an IPPool', { review: line }) });
  const served = await serveTls(app, { certFile: crt, keyFile: key, port: cfg.port, onReload: certificateReloaded(wlog, cfg.certDir), ...(cfg.hostname ? { hostname: cfg.hostname } : {}) });
  log.info('Serving the IPPool webhook', { port: served.port });
  return served;
}

import { KubeConfig } from '@kubernetes/client-node';
import { startController, type Controller } from '../../bridge/all-in-one.js';
import { freePort } from '../../lib/cluster/cluster.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { kubeTransport } from '../../lib/k8s/rest.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { connectRouter, type RouterClient } from '../../lib/routeros/client/index.js';
import { startRouterSim, type RouterSim } from '../../lib/routeros/sim/index.js';
import type { RouterState } from '../../lib/routeros/state.js';
import { testCluster } from '../helpers/cluster.js';

export interface E2E {
  kube: KubePort;
  sim: RouterSim;
  router: RouterClient;
  controller: Controller;
  logs: ReturnType<typeof memoryLogger>;
  stop(): Promise<void>;
}

/** The all-in-one controller against the shared API server and a fresh RouterOS simulator. */
export async function startE2E(seed: RouterState, opts: { resyncIntervalMs?: number; ledgerGraceMs?: number } = {}): Promise<E2E> {
  const { kubeconfig } = testCluster();
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const kube = apiServerPort(kubeTransport(kc));
  const sim = await startRouterSim({ initialState: seed, users: [{ name: 'mikrolb', password: 'pw' }] });
  const router = connectRouter({ url: sim.url, username: 'mikrolb', password: 'pw', timeoutMs: 2000 });
  const logs = memoryLogger();
  const controller = await startController({
    kc, router, log: logs, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
    bridge: { port: await freePort(), hostname: '127.0.0.1', lease: { enabled: false }, resyncIntervalMs: opts.resyncIntervalMs ?? 300_000, retry: { baseMs: 200, maxMs: 2000 } },
    ledgerGraceMs: opts.ledgerGraceMs ?? 0,
  });
  await controller.bridge.ready;
  return {
    kube, sim, router, controller, logs,
    stop: async () => {
      await controller.stop();
      await router.close();
      await sim.close();
    },
  };
}

/** Polls until `check` stops throwing (its last error is rethrown at the deadline). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 90_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}

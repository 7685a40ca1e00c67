import type { Env, Parsed } from '../config.js';
import { apiServerPort } from '../k8s/client.js';
import type { KubePort } from '../k8s/port.js';
import { kubeTransport, type Transport } from '../k8s/rest.js';
import { loadClusterAccess, type ClusterAccess } from '../k8s/access.js';
import { messageOf } from '../errors.js';

/** The real edges a long-running command uses, built once at its entry point. */
export interface Runtime {
  kc: ClusterAccess;
  transport: Transport;
  kube: KubePort;
}

/**
 * $KUBECONFIG, else ~/.kube/config, else (in a pod) the ServiceAccount. `instance` names this
 * process in its events (reportingInstance) and its requests (User-Agent).
 */
export async function kubeRuntime(env: Env, instance: string): Promise<Parsed<Runtime>> {
  let kc: ClusterAccess;
  try {
    kc = await loadClusterAccess(env);
  } catch (e) {
    return { ok: false, message: `KUBECONFIG: ${messageOf(e)}` };
  }
  if (!kc.getCurrentCluster()) return { ok: false, message: 'no Kubernetes cluster configured: set KUBECONFIG or run in a pod' };
  const transport = kubeTransport(kc, { userAgent: instance });
  return { ok: true, value: { kc, transport, kube: apiServerPort(transport, { instance }) } };
}

/** Resolves when the signal aborts (Ctrl-C / SIGTERM by default). */
export function untilStopped(signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal) {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
      return;
    }
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

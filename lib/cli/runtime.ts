import { delimiter } from 'node:path';
import type { Env, Parsed } from '../config.js';
import { apiServerPort } from '../k8s/client.js';
import type { KubePort } from '../k8s/port.js';
import { kubeTransport, type Transport } from '../k8s/rest.js';
import { kubeconfigFiles, loadClusterAccess, type ClusterAccess } from '../k8s/access.js';
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
    // the first line only: a YAML error goes on with the file's lines around it, a token among them
    const [reason = ''] = messageOf(e).split('\n');
    return { ok: false, message: `${kubeconfigNamed(env)}: ${reason.trim()}` };
  }
  if (!kc.getCurrentCluster()) return { ok: false, message: noClusterMessage(env) };
  const transport = kubeTransport(kc, { userAgent: instance });
  return { ok: true, value: { kc, transport, kube: apiServerPort(transport, { instance }) } };
}

/** `KUBECONFIG <the files read>`, or `KUBECONFIG` when none was (a pod's ServiceAccount). */
function kubeconfigNamed(env: Env): string {
  const files = kubeconfigFiles(env);
  return files.length === 0 ? 'KUBECONFIG' : `KUBECONFIG ${files.join(delimiter)}`;
}

/** Why no cluster was found: a kubeconfig that was read is named, not answered with "set KUBECONFIG". */
function noClusterMessage(env: Env): string {
  if (kubeconfigFiles(env).length === 0) return 'no Kubernetes cluster configured: set KUBECONFIG or run in a pod';
  return `${kubeconfigNamed(env)}: its current-context names no cluster; choose one with kubectl config use-context NAME`;
}

/**
 * How long after a first SIGINT or SIGTERM a repeat is taken for the same Ctrl-C: a terminal
 * signals the whole foreground process group, and a launcher (npm) relays the signal to its
 * child as well, so one Ctrl-C can reach a process twice.
 */
export const SAME_INTERRUPT_MS = 1_000;

/** Where process signals come from (the process itself; an emitter in tests). */
export type SignalSource = Pick<NodeJS.EventEmitter, 'on' | 'off'>;

/**
 * Resolves when the signal aborts (Ctrl-C / SIGTERM by default). After the first process signal
 * a repeat within `sameWithinMs` is ignored rather than left to Node's default, which would end
 * the process in the middle of its stop (npm start, chaos: the relayed copy of one Ctrl-C); a
 * later one gets the default again, so a second Ctrl-C still leaves at once.
 */
export function untilStopped(signal?: AbortSignal, opts: { source?: SignalSource; sameWithinMs?: number } = {}): Promise<void> {
  const source = opts.source ?? process;
  return new Promise((resolve) => {
    if (signal) {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
      return;
    }
    const ignore = (): void => undefined;
    const stop = (): void => {
      // ignore goes on before stop comes off: a signal with no listener at all gets Node's
      // default at once, and a repeat landing in that moment (a busy process handles the first
      // signal late, as the relayed copy arrives) ended the process in the middle of its stop
      source.on('SIGINT', ignore);
      source.on('SIGTERM', ignore);
      source.off('SIGINT', stop);
      source.off('SIGTERM', stop);
      setTimeout(() => {
        source.off('SIGINT', ignore);
        source.off('SIGTERM', ignore);
      }, opts.sameWithinMs ?? SAME_INTERRUPT_MS).unref();
      resolve();
    };
    source.on('SIGINT', stop);
    source.on('SIGTERM', stop);
  });
}

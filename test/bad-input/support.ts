import { z } from 'zod';
import type { KubePort } from '../../lib/k8s/port.js';

/**
 * Shared pieces of the bad-input catalogue: a per-edge tally for the summary line, a bound on
 * every case, a write-recording Kubernetes port, and a watch on process-level faults.
 */

export type Edge = 'pool specs' | 'annotations' | 'cloudevents' | 'admission reviews' | 'router replies' | 'invoke fixtures' | 'environment';

export interface Tally {
  add(edge: Edge, cases: number): void;
  summary(): string;
}

export function tally(): Tally {
  const counts = new Map<Edge, number>();
  return {
    add(edge, cases) {
      counts.set(edge, (counts.get(edge) ?? 0) + cases);
    },
    summary() {
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      return `[bad-input] ${total} cases: ${[...counts].map(([edge, n]) => `${edge} ${n}`).join(', ')}`;
    },
  };
}

/** Settles like `work`, or rejects after `ms` naming the case: a hang fails the case, never the run. */
export async function bounded<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (hang)`)), ms);
  });
  try {
    return await Promise.race([work, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** Records every write a function makes through the port (reads pass through untouched). */
export function recordingKube(kube: KubePort): { kube: KubePort; writes: string[] } {
  const writes: string[] = [];
  return {
    writes,
    kube: {
      get: (kind, name, namespace) => kube.get(kind, name, namespace),
      list: (kind, opts) => kube.list(kind, opts),
      create: (kind, obj) => (writes.push(`create ${kind} ${obj.metadata.name}`), kube.create(kind, obj)),
      replace: (kind, obj) => (writes.push(`replace ${kind} ${obj.metadata.name}`), kube.replace(kind, obj)),
      replaceStatus: (kind, obj) => (writes.push(`replaceStatus ${kind} ${obj.metadata.name}`), kube.replaceStatus(kind, obj)),
      remove: (kind, name, namespace, pre) => (writes.push(`remove ${kind} ${name}`), kube.remove(kind, name, namespace, pre)),
      recordEvent: (e) => (writes.push(`event ${e.reason} ${e.regarding.name}`), kube.recordEvent(e)),
    },
  };
}

const VersionedSchema = z.object({ metadata: z.object({ name: z.string(), resourceVersion: z.string() }).loose() }).loose();

/** An object a case must leave alone. */
export interface Watched {
  kind: 'IPPool' | 'IPAllocation' | 'Service';
  name: string;
  namespace?: string;
}

/** `Kind/name@resourceVersion` of each watched object (absent ones as `Kind/name@-`). */
export async function versions(kube: KubePort, targets: readonly Watched[]): Promise<string[]> {
  return Promise.all(targets.map(async (t) => {
    const parsed = VersionedSchema.safeParse(await kube.get(t.kind, t.name, t.namespace));
    return `${t.kind}/${t.name}@${parsed.success ? parsed.data.metadata.resourceVersion : '-'}`;
  }));
}

/** Uncaught exceptions and unhandled rejections seen while the catalogue runs. */
export function watchProcessFaults(): { faults: string[]; stop(): void } {
  const faults: string[] = [];
  const onException = (error: unknown): void => void faults.push(`uncaughtException: ${String(error)}`);
  const onRejection = (reason: unknown): void => void faults.push(`unhandledRejection: ${String(reason)}`);
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return {
    faults,
    stop() {
      process.off('uncaughtException', onException);
      process.off('unhandledRejection', onRejection);
    },
  };
}

/** A deep copy to compare an input with after a pure call (proves it was not mutated). */
export const snapshot = <T>(value: T): T => structuredClone(value);

import { retryOnConflict } from '../../lib/k8s/conflict.js';
import { isNotFound } from '../../lib/k8s/errors.js';
import type { Kind } from '../../lib/k8s/resources.js';
import { type ObjectMeta } from '../../lib/k8s/schemas.js';
import { hasFinalizer, withoutFinalizer } from '../../lib/k8s/finalizer.js';
import type { ReleaseDeps, ReleaseReport } from './deps.js';

interface WithMeta {
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/**
 * A `read` for dropFinalizer that starts from an object already read, and reads again only after
 * a conflict: release writes nothing to it in between, so the first attempt usually takes.
 */
export function firstThen<T>(known: T, reread: () => Promise<T | undefined>): () => Promise<T | undefined> {
  let first = true;
  return () => {
    if (!first) return reread();
    first = false;
    return Promise.resolve(known);
  };
}

/** Removes our finalizer (re-reading on conflict); the object may vanish right after. */
export async function dropFinalizer<T extends WithMeta>(deps: ReleaseDeps, kind: Kind, read: () => Promise<T | undefined>, report: ReleaseReport): Promise<void> {
  await retryOnConflict(`removing the finalizer of a ${kind}`, deps.retry, async () => {
    const obj = await read();
    if (!obj || !hasFinalizer(obj)) return;
    try {
      await deps.kube.replace(kind, withoutFinalizer(obj));
    } catch (e) {
      if (isNotFound(e)) return; // another instance released it first: the object is gone
      throw e;
    }
    report.actions.push(`removed finalizer of ${kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`);
  });
}

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
 * a conflict: release writes nothing to it in between, so the first attempt usually takes. A
 * re-read that finds another object of the same name answers nothing: the one released is gone,
 * and the finalizer of its successor is not ours to drop (allocate creates a Service's
 * allocation again under the same name; chaos, seed 99991, lost one's finalizer that way).
 */
export function firstThen<T extends { metadata: { uid?: string } }>(known: T, reread: () => Promise<T | undefined>): () => Promise<T | undefined> {
  let first = true;
  return async () => {
    if (first) {
      first = false;
      return known;
    }
    const again = await reread();
    return again?.metadata.uid === known.metadata.uid ? again : undefined;
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

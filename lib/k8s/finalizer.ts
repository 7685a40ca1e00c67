import { FINALIZER } from './keys.js';

/** Pure helpers for MikroLB's finalizer (as controller-runtime's controllerutil). */
interface Finalizable {
  metadata: { finalizers?: string[] | undefined };
}

export function hasFinalizer(obj: Finalizable | undefined): boolean {
  return obj?.metadata.finalizers?.includes(FINALIZER) === true;
}

/** The object with our finalizer added (last), the same object when it is there already. */
export function withFinalizer<T extends Finalizable>(obj: T): T {
  return hasFinalizer(obj) ? obj : { ...obj, metadata: { ...obj.metadata, finalizers: [...(obj.metadata.finalizers ?? []), FINALIZER] } };
}

/** The object with our finalizer removed (others kept, in order). */
export function withoutFinalizer<T extends Finalizable>(obj: T): T {
  return { ...obj, metadata: { ...obj.metadata, finalizers: (obj.metadata.finalizers ?? []).filter((f) => f !== FINALIZER) } };
}

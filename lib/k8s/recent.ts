import * as z from 'zod';
import { FINALIZER } from './keys.js';

/**
 * New Services as the all-in-one controller's own watch just saw them, for allocate in the same
 * process to start from instead of reading the Service again. Only a hint: allocate uses one only
 * for a Service without MikroLB's finalizer, whose first write (adding it) carries the hint's
 * resourceVersion, so a stale hint costs a conflict and a read, never a wrong write. Only
 * Services without the finalizer are kept, each until allocate takes it or it is deleted, and
 * at most `max` of them (the oldest go first): a few hundred bytes per new Service in flight.
 */
export interface RecentServices {
  /** A Service the watch saw added or changed (kept only while it lacks the finalizer). */
  seen(obj: unknown): void;
  /** A Service the watch saw deleted. */
  gone(obj: unknown): void;
  /** The latest one seen of that name, removed from the hint. */
  take(namespace: string, name: string): unknown;
  size(): number;
}

const MetaSchema = z.object({
  metadata: z.object({ name: z.string(), namespace: z.string().default('default'), finalizers: z.array(z.string()).optional() }),
});

export function recentServices(max: number): RecentServices {
  const kept = new Map<string, unknown>();
  const keyOf = (obj: unknown): { key: string; ours: boolean } | undefined => {
    const m = MetaSchema.safeParse(obj);
    return m.success ? { key: `${m.data.metadata.namespace}/${m.data.metadata.name}`, ours: m.data.metadata.finalizers?.includes(FINALIZER) === true } : undefined;
  };
  return {
    seen(obj) {
      const k = keyOf(obj);
      if (!k) return;
      kept.delete(k.key); // re-inserted last: the oldest go first
      if (k.ours) return;
      kept.set(k.key, obj);
      for (const oldest of kept.keys()) {
        if (kept.size <= max) break;
        kept.delete(oldest);
      }
    },
    gone(obj) {
      const k = keyOf(obj);
      if (k) kept.delete(k.key);
    },
    take(namespace, name) {
      const key = `${namespace}/${name}`;
      const obj = kept.get(key);
      kept.delete(key);
      return obj;
    },
    size: () => kept.size,
  };
}

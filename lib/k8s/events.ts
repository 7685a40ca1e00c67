import { createHash } from 'node:crypto';
import type { EventRecord } from './port.js';

export const REPORTING_CONTROLLER = 'mikrolb.de/controller';
/** Events about cluster-scoped objects (pools, allocations) live in this namespace. */
export const CLUSTER_EVENT_NAMESPACE = 'default';

/**
 * A deterministic event name: the same subject, reason and note map to the same name, so a
 * re-run of an idempotent function cannot spam events (the second create is AlreadyExists).
 */
export function eventName(e: EventRecord): string {
  const digest = createHash('sha256')
    .update([e.regarding.kind, e.regarding.namespace ?? '', e.regarding.name, e.regarding.uid ?? '', e.type, e.reason, e.note].join('\u0000'))
    .digest('hex')
    .slice(0, 16);
  return `${e.regarding.name.slice(0, 200)}.${digest}`;
}

export function eventNamespace(e: EventRecord): string {
  return e.regarding.namespace ?? CLUSTER_EVENT_NAMESPACE;
}

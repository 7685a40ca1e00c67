import { apiVersionOf, RESOURCES, resourcePath, type Kind } from './resources.js';
import { isAlreadyExists, isNotFound } from './errors.js';
import { eventName, eventNamespace, REPORTING_CONTROLLER } from './events.js';
import type { EventRecord, KubeObject, KubePort, ListOptions, Preconditions } from './port.js';
import type { Transport } from './rest.js';
import * as z from 'zod';

const ListSchema = z.object({ items: z.array(z.unknown()) }).loose();

/** The Kubernetes port over the API server's REST interface. */
export function apiServerPort(transport: Transport, opts: { instance?: string; now?: () => Date } = {}): KubePort {
  const now = opts.now ?? (() => new Date());
  const body = (kind: Kind, obj: KubeObject): KubeObject => ({
    ...obj, apiVersion: apiVersionOf(RESOURCES[kind]), kind: RESOURCES[kind].kind,
  });
  return {
    async get(kind, name, namespace) {
      try {
        return await transport({ method: 'GET', path: resourcePath(RESOURCES[kind], namespace, name) });
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    async list(kind, o: ListOptions = {}) {
      const res = await transport({ method: 'GET', path: resourcePath(RESOURCES[kind], o.namespace), query: { labelSelector: o.labelSelector, fieldSelector: o.fieldSelector } });
      return ListSchema.parse(res).items;
    },
    create: (kind, obj) => transport({ method: 'POST', path: resourcePath(RESOURCES[kind], obj.metadata.namespace), body: body(kind, obj) }),
    replace: (kind, obj) => transport({ method: 'PUT', path: resourcePath(RESOURCES[kind], obj.metadata.namespace, obj.metadata.name), body: body(kind, obj) }),
    replaceStatus: (kind, obj) => transport({ method: 'PUT', path: resourcePath(RESOURCES[kind], obj.metadata.namespace, obj.metadata.name, 'status'), body: body(kind, obj) }),
    async remove(kind, name, namespace, preconditions?: Preconditions) {
      try {
        await transport({ method: 'DELETE', path: resourcePath(RESOURCES[kind], namespace, name), body: preconditions ? { kind: 'DeleteOptions', apiVersion: 'v1', preconditions } : undefined });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    },
    async recordEvent(e: EventRecord) {
      const type = RESOURCES[e.regarding.kind];
      const ev = {
        apiVersion: 'events.k8s.io/v1', kind: 'Event',
        metadata: { name: eventName(e), namespace: eventNamespace(e) },
        eventTime: now().toISOString().replace('Z', '000Z'),
        reportingController: REPORTING_CONTROLLER,
        reportingInstance: opts.instance ?? 'mikrolb',
        action: e.action, reason: e.reason, note: noteText(e.note), type: e.type,
        regarding: { apiVersion: apiVersionOf(type), kind: type.kind, name: e.regarding.name, namespace: e.regarding.namespace, uid: e.regarding.uid },
      };
      try {
        await transport({ method: 'POST', path: resourcePath(RESOURCES.Event, ev.metadata.namespace), body: ev });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    },
  };
}

/**
 * An event note as the API server accepts it: at most 1024 bytes (Go counts bytes, so 1000
 * characters of a multi-byte value are refused with 422, which would fail the invocation).
 */
function noteText(note: string): string {
  let out = '';
  let bytes = 0;
  for (const ch of note) {
    bytes += Buffer.byteLength(ch);
    if (out.length + ch.length > 1000 || bytes > 1024) break;
    out += ch;
  }
  return out;
}

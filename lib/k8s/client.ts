import { apiVersionOf, RESOURCES, resourcePath, type Kind } from './resources.js';
import { isNotFound } from './errors.js';
import { recordEventIn, type EventStore } from './events.js';
import type { EventRecord, KubeObject, KubePort, ListOptions, Preconditions } from './port.js';
import type { Transport } from './rest.js';
import * as z from 'zod';

const ListSchema = z.object({ items: z.array(z.unknown()) }).loose();

/** The requests recording an event takes, on the API server's events.k8s.io/v1 events. */
export function apiServerEvents(transport: Transport): EventStore {
  return {
    create: (ev) => transport({ method: 'POST', path: resourcePath(RESOURCES.Event, ev.metadata.namespace), body: ev }),
    async get(namespace, name) {
      try {
        return await transport({ method: 'GET', path: resourcePath(RESOURCES.Event, namespace, name) });
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    replace: (ev) => transport({ method: 'PUT', path: resourcePath(RESOURCES.Event, ev.metadata.namespace, ev.metadata.name), body: ev }),
  };
}

/** The Kubernetes port over the API server's REST interface. */
export function apiServerPort(transport: Transport, opts: { instance?: string; now?: () => Date } = {}): KubePort {
  const now = opts.now ?? (() => new Date());
  const events = apiServerEvents(transport);
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
    recordEvent: (e: EventRecord) => recordEventIn(events, e, { now, instance: opts.instance ?? 'mikrolb' }),
  };
}


import { randomUUID } from 'node:crypto';
import { CloudEvent, HTTP } from 'cloudevents';
import { RESOURCES, resourcePath } from '../k8s/resources.js';
import { apiVersionOfKind } from './identity.js';
import { EVENT_TYPE_PREFIX_REF, EVENT_TYPE_RESYNC, type Change, type Invocation, type ObjectRef } from './invocation.js';

/** The CloudEvent `source` of everything the bridge sends. */
export const BRIDGE_SOURCE = 'mikrolb.de/bridge';

export interface EncodedEvent {
  headers: Record<string, string>;
  body: string;
}

export interface InvocationIdentity {
  id?: string;
  source?: string;
  /** Makes ids when none is given; a random UUID by default. */
  newId?: () => string;
}

export function objectInvocation(change: Change, ref: ObjectRef, identity: InvocationIdentity = {}): Invocation {
  return { type: 'object', change, ref, ...identify(identity) };
}

export function resyncInvocation(identity: InvocationIdentity = {}): Invocation {
  return { type: 'resync', ...identify(identity) };
}

function identify({ id, source, newId = randomUUID }: InvocationIdentity): { id: string; source: string } {
  return { id: id ?? newId(), source: source ?? BRIDGE_SOURCE };
}

export interface EncodeOptions {
  /** The event's `time`; now by default. */
  time?: Date;
}

/**
 * Encodes an invocation in binary content mode as Knative's ApiServerSource does in Reference
 * mode: the data is an ObjectReference and the extensions repeat it for Trigger filters.
 */
export function toCloudEvent(invocation: Invocation, opts: EncodeOptions = {}): EncodedEvent {
  const base = {
    id: invocation.id,
    source: invocation.source,
    specversion: '1.0',
    time: (opts.time ?? new Date()).toISOString(),
  };
  const event =
    invocation.type === 'resync'
      ? new CloudEvent({ ...base, type: EVENT_TYPE_RESYNC })
      : new CloudEvent({
          ...base,
          type: `${EVENT_TYPE_PREFIX_REF}${invocation.change}`,
          subject: resourcePath(RESOURCES[invocation.ref.kind], invocation.ref.namespace, invocation.ref.name),
          datacontenttype: 'application/json',
          ...extensionsOf(invocation.ref),
          data: objectReference(invocation.ref),
        });
  const message = HTTP.binary(event);
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(message.headers)) {
    if (typeof value === 'string') headers[key] = value;
  }
  return { headers, body: typeof message.body === 'string' ? message.body : '' };
}

function extensionsOf(ref: ObjectRef): Record<string, string> {
  const extensions: Record<string, string> = { kind: ref.kind, apiversion: apiVersionOfKind(ref.kind), name: ref.name };
  if (ref.namespace !== undefined) extensions['namespace'] = ref.namespace;
  return extensions;
}

/** Field order as Kubernetes' Go ObjectReference marshals it. */
function objectReference(ref: ObjectRef): Record<string, string> {
  return {
    kind: ref.kind,
    ...(ref.namespace === undefined ? {} : { namespace: ref.namespace }),
    name: ref.name,
    apiVersion: apiVersionOfKind(ref.kind),
  };
}

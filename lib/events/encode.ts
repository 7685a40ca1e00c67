import { randomUUID } from 'node:crypto';
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
 * Written out by hand rather than through the cloudevents SDK (whose HTTP.binary gives the same
 * headers, in the same order: encode.test.ts compares them): the bridge encodes one event per
 * invocation, and the SDK's validating CloudEvent per call was most of its garbage under load,
 * besides the SDK's own load at startup.
 */
export function toCloudEvent(invocation: Invocation, opts: EncodeOptions = {}): EncodedEvent {
  const time = (opts.time ?? new Date()).toISOString();
  if (invocation.type === 'resync') {
    // The SDK's content type for an event without data.
    return { headers: { 'content-type': 'application/json; charset=utf-8', ...envelope(invocation, time, EVENT_TYPE_RESYNC) }, body: '' };
  }
  const { ref } = invocation;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...envelope(invocation, time, `${EVENT_TYPE_PREFIX_REF}${invocation.change}`),
    'ce-subject': resourcePath(RESOURCES[ref.kind], ref.namespace, ref.name),
  };
  for (const [key, value] of Object.entries(extensionsOf(ref))) headers[`ce-${key}`] = value;
  return { headers, body: JSON.stringify(objectReference(ref)) };
}

function envelope(invocation: Invocation, time: string, type: string): Record<string, string> {
  return { 'ce-id': invocation.id, 'ce-time': time, 'ce-type': type, 'ce-source': invocation.source, 'ce-specversion': '1.0' };
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

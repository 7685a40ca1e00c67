import * as z from 'zod';
import { resolveObjectRef, type NamedObject } from './identity.js';
import {
  ChangeSchema,
  EVENT_TYPE_PREFIX_REF,
  EVENT_TYPE_PREFIX_RESOURCE,
  EVENT_TYPE_PING,
  EVENT_TYPE_RESYNC,
  ObjectRefSchema,
  type Change,
  type Invocation,
  type ObjectKind,
  type ObjectRef,
  type SentWhole,
} from './invocation.js';
import { LABEL_SLICE_SERVICE_NAME, serviceOfLabels } from '../k8s/keys.js';
import { addressName, parseAddress } from '../ip/index.js';
import { IPAddressClaimSpecSchema } from '../k8s/schemas.js';
import { holdersOf } from '../core/sharing.js';
import { messageOf } from '../errors.js';

export { toCloudEvent, objectInvocation, resyncInvocation, BRIDGE_SOURCE } from './encode.js';
export type { EncodedEvent, InvocationIdentity } from './encode.js';

/** Larger bodies are refused before any parsing; a Kubernetes object is far smaller. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export type EventHeaders = Headers | Record<string, string | string[] | undefined>;
export interface EventMessage {
  headers: EventHeaders;
  body: string;
}
export interface ParseOptions {
  maxBodyBytes?: number;
}
export type ParsedEvent = { ok: true; invocation: Invocation } | { ok: false; message: string };
type Failure = { ok: false; message: string };

const CE_JSON = 'application/cloudevents+json';
const CE_BATCH = 'application/cloudevents-batch';
const fail = (message: string): Failure => ({ ok: false, message });

/**
 * Turns an HTTP request carrying a CloudEvent (binary or structured mode) into an Invocation.
 * Bad input is an answer, never an exception: the caller maps `{ ok: false }` to a 400.
 */
export function parseCloudEvent(message: EventMessage, opts: ParseOptions = {}): ParsedEvent {
  try {
    return parse(message, opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
  } catch (err) {
    // Nothing here should throw; if something unforeseen does, it is still the sender's fault.
    return fail(`malformed CloudEvent: ${messageOf(err)}`);
  }
}

function parse(message: EventMessage, maxBodyBytes: number): ParsedEvent {
  const size = Buffer.byteLength(message.body, 'utf8');
  if (size > maxBodyBytes) return fail(`body is ${size} bytes; the limit is ${maxBodyBytes}`);
  const headers = normalizeHeaders(message.headers);
  const decoded = decode(headers, message.body);
  if (!decoded.ok) return decoded;
  const envelope = EnvelopeSchema.safeParse(decoded.attributes);
  if (!envelope.success) return fail(envelope.error.issues.map((issue) => issue.message).join('; '));
  const { id, source, type } = envelope.data;
  // Knative's PingSource cannot choose its type, so its tick counts as a resync too.
  if (type === EVENT_TYPE_RESYNC || type === EVENT_TYPE_PING) return { ok: true, invocation: { type: 'resync', id, source } };
  const objectType = objectEventType(type);
  if (!objectType) return fail(`unsupported event type "${type}"; expected ${EXPECTED_TYPES}`);
  const extensions = ExtensionsSchema.safeParse(decoded.extensions);
  if (!extensions.success) return fail(issuesMessage('extension attributes are invalid', extensions.error));
  const data = decoded.data();
  if (!data.ok) return data;
  const named = objectType.mode === 'resource' ? readResource(data.value) : readReference(data.value);
  if (!named.ok) return named;
  const ref = resolveObjectRef(named.object, extensions.data);
  if (!ref.ok) return ref;
  const whole = objectType.mode === 'resource' && data.value !== undefined ? { sentWhole: sentWhole(ref.ref.kind, objectType.change, data.value) } : {};
  const service = ref.ref.kind === 'EndpointSlice' && objectType.mode === 'resource' ? sliceService(data.value, ref.ref.namespace) : undefined;
  if (service) return { ok: true, invocation: { type: 'object', change: 'update', ref: service, id, source, ...whole } };
  const left = ref.ref.kind === 'IPAllocation' && objectType.mode === 'resource' && objectType.change === 'delete' ? leftBehind(data.value) : undefined;
  if (left) return { ok: true, invocation: { type: 'object', change: 'update', ref: left, id, source, ...whole } };
  return { ok: true, invocation: { type: 'object', change: objectType.change, ref: ref.ref, id, source, ...whole } };
}

/**
 * What an object sent whole shows besides itself (see SentWhole): a deleted allocation, the
 * claim of the address it held; a deleted claim, the allocations it named. Neither can be read
 * once its object is gone, and the bridge routes both deletions to the functions as those.
 */
function sentWhole(kind: ObjectKind, change: Change, data: unknown): SentWhole {
  if (change !== 'delete') return {};
  if (kind === 'IPAllocation') {
    const held = heldClaim(data);
    return held ? { held } : {};
  }
  if (kind !== 'IPAddressClaim') return {};
  const claim = ClaimSpecOf.safeParse(data);
  if (!claim.success) return {};
  const holders = holdersOf(claim.data.spec).flatMap((h) => {
    const ref = ObjectRefSchema.safeParse({ kind: 'IPAllocation', name: h.allocationName });
    return ref.success ? [ref.data] : [];
  });
  return holders.length > 0 ? { holders } : {};
}

const ClaimSpecOf = z.object({ spec: IPAddressClaimSpecSchema });

const SliceLabelsSchema = z.object({ metadata: z.object({ labels: z.object({ [LABEL_SLICE_SERVICE_NAME]: z.string() }) }) });

/**
 * The Service an EndpointSlice sent whole (Resource mode) belongs to, by its
 * `kubernetes.io/service-name` label: the slice's change reaches program as its Service's, as
 * the bridge sends it. A deleted slice can no longer be read to find its Service, so without
 * this its endpoints would stay NAT targets until the Service's next event.
 */
function sliceService(data: unknown, namespace: string | undefined): ObjectRef | undefined {
  const labels = SliceLabelsSchema.safeParse(data);
  if (!labels.success || namespace === undefined) return undefined;
  const ref = ObjectRefSchema.safeParse({ kind: 'Service', name: labels.data.metadata.labels[LABEL_SLICE_SERVICE_NAME], namespace });
  return ref.success ? ref.data : undefined;
}

const AllocationLeftSchema = z.object({
  metadata: z.object({ labels: z.record(z.string(), z.string()).optional() }),
  status: z.object({ address: z.string().optional() }).optional(),
});

/**
 * What a deleted IPAllocation sent whole (Resource mode) leaves to act on, as the bridge routes
 * it: its Service (by its `mikrolb.de/service-*` labels), for allocate to make it again if the
 * Service still wants it and for program to write the Service's ingress and condition without
 * it; else (an operator reservation) the claim of the address its status named, which release
 * frees if the reservation went without its release (its finalizer taken off by hand) and
 * whose pool allocate reconciles. Named as the deleted allocation, it reached every function as
 * an object none of them can read any more: the Service lost its address until the resync.
 */
function leftBehind(data: unknown): ObjectRef | undefined {
  const a = AllocationLeftSchema.safeParse(data);
  if (!a.success) return undefined;
  const svc = serviceOfLabels(a.data.metadata.labels);
  if (!svc) return heldClaim(data);
  const ref = ObjectRefSchema.safeParse({ kind: 'Service', ...svc });
  return ref.success ? ref.data : undefined;
}

/** The claim of the address a deleted allocation sent whole held, as its status named it. */
function heldClaim(data: unknown): ObjectRef | undefined {
  const a = AllocationLeftSchema.safeParse(data);
  const address = a.success && a.data.status?.address !== undefined ? parseAddress(a.data.status.address) : undefined;
  if (!address?.ok) return undefined;
  // named as claimNameOf (lib/k8s/claims.ts) names it
  const ref = ObjectRefSchema.safeParse({ kind: 'IPAddressClaim', name: addressName(address.family, address.value) });
  return ref.success ? ref.data : undefined;
}

// ---- envelope ---------------------------------------------------------------------------------

type DataResult = { ok: true; value: unknown } | Failure;
interface Decoded {
  ok: true;
  /** The required attributes exactly as sent. */
  attributes: Record<string, unknown>;
  /**
   * Where the extension attributes are: the structured body's own members, or (binary) the
   * `ce-<name>` headers. What the cloudevents SDK's `HTTP.toEvent` (not strict) makes of the
   * message, without loading the SDK into a function's cold start (~25 ms): the SDK only maps
   * members and headers to attributes there, it validates nothing (cross-checked in the tests).
   */
  extensions: Record<string, unknown>;
  /** Decoded only for event types that carry an object, so a resync ignores its body. */
  data: () => DataResult;
}

function decode(headers: Record<string, string>, body: string): Decoded | Failure {
  const contentType = (headers['content-type'] ?? '').trim().toLowerCase();
  if (contentType.startsWith(CE_BATCH)) return fail('batched CloudEvents are not supported; send one event per request');
  if (!contentType.startsWith('application/cloudevents')) return decodeBinary(headers, body);
  if (!contentType.startsWith(CE_JSON)) return fail(`unsupported structured format "${contentType}"; expected ${CE_JSON}`);
  const parsed = parseJson(body, 'body');
  if (!parsed.ok) return parsed;
  const attributes = parsed.value;
  if (!isRecord(attributes)) return fail('a structured CloudEvent must be a JSON object');
  if ('data_base64' in attributes) return fail('data_base64 is not supported; send the object as JSON data');
  return {
    ok: true,
    attributes,
    extensions: attributes,
    data: () => ({ ok: true, value: attributes['data'] }),
  };
}

function decodeBinary(headers: Record<string, string>, body: string): Decoded {
  const attributes = {
    id: headers['ce-id'],
    source: headers['ce-source'],
    type: headers['ce-type'],
    specversion: headers['ce-specversion'],
  };
  const extensions = Object.fromEntries(EXTENSION_NAMES.map((name) => [name, headers[`ce-${name}`]]));
  return { ok: true, attributes, extensions, data: () => decodeJsonData(headers['content-type'], body) };
}

function decodeJsonData(contentType: string | undefined, body: string): DataResult {
  if (body.trim() === '') return { ok: true, value: undefined };
  const mediaType = (contentType ?? 'application/json').split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType !== 'application/json' && !mediaType.endsWith('+json')) {
    return fail(`unsupported data content type "${contentType}"; expected application/json`);
  }
  return parseJson(body, 'data');
}

function parseJson(text: string, what: string): DataResult {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return fail(`${what} is not valid JSON: ${messageOf(err)}`);
  }
}

function normalizeHeaders(headers: EventHeaders): Record<string, string> {
  const entries = headers instanceof Headers ? [...headers.entries()] : Object.entries(headers);
  const out: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (value !== undefined) out[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const attribute = (name: string) =>
  z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? `CloudEvent attribute "${name}" is missing`
          : `CloudEvent attribute "${name}" must be a string`,
    })
    .min(1, `CloudEvent attribute "${name}" is empty`);

const EnvelopeSchema = z.object({
  specversion: attribute('specversion').refine((v) => v === '1.0', 'CloudEvent specversion must be "1.0"'),
  id: attribute('id'),
  source: attribute('source'),
  type: attribute('type'),
});

// ---- types and data ---------------------------------------------------------------------------

const EXPECTED_TYPES =
  `${EVENT_TYPE_PREFIX_RESOURCE}add|update|delete, ${EVENT_TYPE_PREFIX_REF}add|update|delete, ` +
  `${EVENT_TYPE_RESYNC} or ${EVENT_TYPE_PING}`;

type ObjectEventMode = 'resource' | 'ref';
const OBJECT_EVENT_PREFIXES: [string, ObjectEventMode][] = [
  [EVENT_TYPE_PREFIX_RESOURCE, 'resource'],
  [EVENT_TYPE_PREFIX_REF, 'ref'],
];

function objectEventType(type: string): { mode: ObjectEventMode; change: Change } | undefined {
  const [prefix, mode] = OBJECT_EVENT_PREFIXES.find(([p]) => type.startsWith(p)) ?? [];
  if (prefix === undefined || mode === undefined) return undefined;
  const change = ChangeSchema.safeParse(type.slice(prefix.length));
  return change.success ? { mode, change: change.data } : undefined;
}

/** Go's SDK sends an empty extension for a cluster-scoped object's namespace. */
const text = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

/** The extension attributes the ApiServerSource (and the bridge) name the object with. */
const EXTENSION_NAMES = ['kind', 'apiversion', 'name', 'namespace'] as const;

const ExtensionsSchema = z.object({ kind: text, apiversion: text, name: text, namespace: text }).transform(
  (e): NamedObject => ({ kind: e.kind, apiVersion: e.apiversion, name: e.name, namespace: e.namespace }),
);

const ResourceDataSchema = z
  .looseObject({
    apiVersion: text,
    kind: text,
    metadata: z.looseObject({ name: text, namespace: text }).optional(),
  })
  .transform(
    (o): NamedObject => ({ kind: o.kind, apiVersion: o.apiVersion, name: o.metadata?.name, namespace: o.metadata?.namespace }),
  );

/** A Kubernetes ObjectReference, as the ApiServerSource sends in Reference mode. */
const ReferenceDataSchema = z
  .looseObject({ kind: z.string().min(1), name: z.string().min(1), apiVersion: text, namespace: text, uid: text })
  .transform((r): NamedObject => ({ kind: r.kind, apiVersion: r.apiVersion, name: r.name, namespace: r.namespace }));

type NamedResult = { ok: true; object: NamedObject | undefined } | Failure;

function readResource(data: unknown): NamedResult {
  if (data === undefined) return { ok: true, object: undefined };
  const parsed = ResourceDataSchema.safeParse(data);
  return parsed.success ? { ok: true, object: parsed.data } : fail(issuesMessage('data is not a Kubernetes object', parsed.error));
}

function readReference(data: unknown): NamedResult {
  if (data === undefined) return { ok: true, object: undefined };
  const parsed = ReferenceDataSchema.safeParse(data);
  return parsed.success ? { ok: true, object: parsed.data } : fail(issuesMessage('data is not an ObjectReference', parsed.error));
}

function issuesMessage(problem: string, error: z.ZodError): string {
  const issues = error.issues.map((issue) =>
    issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message,
  );
  return `${problem}: ${issues.join('; ')}`;
}

import { RESOURCES, apiVersionOf } from '../k8s/resources.js';
import { ObjectKindSchema, ObjectRefSchema, type ObjectKind, type ObjectRef } from './invocation.js';

/** Which object an event names, as read from one place (the data, or the extensions). */
export interface NamedObject {
  kind?: string | undefined;
  apiVersion?: string | undefined;
  name?: string | undefined;
  namespace?: string | undefined;
}

export type RefResult = { ok: true; ref: ObjectRef } | { ok: false; message: string };

const KNOWN_KINDS = ObjectKindSchema.options.join(', ');

export const apiVersionOfKind = (kind: ObjectKind): string => apiVersionOf(RESOURCES[kind]);

/**
 * Decides which object an event is about. The data (whole object or ObjectReference) wins over
 * the `kind`/`name`/`namespace`/`apiversion` extensions; each pair (kind with apiVersion, name
 * with namespace) is taken from one place so the two halves never mix.
 */
export function resolveObjectRef(fromData: NamedObject | undefined, fromExtensions: NamedObject): RefResult {
  const kindSource = fromData?.kind !== undefined ? fromData : fromExtensions;
  const nameSource = fromData?.name !== undefined ? fromData : fromExtensions;
  const kind = checkKind(kindSource);
  if (!kind.ok) return kind;
  if (kindSource !== fromExtensions) {
    const extensionKind = checkExtensionPair(fromExtensions);
    if (!extensionKind.ok) return extensionKind;
  }
  return checkName(kind.kind, nameSource);
}

type Failure = { ok: false; message: string };
type KindResult = { ok: true; kind: ObjectKind } | Failure;

function checkKind(source: NamedObject): KindResult {
  if (source.kind === undefined) {
    return { ok: false, message: 'event names no kind: set the kind in the data or the kind extension' };
  }
  const parsed = ObjectKindSchema.safeParse(source.kind);
  if (!parsed.success) {
    return { ok: false, message: `unsupported kind "${source.kind}"; expected one of ${KNOWN_KINDS}` };
  }
  const expected = apiVersionOfKind(parsed.data);
  if (source.apiVersion !== undefined && source.apiVersion !== expected) {
    return {
      ok: false,
      message: `apiVersion "${source.apiVersion}" does not match kind ${parsed.data} (expected ${expected})`,
    };
  }
  return { ok: true, kind: parsed.data };
}

/** Extensions that name one of our kinds must agree with themselves even when the data wins. */
function checkExtensionPair(extensions: NamedObject): { ok: true } | Failure {
  if (extensions.kind === undefined || !ObjectKindSchema.safeParse(extensions.kind).success) return { ok: true };
  return checkKind(extensions);
}

function checkName(kind: ObjectKind, source: NamedObject): RefResult {
  const { name, namespace } = source;
  if (name === undefined) {
    return { ok: false, message: `event names a ${kind} but no name: set the name in the data or the name extension` };
  }
  const namespaced = RESOURCES[kind].namespaced;
  if (namespaced && namespace === undefined) {
    return { ok: false, message: `${kind} "${name}" is namespaced but the event names no namespace` };
  }
  if (!namespaced && namespace !== undefined) {
    return { ok: false, message: `${kind} is cluster-scoped but the event names namespace "${namespace}"` };
  }
  const parsed = ObjectRefSchema.safeParse(namespace === undefined ? { kind, name } : { kind, name, namespace });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    return { ok: false, message: `invalid object reference: ${issues.join('; ')}` };
  }
  return { ok: true, ref: parsed.data };
}

/** `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects: for logs and work queues. */
export const objectKey = (ref: ObjectRef): string =>
  ref.namespace === undefined ? `${ref.kind}/${ref.name}` : `${ref.kind}/${ref.namespace}/${ref.name}`;

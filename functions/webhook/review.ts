/**
 * The IPPool admission review (AdmissionReview v1), pure: an AdmissionRequest and the pools
 * that exist → allowed, or denied with one field error per problem. A denial is a 422 `Invalid`
 * Status, like the API server's own validation errors, so kubectl prints its field errors:
 *   The IPPool "a" is invalid: spec.addresses[2]: "10.0.0.300" is not a valid address (…)
 * The message repeats them for every other client, which sees the API server's wrapping:
 *   admission webhook "ippools.mikrolb.de" denied the request: IPPool "a" is invalid: spec.addresses[2]: …
 */
import * as z from 'zod';
import { deepEqualJson } from '../../lib/core/equal.js';
import {
  describeSet, describeSpecialPurpose, emptySet, intersect, isEmpty, NO_ADDRESSES_LEFT, subtract, validatePoolAddresses,
  type AddressSet, type PoolEntryError,
} from '../../lib/ip/index.js';
import { scopeProblems } from '../../lib/core/pool-scope.js';
import { GROUP, IPPoolSchema, type IPPool } from '../../lib/k8s/schemas.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export const AdmissionRequestSchema = z.object({
  uid: z.string().min(1),
  kind: z.object({ group: z.string(), version: z.string(), kind: z.string() }),
  resource: z.object({ group: z.string(), version: z.string(), resource: z.string() }),
  subResource: z.string().optional(),
  name: z.string().optional(),
  operation: z.enum(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']),
  // The API server sends null for the object of a DELETE and the oldObject of a CREATE.
  object: z.unknown().optional(),
  oldObject: z.unknown().optional(),
  dryRun: z.boolean().optional(),
}).loose();
export type AdmissionRequest = z.infer<typeof AdmissionRequestSchema>;

export const AdmissionReviewSchema = z.object({
  apiVersion: z.literal(ADMISSION_API_VERSION),
  kind: z.literal('AdmissionReview'),
  request: AdmissionRequestSchema,
}).loose();
export type AdmissionReview = z.infer<typeof AdmissionReviewSchema>;

/** One field error, as in a Kubernetes Status (`details.causes`). */
export interface StatusCause {
  reason: 'FieldValueInvalid';
  field: string;
  message: string;
}

export interface DenialStatus {
  status: 'Failure';
  code: 422;
  reason: 'Invalid';
  message: string;
  details: { name: string; group: string; kind: 'IPPool'; causes: StatusCause[] };
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: DenialStatus;
  /** Shown by kubectl as `Warning: …` lines on an admitted change. */
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

export const reviewResponse = (response: AdmissionResponse): AdmissionReviewResponse =>
  ({ apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response });

/**
 * Reviews a CREATE or UPDATE of an IPPool; every other operation is allowed.
 * Denied: an object that is not a valid IPPool, invalid address entries (one error each), a
 * pool left with no addresses (special-purpose ones, never handed out, do not count: a pool
 * that lists some of them besides others is admitted with a warning), a serviceAllocation with invalid namespace names or label
 * selectors (negative priorities fail the schema), and addresses shared with another pool of
 * the same family.
 * On UPDATE the pool is not compared with itself, and overlaps it already had (created before
 * the webhook existed) do not block the change — only new shared addresses do (after a change
 * of ipFamily every shared address is new); a change of metadata alone is always allowed, so
 * finalizers can be removed. A pool being deleted is reviewed like any other: it still owns its
 * addresses until its finalizer goes, so a spec change must not take another pool's.
 */
export function reviewPool(request: AdmissionRequest, otherPools: readonly IPPool[]): AdmissionResponse {
  const { uid } = request;
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return { uid, allowed: true };
  const name = objectName(request.object) ?? request.name ?? '';
  if (request.kind.group !== GROUP || request.kind.kind !== 'IPPool') {
    return deny(uid, name, [cause('kind', `this webhook reviews ${GROUP} IPPools, not ${request.kind.group}/${request.kind.kind}`)]);
  }
  if (request.operation === 'UPDATE' && deepEqualJson(specOf(request.oldObject), specOf(request.object))) return { uid, allowed: true };
  const parsed = IPPoolSchema.safeParse(request.object);
  if (!parsed.success) {
    return deny(uid, name, parsed.error.issues.map((issue) => cause(fieldPath(issue.path), issue.message)));
  }
  const pool = parsed.data;
  const old = request.operation === 'UPDATE' ? IPPoolSchema.safeParse(request.oldObject) : undefined;

  const result = validatePoolAddresses(pool.spec.ipFamily, pool.spec.addresses, pool.spec.avoidBuggyIPs);
  const scope = scopeProblems(pool.spec.serviceAllocation).map((p) => cause(p.field, p.message));
  if (!result.ok || scope.length > 0) return deny(uid, name, [...(result.ok ? [] : result.errors.map(entryCause)), ...scope]);
  // What the pool shared before counts only within its family: a pool that changes ipFamily
  // (the CRD allows it) shared none of its new addresses.
  const before = old?.success === true && old.data.spec.ipFamily === pool.spec.ipFamily ? addressesOf(old.data) : undefined;
  const others = otherPools.filter((o) => o.metadata.name !== name && o.spec.ipFamily === pool.spec.ipFamily);
  const { causes, warnings } = overlaps(result.set, before, others);
  if (causes.length > 0) return deny(uid, name, causes);
  if (!isEmpty(result.specialPurpose)) {
    warnings.push(`spec.addresses includes special-purpose addresses MikroLB never hands out: ${describeSpecialPurpose(result.specialPurpose)}`);
  }
  return warnings.length > 0 ? { uid, allowed: true, warnings } : { uid, allowed: true };
}

const Specced = z.object({ spec: z.unknown() });

/** An object's spec as it was sent, whether or not it is a valid IPPool. */
function specOf(object: unknown): unknown {
  const parsed = Specced.safeParse(object);
  return parsed.success ? parsed.data.spec : undefined;
}

/** The denial message `kubectl apply` prints after "denied the request: ". */
export function denialMessage(name: string, causes: readonly StatusCause[]): string {
  return `IPPool "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join('; ')}`;
}

function overlaps(
  set: AddressSet, before: AddressSet | undefined, others: readonly IPPool[],
): { causes: StatusCause[]; warnings: string[] } {
  const causes: StatusCause[] = [];
  const warnings: string[] = [];
  for (const other of others) {
    const otherSet = addressesOf(other);
    if (otherSet === undefined) continue; // an invalid pool owns nothing (see lib/core/pools.ts)
    const shared = intersect(set, otherSet);
    if (isEmpty(shared)) continue;
    const added = subtract(shared, before === undefined ? emptySet(set.family) : intersect(before, otherSet));
    const otherName = other.metadata.name;
    if (!isEmpty(added)) {
      causes.push(cause('spec.addresses', `shares ${describeSet(added)} with IPPool "${otherName}" (an address can belong to only one pool)`));
    } else {
      warnings.push(`spec.addresses still shares ${describeSet(shared)} with IPPool "${otherName}"; they belong to the older of the two pools`);
    }
  }
  return { causes, warnings };
}

function addressesOf(pool: IPPool): AddressSet | undefined {
  const result = validatePoolAddresses(pool.spec.ipFamily, pool.spec.addresses, pool.spec.avoidBuggyIPs);
  return result.ok ? result.set : undefined;
}

/** `spec.addresses[2]: <problem>`; the entry is quoted first when the problem does not name it. */
function entryCause(error: PoolEntryError): StatusCause {
  if (error.index === NO_ADDRESSES_LEFT) return cause('spec.addresses', error.message);
  const body = error.entry.trim().replace(/^!\s*/, '');
  const message = error.message.includes(body) ? error.message : `"${error.entry}": ${error.message}`;
  return cause(`spec.addresses[${error.index}]`, message);
}

/** A zod issue path as a Kubernetes field path: `spec.addresses[2]`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '<object>' : out;
}

const cause = (field: string, message: string): StatusCause => ({ reason: 'FieldValueInvalid', field, message });

function deny(uid: string, name: string, causes: StatusCause[]): AdmissionResponse {
  return {
    uid,
    allowed: false,
    status: {
      status: 'Failure', code: 422, reason: 'Invalid', message: denialMessage(name, causes),
      details: { name, group: GROUP, kind: 'IPPool', causes },
    },
  };
}

const NamedSchema = z.object({ metadata: z.object({ name: z.string().min(1) }) });

function objectName(object: unknown): string | undefined {
  const named = NamedSchema.safeParse(object);
  return named.success ? named.data.metadata.name : undefined;
}

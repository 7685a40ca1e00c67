import * as z from 'zod';
import { KubeError } from './errors.js';
import { RESOURCES, type Kind } from './resources.js';
import { IPAllocationSpecSchema, IPAllocationStatusSchema, IPPoolSpecSchema, IPPoolStatusSchema } from './schemas.js';

/** The parts of an object the in-memory API server reads; everything else is kept as given. */
export const MetadataSchema = z.object({
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().int().optional(),
  creationTimestamp: z.string().nullish(),
  deletionTimestamp: z.string().nullish(),
  deletionGracePeriodSeconds: z.number().int().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
}).loose();

const StoredObjectSchema = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: MetadataSchema,
}).loose();
export type StoredObject = z.infer<typeof StoredObjectSchema>;

/** Kinds whose status can only be written through the status subresource. */
export const STATUS_SUBRESOURCE: ReadonlySet<Kind> = new Set<Kind>(['IPPool', 'IPAllocation', 'Service']);

export const isKind = (k: unknown): k is Kind => typeof k === 'string' && Object.hasOwn(RESOURCES, k);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A deep copy through JSON, as the wire would make it (undefined members disappear). */
export function toStored(value: unknown, kind?: Kind): StoredObject {
  const json: unknown = value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  const parsed = StoredObjectSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const what = kind ? RESOURCES[kind].kind : 'object';
  throw new KubeError(`${what} is invalid: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'malformed'}`, 422, 'Invalid');
}

/** JSON with sorted keys: equal objects give equal strings whatever their key order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isRecord(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v) ?? '';
}

/** What `metadata.generation` tracks: everything but metadata and status. */
export function specOf(obj: StoredObject): string {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj;
  return canonical(rest);
}

/** RFC 3339 with whole seconds, as Kubernetes writes metadata timestamps. */
export const rfc3339 = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

const qualified = (kind: Kind): string => {
  const t = RESOURCES[kind];
  return t.group ? `${t.plural}.${t.group}` : t.plural;
};

export const notFound = (kind: Kind, name: string): KubeError =>
  new KubeError(`${qualified(kind)} "${name}" not found`, 404, 'NotFound');
export const alreadyExists = (kind: Kind, name: string): KubeError =>
  new KubeError(`${qualified(kind)} "${name}" already exists`, 409, 'AlreadyExists');
export const conflict = (kind: Kind, name: string, detail?: string): KubeError =>
  new KubeError(`Operation cannot be fulfilled on ${qualified(kind)} "${name}": ${detail ?? 'the object has been modified; please apply your changes to the latest version and try again'}`, 409, 'Conflict');
export const invalid = (kind: Kind, name: string, detail: string): KubeError =>
  new KubeError(`${RESOURCES[kind].group ? `${kind}.${RESOURCES[kind].group}` : kind} "${name}" is invalid: ${detail}`, 422, 'Invalid');
export const badRequest = (message: string): KubeError => new KubeError(message, 400, 'BadRequest');

/** The CRDs' OpenAPI/CEL validation, which the API server applies to every write. */
const CONTENT_SCHEMAS: Partial<Record<Kind, { spec: z.ZodType; status: z.ZodType }>> = {
  IPPool: { spec: IPPoolSpecSchema, status: IPPoolStatusSchema },
  IPAllocation: { spec: IPAllocationSpecSchema, status: IPAllocationStatusSchema },
};

export function validateContent(kind: Kind, obj: StoredObject, part: 'spec' | 'status'): void {
  const schema = CONTENT_SCHEMAS[kind]?.[part];
  const value = obj[part];
  if (!schema || (part === 'status' && value === undefined)) return;
  const parsed = schema.safeParse(value);
  if (parsed.success) return;
  const issue = parsed.error.issues[0];
  throw invalid(kind, obj.metadata.name ?? '', `${[part, ...(issue?.path ?? [])].join('.')}: ${issue?.message ?? 'invalid'}`);
}

import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import * as z from 'zod';
import { EndpointSliceSchema, NamespaceSchema, ServiceSchema } from './core-objects.js';
import { MetadataSchema } from './memory-object.js';
import { apiVersionOf, hasGeneration, RESOURCES } from './resources.js';
import { IPAddressClaimSchema, IPAllocationSchema, IPPoolSchema } from './schemas.js';
import { messageOf } from '../errors.js';

/**
 * Cluster state for `mikrolb invoke --state`: Kubernetes objects in YAML as `kubectl get -o
 * yaml` shows them. What the API server would have added (uid, resourceVersion,
 * creationTimestamp, and generation for the kinds it gives one: not Services or Namespaces) is
 * filled deterministically, so a run repeats exactly; the order of the objects in the input is
 * their age order.
 */

export const FIXTURE_KINDS = ['IPPool', 'IPAllocation', 'IPAddressClaim', 'Service', 'EndpointSlice', 'Namespace'] as const;
export type FixtureKind = (typeof FIXTURE_KINDS)[number];
/** Kinds a `kubectl get` dump may contain that are not state the functions read. */
const SKIPPED_KINDS: ReadonlySet<string> = new Set(['Event']);
const FILE_PATTERN = /\.(ya?ml|json)$/i;
const EPOCH = Date.UTC(2026, 0, 1);

export interface FixtureObject {
  apiVersion: string;
  kind: FixtureKind;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
    generation?: number;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export type FixtureResult = { ok: true; objects: FixtureObject[] } | { ok: false; message: string };

const DocumentSchema = z.object({
  apiVersion: z.string().min(1),
  kind: z.string().min(1),
  // what the in-memory API server reads checked here too, so a bad field is named with its document
  metadata: MetadataSchema.extend({
    name: z.string().min(1),
    namespace: z.string().nullish(),
    uid: z.string().min(1).optional(),
    resourceVersion: z.union([z.string().min(1), z.number().int().nonnegative().transform(String)]).optional(),
    creationTimestamp: z.string().nullish(),
    generation: z.number().int().positive().optional(),
  }).loose(),
}).loose();

/** A List (`kind: List`, `ServiceList`, ...); `items: null` is how the API server writes an empty one. */
const ListKindSchema = z.object({ kind: z.string().regex(/List$/) }).loose();
const ListItemsSchema = z.object({ items: z.array(z.unknown()).nullable() }).loose();
/** The document `mikrolb invoke` prints: its `objects` are the state the next run starts from. */
const InvokeOutputSchema = z.object({ function: z.string(), objects: z.array(z.unknown()) }).loose();
/** A router's state (`--router`'s format, `mikrolb router dump`): no `kind`, its `menus`. */
const RouterStateSchema = z.object({ kind: z.never().optional(), menus: z.record(z.string(), z.unknown()) }).loose();

const isFixtureKind = (k: string): k is FixtureKind => FIXTURE_KINDS.some((f) => f === k);

/** What the functions read of each kind (lib/k8s/typed.ts parses them with the same schemas). */
const KIND_SCHEMAS: Readonly<Record<FixtureKind, z.ZodType>> = {
  IPPool: IPPoolSchema, IPAllocation: IPAllocationSchema, IPAddressClaim: IPAddressClaimSchema,
  Service: ServiceSchema, EndpointSlice: EndpointSliceSchema, Namespace: NamespaceSchema,
};

/**
 * A field of the wrong type (a string where a list belongs): no API server holds such an object,
 * so the fixture is wrong, not the function. A field left out (or null), or a rule across fields
 * (an IPAllocation naming both a pool and an address), is left to the function, which answers it
 * as it would in a cluster.
 */
function wrongType(object: FixtureObject): string | undefined {
  const parsed = KIND_SCHEMAS[object.kind].safeParse(object, { reportInput: true });
  if (parsed.success) return undefined;
  const issue = parsed.error.issues.find((i) => (i.code === 'invalid_type' || i.code === 'invalid_union') && i.input !== undefined && i.input !== null);
  return issue === undefined ? undefined : `${issue.path.join('.')}: ${issue.message}`;
}

interface RawDocument {
  value: unknown;
  where: string;
}

/**
 * `docs`: the objects; `documents`: how many documents the text held, empty ones left out;
 * `routers`: how many of them were a router's state (left out of a folder).
 */
type Documents = { ok: true; docs: RawDocument[]; documents: number; routers: number } | { ok: false; message: string };

/**
 * Every document of a YAML stream (lists flattened, empty documents skipped). A router's state
 * is left out of a folder (a fixture keeps its router.json beside its state.yaml) and refused
 * as a file named on its own.
 */
function readDocuments(text: string, origin: string, inFolder = false): Documents {
  const docs: RawDocument[] = [];
  let documents = 0;
  let routers = 0;
  for (const [i, doc] of parseAllDocuments(text).entries()) {
    const where = `${origin} document ${i + 1}`;
    const error = doc.errors[0];
    // the library's message goes on after a colon with the lines around the error
    if (error) return { ok: false, message: `${where}: ${(error.message.split('\n')[0] ?? '').replace(/:\s*$/, '') || 'invalid YAML'}` };
    const value = documentValue(doc);
    if (!value.ok) return { ok: false, message: `${where}: ${value.message}` };
    if (value.value === null || value.value === undefined) continue;
    documents++;
    if (RouterStateSchema.safeParse(value.value).success) {
      routers++;
      if (inFolder) continue;
      return { ok: false, message: `${where}: a router's state ({"version", "menus"}), which --router takes; it holds no Kubernetes objects` };
    }
    const list = ListKindSchema.safeParse(value.value);
    const output = InvokeOutputSchema.safeParse(value.value);
    if (list.success) {
      const items = ListItemsSchema.safeParse(value.value);
      if (!items.success) return { ok: false, message: `${where}: ${list.data.kind}: items must be a list of objects` };
      docs.push(...(items.data.items ?? []).map((item, j) => ({ value: item, where: `${where} item ${j + 1}` })));
    } else if (output.success) docs.push(...output.data.objects.map((item, j) => ({ value: item, where: `${where} objects[${j}]` })));
    else docs.push({ value: value.value, where });
  }
  return { ok: true, docs, documents, routers };
}

/**
 * A document's value. Converting it can still throw on a document that parsed: aliases that
 * would expand without bound (the library's guard against a "billion laughs").
 */
function documentValue(doc: { toJS(): unknown }): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: doc.toJS() };
  } catch (e) {
    return { ok: false, message: messageOf(e) };
  }
}

const uidOf = (kind: string, namespace: string | undefined, name: string): string => {
  const h = createHash('sha256').update(`${kind}/${namespace ?? ''}/${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};

const timestampAt = (index: number): string => new Date(EPOCH + index * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

type Checked = { ok: true; object?: FixtureObject } | { ok: false; message: string };

/** Validates one document and fills what the API server would have set; `index` is its age. */
function toObject(doc: RawDocument, index: number): Checked {
  const parsed = DocumentSchema.safeParse(doc.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, message: `${doc.where}: ${issue?.path.join('.') || 'the document'}: ${issue?.message ?? 'invalid'}` };
  }
  const { apiVersion, kind, metadata } = parsed.data;
  if (SKIPPED_KINDS.has(kind)) return { ok: true };
  if (!isFixtureKind(kind)) return { ok: false, message: `${doc.where}: kind ${kind} is not one of ${FIXTURE_KINDS.join(', ')}` };
  const expected = apiVersionOf(RESOURCES[kind]);
  if (apiVersion !== expected) return { ok: false, message: `${doc.where}: ${kind} ${metadata.name} has apiVersion ${apiVersion}, expected ${expected}` };
  const namespace = RESOURCES[kind].namespaced ? metadata.namespace || 'default' : undefined;
  const { namespace: _ns, ...meta } = metadata;
  const object: FixtureObject = {
    ...parsed.data,
    kind,
    metadata: {
      ...meta,
      ...(namespace !== undefined ? { namespace } : {}),
      uid: metadata.uid ?? uidOf(kind, namespace, metadata.name),
      resourceVersion: metadata.resourceVersion ?? String(index + 1),
      creationTimestamp: metadata.creationTimestamp ?? timestampAt(index),
      ...(metadata.generation !== undefined || hasGeneration(kind) ? { generation: metadata.generation ?? 1 } : {}),
    },
  };
  const problem = wrongType(object);
  if (problem !== undefined) return { ok: false, message: `${doc.where}: ${kind} ${namespace === undefined ? '' : `${namespace}/`}${metadata.name}: ${problem}` };
  return { ok: true, object };
}

function toObjects(docs: readonly RawDocument[]): FixtureResult {
  const objects: FixtureObject[] = [];
  const seen = new Map<string, string>();
  for (const doc of docs) {
    const checked = toObject(doc, objects.length);
    if (!checked.ok) return checked;
    const obj = checked.object;
    if (!obj) continue;
    const id = `${obj.kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`;
    const first = seen.get(id);
    if (first !== undefined) return { ok: false, message: `${doc.where}: ${id} is already given in ${first}` };
    seen.set(id, doc.where);
    objects.push(obj);
  }
  return { ok: true, objects };
}

/** Parses one YAML (or JSON) text; `origin` names it in error messages. */
export function parseFixtureText(text: string, origin: string): FixtureResult {
  const read = readDocuments(text, origin);
  return read.ok ? toObjects(read.docs) : read;
}


/** Reads a file, or every *.yaml/*.yml/*.json file of a folder in name order (router states left out). */
export async function loadFixtureState(path: string): Promise<FixtureResult> {
  let files: string[];
  let inFolder = false;
  try {
    const info = await stat(path);
    inFolder = info.isDirectory();
    files = inFolder
      ? (await readdir(path, { withFileTypes: true }))
        .filter((e) => e.isFile() && FILE_PATTERN.test(e.name))
        .map((e) => e.name)
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
        .map((name) => join(path, name))
      : [path];
  } catch (e) {
    return { ok: false, message: `cannot read the state ${path}: ${messageOf(e)}` };
  }
  // a mistyped folder or a kubectl redirect that failed is not an empty cluster: that is a List
  if (files.length === 0) return { ok: false, message: `${path} holds no *.yaml, *.yml or *.json file` };
  const docs: RawDocument[] = [];
  let documents = 0;
  let routers = 0;
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      return { ok: false, message: `cannot read ${file}: ${messageOf(e)}` };
    }
    const read = readDocuments(text, file, inFolder);
    if (!read.ok) return read;
    docs.push(...read.docs);
    documents += read.documents;
    routers += read.routers;
  }
  // a fixture folder whose state.yaml was left out is not an empty cluster either
  if (documents > 0 && documents === routers) return { ok: false, message: `${path} holds no Kubernetes objects, only a router's state (for --router); an empty state is a List with items: []` };
  if (documents === 0) return { ok: false, message: `${path} holds no objects: it is empty (an empty state is a List with items: [])` };
  return toObjects(docs);
}

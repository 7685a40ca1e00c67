import type * as z from 'zod';
import { EndpointSliceSchema, NamespaceSchema, ServiceSchema, type EndpointSlice, type Namespace, type Service } from './core-objects.js';
import type { KubePort, ListOptions } from './port.js';
import type { Kind } from './resources.js';
import { isBadRequest } from './errors.js';
import { IPAddressClaimSchema, IPAllocationSchema, IPPoolSchema, type IPAddressClaim, type IPAllocation, type IPPool } from './schemas.js';

/** An object the API server returned that does not match our schema (reported, never crashed on). */
export interface InvalidObject {
  kind: Kind;
  name: string;
  message: string;
}

export interface Listed<T> {
  items: T[];
  invalid: InvalidObject[];
}

function nameOf(raw: unknown): string {
  if (typeof raw === 'object' && raw !== null && 'metadata' in raw) {
    const m = raw.metadata;
    if (typeof m === 'object' && m !== null && 'name' in m && typeof m.name === 'string') return m.name;
  }
  return '<unnamed>';
}

/** A schema's complaints about an object, as one line (`spec.addresses: …; …`). */
export const schemaProblem = (issues: readonly { path: readonly PropertyKey[]; message: string }[]): string =>
  issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ');

async function listParsed<S extends z.ZodType>(kube: KubePort, kind: Kind, schema: S, opts?: ListOptions): Promise<Listed<z.infer<S>>> {
  const items: z.infer<S>[] = [];
  const invalid: InvalidObject[] = [];
  for (const raw of await kube.list(kind, opts)) {
    const r = schema.safeParse(raw);
    if (r.success) items.push(r.data);
    else invalid.push({ kind, name: nameOf(raw), message: schemaProblem(r.error.issues) });
  }
  return { items, invalid };
}

async function getParsed<S extends z.ZodType>(kube: KubePort, kind: Kind, schema: S, name: string, namespace?: string): Promise<z.infer<S> | undefined> {
  const raw = await kube.get(kind, name, namespace);
  if (raw === undefined) return undefined;
  const r = schema.safeParse(raw);
  if (!r.success) throw new InvalidObjectError({ kind, name, message: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
  return r.data;
}

export class InvalidObjectError extends Error {
  override readonly name = 'InvalidObjectError';
  constructor(readonly detail: InvalidObject) {
    super(`${detail.kind} ${detail.name} does not match the expected schema: ${detail.message}`);
  }
}

export const listPools = (kube: KubePort): Promise<Listed<IPPool>> => listParsed(kube, 'IPPool', IPPoolSchema);
export const listAllocations = (kube: KubePort, labelSelector?: string): Promise<Listed<IPAllocation>> =>
  listParsed(kube, 'IPAllocation', IPAllocationSchema, labelSelector ? { labelSelector } : {});
/** The phases in which an allocation holds its address and waits for nothing. */
const SETTLED_PHASES = ['Allocated', 'Programmed'] as const;
const UNSETTLED_SELECTOR = SETTLED_PHASES.map((p) => `status.phase!=${p}`).join(',');

/**
 * The allocations that are not settled: Failed, Pending, or without a phase yet (new). The API
 * server filters them by the CRD's selectable field `status.phase`, so a cluster of thousands
 * of settled allocations answers with the few that wait, not with all of them. A cluster
 * whose CRD has no selectable fields (Kubernetes 1.30, where they are off by default; a CRD
 * not yet updated) refuses the selector: then every allocation is listed and filtered here.
 */
export async function listUnsettledAllocations(kube: KubePort): Promise<Listed<IPAllocation>> {
  try {
    return await listParsed(kube, 'IPAllocation', IPAllocationSchema, { fieldSelector: UNSETTLED_SELECTOR });
  } catch (e) {
    if (!isBadRequest(e)) throw e;
    const all = await listAllocations(kube);
    return { ...all, items: all.items.filter((a) => !SETTLED_PHASES.some((p) => p === a.status?.phase)) };
  }
}

export const listServices = (kube: KubePort, namespace?: string): Promise<Listed<Service>> =>
  listParsed(kube, 'Service', ServiceSchema, namespace ? { namespace } : {});
export const listEndpointSlices = (kube: KubePort, namespace: string, labelSelector: string): Promise<Listed<EndpointSlice>> =>
  listParsed(kube, 'EndpointSlice', EndpointSliceSchema, { namespace, labelSelector });

export const listClaims = (kube: KubePort, labelSelector?: string): Promise<Listed<IPAddressClaim>> =>
  listParsed(kube, 'IPAddressClaim', IPAddressClaimSchema, labelSelector ? { labelSelector } : {});
export const getClaim = (kube: KubePort, name: string): Promise<IPAddressClaim | undefined> => getParsed(kube, 'IPAddressClaim', IPAddressClaimSchema, name);

export const getPool = (kube: KubePort, name: string): Promise<IPPool | undefined> => getParsed(kube, 'IPPool', IPPoolSchema, name);
export const getAllocation = (kube: KubePort, name: string): Promise<IPAllocation | undefined> => getParsed(kube, 'IPAllocation', IPAllocationSchema, name);
export const getService = (kube: KubePort, namespace: string, name: string): Promise<Service | undefined> =>
  getParsed(kube, 'Service', ServiceSchema, name, namespace);
export const getNamespace = (kube: KubePort, name: string): Promise<Namespace | undefined> => getParsed(kube, 'Namespace', NamespaceSchema, name);

/** REST coordinates of every kind the product reads or writes. */
export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /**
   * Fields a field selector may name besides `metadata.name` (and `metadata.namespace`): a
   * custom resource's `selectableFields` (its CRD in deploy/crds declares the same).
   */
  selectableFields?: readonly string[];
  /**
   * The API server gives its objects a `metadata.generation` (1 on create, one more at each
   * change of the spec): every custom resource, and EndpointSlices. Services, Namespaces, Events
   * and Leases carry none.
   */
  generation?: boolean;
}

export const RESOURCES = {
  IPPool: { group: 'mikrolb.de', version: 'v1alpha1', plural: 'ippools', kind: 'IPPool', namespaced: false, generation: true },
  IPAllocation: { group: 'mikrolb.de', version: 'v1alpha1', plural: 'ipallocations', kind: 'IPAllocation', namespaced: false, selectableFields: ['status.phase'], generation: true },
  IPAddressClaim: { group: 'mikrolb.de', version: 'v1alpha1', plural: 'ipaddressclaims', kind: 'IPAddressClaim', namespaced: false, generation: true },
  Service: { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  EndpointSlice: { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', kind: 'EndpointSlice', namespaced: true, generation: true },
  Event: { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true },
  Namespace: { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  Lease: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true },
} as const satisfies Record<string, ResourceType>;

export type Kind = keyof typeof RESOURCES;

/** The fields besides `metadata.name` and `metadata.namespace` a field selector may name for a kind. */
export function selectableFieldsOf(kind: Kind): readonly string[] {
  const t: ResourceType = RESOURCES[kind];
  return t.selectableFields ?? [];
}

/** Whether the API server gives a kind's objects a `metadata.generation` (see ResourceType.generation). */
export function hasGeneration(kind: Kind): boolean {
  const t: ResourceType = RESOURCES[kind];
  return t.generation === true;
}

export const apiVersionOf = (t: ResourceType): string => (t.group ? `${t.group}/${t.version}` : t.version);

/** `/apis/group/version[/namespaces/ns]/plural[/name][/subresource]` */
export function resourcePath(t: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  const base = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
  const ns = t.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const tail = [name, subresource].filter((p): p is string => Boolean(p)).map(encodeURIComponent).join('/');
  return `${base}${ns}/${t.plural}${tail ? `/${tail}` : ''}`;
}

import { CloudEvent, HTTP } from 'cloudevents';
import type { EventMessage } from './cloudevent.js';
import type { ObjectKind, ObjectRef } from './invocation.js';

/** Kubernetes objects as the ApiServerSource sends them in Resource mode (trimmed). */
export const OBJECTS: Record<ObjectKind, Record<string, unknown>> = {
  IPPool: {
    apiVersion: 'mikrolb.de/v1alpha1',
    kind: 'IPPool',
    metadata: { name: 'lan', uid: '0b6c1f7e-1d2a-4f4e-9a51-3c0d8e2f1a10', resourceVersion: '4711', generation: 2 },
    spec: { ipFamily: 'IPv4', addresses: ['192.168.1.240/28', '!192.168.1.255'], autoAssign: true },
    status: { totalAddresses: '15', allocatedAddresses: '1', freeAddresses: '14' },
  },
  IPAllocation: {
    apiVersion: 'mikrolb.de/v1alpha1',
    kind: 'IPAllocation',
    metadata: {
      name: 'shop-web-ipv4',
      labels: { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web' },
      finalizers: ['mikrolb.de/finalizer'],
    },
    spec: { ipFamily: 'IPv4' },
    status: { phase: 'Allocated', address: '192.168.1.241' },
  },
  Service: {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'shop', annotations: { 'mikrolb.de/load-balancer-pools': 'lan' } },
    spec: { type: 'LoadBalancer', ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] },
    status: { loadBalancer: {} },
  },
  EndpointSlice: {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'web-x7k2p', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.244.1.7'], conditions: { ready: true } }],
    ports: [{ port: 8080, protocol: 'TCP' }],
  },
  IPAddressClaim: {
    apiVersion: 'mikrolb.de/v1alpha1',
    kind: 'IPAddressClaim',
    metadata: { name: '192.168.1.241', labels: { 'mikrolb.de/pool': 'lan' } },
    spec: { address: '192.168.1.241', poolName: 'lan', allocationName: 'shop-web-ipv4', allocationUID: '5f1d7c2e-8a40-4b1e-9c3d-2e6f0a9b8c71' },
  },
  Namespace: {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop', tenant: 'a' } },
  },
};

export const REFS: Record<ObjectKind, ObjectRef> = {
  IPPool: { kind: 'IPPool', name: 'lan' },
  IPAllocation: { kind: 'IPAllocation', name: 'shop-web-ipv4' },
  Service: { kind: 'Service', namespace: 'shop', name: 'web' },
  EndpointSlice: { kind: 'EndpointSlice', namespace: 'shop', name: 'web-x7k2p' },
  IPAddressClaim: { kind: 'IPAddressClaim', name: '192.168.1.241' },
  Namespace: { kind: 'Namespace', name: 'shop' },
};

export const API_VERSIONS: Record<ObjectKind, string> = {
  IPPool: 'mikrolb.de/v1alpha1',
  IPAllocation: 'mikrolb.de/v1alpha1',
  Service: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
  IPAddressClaim: 'mikrolb.de/v1alpha1',
  Namespace: 'v1',
};

export const APISERVER_SOURCE = 'https://10.96.0.1:443';

/** The extensions the ApiServerSource copies from the object (namespace empty when cluster-scoped). */
export function extensionsFor(ref: ObjectRef): Record<string, string> {
  return { kind: ref.kind, apiversion: API_VERSIONS[ref.kind], name: ref.name, namespace: ref.namespace ?? '' };
}

/** An ObjectReference as Go marshals it (`namespace` omitted when empty). */
export function objectReferenceFor(ref: ObjectRef): Record<string, string> {
  return { kind: ref.kind, ...(ref.namespace ? { namespace: ref.namespace } : {}), name: ref.name, apiVersion: API_VERSIONS[ref.kind] };
}

/** An event shaped like the ApiServerSource's; `strict: false` lets tests build broken ones. */
export function apiServerEvent(attrs: Record<string, unknown>, strict = true): CloudEvent<unknown> {
  return new CloudEvent<unknown>(
    { id: 'evt-1', source: APISERVER_SOURCE, specversion: '1.0', datacontenttype: 'application/json', ...attrs },
    strict,
  );
}

export type Encoding = 'binary' | 'structured';

/** Encodes with the real SDK, so tests do not check our format against itself. */
export function encode(event: CloudEvent<unknown>, encoding: Encoding): EventMessage {
  const message = encoding === 'binary' ? HTTP.binary(event) : HTTP.structured(event);
  return { headers: message.headers, body: typeof message.body === 'string' ? message.body : '' };
}

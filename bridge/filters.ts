import * as z from 'zod';
import { objectKey } from '../lib/events/identity.js';
import type { ObjectKind } from '../lib/events/invocation.js';
import { GROUP, LABEL_SLICE_SERVICE_NAME, FINALIZER } from '../lib/k8s/keys.js';

const ServiceShape = z.object({
  metadata: z.object({
    annotations: z.record(z.string(), z.string()).optional(),
    finalizers: z.array(z.string()).optional(),
  }),
  spec: z.object({ type: z.string().optional() }).optional(),
});

const SliceShape = z.object({
  metadata: z.object({
    namespace: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
  }),
});

/**
 * A Service can concern us only if it is a LoadBalancer or carries our annotations or
 * finalizer; whether its class is ours is for the functions to decide.
 */
export function serviceConcernsUs(obj: unknown): boolean {
  const parsed = ServiceShape.safeParse(obj);
  if (!parsed.success) return false;
  const { metadata, spec } = parsed.data;
  return (
    spec?.type === 'LoadBalancer' ||
    Object.keys(metadata.annotations ?? {}).some((key) => key.startsWith(`${GROUP}/`)) ||
    (metadata.finalizers ?? []).includes(FINALIZER)
  );
}

/**
 * An EndpointSlice matters when its Service is tracked. A slice skipped because its Service was
 * not (yet) tracked loses nothing: the Service's own event makes program read all its slices.
 */
export function sliceConcernsUs(isTrackedService: (key: string) => boolean): (obj: unknown) => boolean {
  return (obj) => {
    const parsed = SliceShape.safeParse(obj);
    if (!parsed.success) return false;
    const { namespace, labels } = parsed.data.metadata;
    const service = labels?.[LABEL_SLICE_SERVICE_NAME];
    return namespace !== undefined && service !== undefined && isTrackedService(objectKey({ kind: 'Service', namespace, name: service }));
  };
}

/** Which objects of each kind the bridge tracks. */
export function interestFilters(isTrackedService: (key: string) => boolean): Record<ObjectKind, (obj: unknown) => boolean> {
  const everything = (): boolean => true;
  return { IPPool: everything, IPAllocation: everything, Service: serviceConcernsUs, EndpointSlice: sliceConcernsUs(isTrackedService), IPAddressClaim: everything, Namespace: everything };
}

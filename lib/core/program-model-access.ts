import * as z from 'zod';
import type { Service } from '../k8s/core-objects.js';
import { parseSourceRange, type SourceRange } from '../router/index.js';

/** The legacy spelling of loadBalancerSourceRanges (comma-separated), read when the field is empty, as Kubernetes does. */
export const ANNOTATION_SOURCE_RANGES = 'service.beta.kubernetes.io/load-balancer-source-ranges';

/** The Service fields that restrict who reaches it and how clients stick to endpoints. */
const AccessSpecSchema = z.object({
  loadBalancerSourceRanges: z.array(z.string()).optional(),
  sessionAffinity: z.string().optional(),
}).loose();

function accessSpec(svc: Service): z.infer<typeof AccessSpecSchema> {
  const parsed = AccessSpecSchema.safeParse(svc.spec);
  return parsed.success ? parsed.data : {};
}

/** The ranges as written: the field's entries, else the annotation's comma-separated ones. */
function givenRanges(svc: Service): string[] {
  const fromSpec = (accessSpec(svc).loadBalancerSourceRanges ?? []).map((r) => r.trim()).filter((r) => r !== '');
  if (fromSpec.length > 0) return fromSpec;
  return (svc.metadata.annotations?.[ANNOTATION_SOURCE_RANGES] ?? '').split(',').map((r) => r.trim()).filter((r) => r !== '');
}

/**
 * The source ranges a Service admits: spec.loadBalancerSourceRanges, else the legacy annotation.
 * Undefined when neither names a range (everyone is admitted, as in Kubernetes). Entries that
 * are not CIDRs are left out; when none is left the Service admits no one: a typo must not open
 * a port its owner meant to restrict.
 */
export function sourceRangesOf(svc: Service): SourceRange[] | undefined {
  const given = givenRanges(svc);
  if (given.length === 0) return undefined;
  return given.flatMap((text) => [parseSourceRange(text)].filter((r): r is SourceRange => r !== undefined));
}

/**
 * `ClientIP` when the Service asks for client affinity. sessionAffinityConfig.clientIP.timeoutSeconds
 * is not honoured: the router's classifier pins a client for as long as the endpoint set stays
 * the same, with no idle timeout.
 */
export function sessionAffinityOf(svc: Service): 'ClientIP' | undefined {
  return accessSpec(svc).sessionAffinity === 'ClientIP' ? 'ClientIP' : undefined;
}

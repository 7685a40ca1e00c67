import * as z from 'zod';
import { ConditionSchema, IPFamilySchema, ObjectMetaSchema } from './schemas.js';

/**
 * The parts of core Kubernetes objects the functions read. Every level is `loose` so an object
 * read, changed and written back with PUT keeps the fields we do not model.
 */

export const ServicePortSchema = z.object({
  name: z.string().optional(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).default('TCP'),
  port: z.number().int(),
  targetPort: z.union([z.number().int(), z.string()]).optional(),
}).loose();
export type ServicePort = z.infer<typeof ServicePortSchema>;

export const LoadBalancerIngressSchema = z.object({
  ip: z.string().optional(),
  hostname: z.string().optional(),
  ipMode: z.enum(['VIP', 'Proxy']).optional(),
}).loose();
export type LoadBalancerIngress = z.infer<typeof LoadBalancerIngressSchema>;

export const ServiceSchema = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: ObjectMetaSchema,
  spec: z.object({
    type: z.string().default('ClusterIP'),
    loadBalancerClass: z.string().optional(),
    /** Deprecated by Kubernetes, still honoured as an explicit address (as MetalLB does). */
    loadBalancerIP: z.string().optional(),
    ipFamilies: z.array(IPFamilySchema).optional(),
    ipFamilyPolicy: z.string().optional(),
    ports: z.array(ServicePortSchema).optional(),
  }).loose().default({ type: 'ClusterIP' }),
  status: z.object({
    loadBalancer: z.object({ ingress: z.array(LoadBalancerIngressSchema).optional() }).loose().optional(),
    conditions: z.array(ConditionSchema.loose()).optional(),
  }).loose().optional(),
}).loose();
export type Service = z.infer<typeof ServiceSchema>;

/** A Namespace: only its labels are read (pools scoped by namespaceSelectors). */
export const NamespaceSchema = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: ObjectMetaSchema,
}).loose();
export type Namespace = z.infer<typeof NamespaceSchema>;

export const EndpointSliceSchema = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: ObjectMetaSchema,
  addressType: z.enum(['IPv4', 'IPv6', 'FQDN']),
  endpoints: z.array(z.object({
    addresses: z.array(z.string()),
    conditions: z.object({ ready: z.boolean().optional(), serving: z.boolean().optional(), terminating: z.boolean().optional() }).loose().optional(),
  }).loose()).nullish().transform((e) => e ?? []),
  ports: z.array(z.object({
    name: z.string().optional(),
    protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
    port: z.number().int().optional(),
  }).loose()).nullish().transform((p) => p ?? []),
}).loose();
export type EndpointSlice = z.infer<typeof EndpointSliceSchema>;

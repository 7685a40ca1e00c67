import * as z from 'zod';
import { IP_FAMILIES } from '../ip/index.js';
import { GROUP } from './keys.js';

/**
 * Zod schemas for the MikroLB CRDs (mikrolb.de/v1alpha1) and the parts of core objects the
 * functions read. They agree with deploy/crds/*.yaml: test/crd-schemas.test.ts feeds the same
 * examples to both and expects the same verdicts.
 */

export { GROUP };
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const IPFamilySchema = z.enum(IP_FAMILIES);

const POOL_NAME = /^[a-z0-9]([a-z0-9\-.]*[a-z0-9])?$/;
/**
 * Empty (the route's interface) or a RouterOS interface name such as `ether1`, `bridge.lan`,
 * `vlan_10` or `e`: letters, digits, `_`, `.` and `-`, not starting or ending with `.` or `-`.
 * Narrower than RouterOS allows: no `=`, whitespace, control or quoting characters reach an API
 * word (`=interface=…`) or a terminal pasting it. deploy/crds/ippools.mikrolb.de.yaml has the same pattern.
 */
const INTERFACE_NAME = /^(|[a-zA-Z0-9_]([a-zA-Z0-9_.-]*[a-zA-Z0-9_])?)$/;
const INTERFACE_NAME_RULE = 'must be a router interface name: letters, digits, "_", "." and "-", not starting or ending with "." or "-"';
export const PoolNameSchema = z.string().max(253).regex(POOL_NAME, 'must be a lowercase DNS-style name');

export const ConditionSchema = z.object({
  type: z.string().min(1),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().min(1),
  message: z.string(),
  lastTransitionTime: z.string(),
  observedGeneration: z.number().int().nonnegative().optional(),
});
export type Condition = z.infer<typeof ConditionSchema>;

export const ObjectMetaSchema = z.object({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().int().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
  ownerReferences: z.array(z.object({ apiVersion: z.string(), kind: z.string(), name: z.string(), uid: z.string() }).loose()).optional(),
}).loose();
export type ObjectMeta = z.infer<typeof ObjectMetaSchema>;

/** A Kubernetes label selector (metav1.LabelSelector); its keys and values are checked by the webhook. */
export const LabelSelectorSchema = z.object({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z.array(z.object({
    key: z.string().min(1),
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
    values: z.array(z.string()).optional(),
  })).optional(),
});
export type LabelSelector = z.infer<typeof LabelSelectorSchema>;

/**
 * Which Services a pool serves (MetalLB's IPAddressPool `serviceAllocation`): those in one of
 * `namespaces` or in a namespace matching one of `namespaceSelectors` (when either is given),
 * and matching one of `serviceSelectors` (when given). See lib/core/pool-scope.ts.
 */
export const ServiceAllocationSchema = z.object({
  priority: z.number().int().nonnegative().max(2147483647).optional(),
  namespaces: z.array(z.string().min(1).max(63)).optional(),
  namespaceSelectors: z.array(LabelSelectorSchema).optional(),
  serviceSelectors: z.array(LabelSelectorSchema).optional(),
});
export type ServiceAllocation = z.infer<typeof ServiceAllocationSchema>;

export const IPPoolSpecSchema = z.object({
  ipFamily: IPFamilySchema,
  addresses: z.array(z.string().min(1).max(100)).min(1, 'addresses needs at least one entry')
    .refine((a) => new Set(a).size === a.length, 'addresses must not repeat an entry'),
  autoAssign: z.boolean().default(true),
  avoidBuggyIPs: z.boolean().default(true),
  advertise: z.boolean().default(true),
  interfaceName: z.string().max(64).regex(INTERFACE_NAME, INTERFACE_NAME_RULE).optional(),
  serviceAllocation: ServiceAllocationSchema.optional(),
});
export type IPPoolSpec = z.infer<typeof IPPoolSpecSchema>;

/**
 * One line of the pool ledger of earlier versions (an address the pool handed out, and to whom):
 * read only to convert a pool to per-address claims, never written.
 */
export const LedgerEntrySchema = z.object({
  address: z.string(),
  allocationName: z.string(),
  allocationUID: z.string(),
  reservedAt: z.string().optional(),
});
export type LedgerEntry = z.infer<typeof LedgerEntrySchema>;

export const IPPoolStatusSchema = z.object({
  totalAddresses: z.string().optional(),
  allocatedAddresses: z.string().optional(),
  freeAddresses: z.string().optional(),
  observedGeneration: z.number().int().optional(),
  conditions: z.array(ConditionSchema).optional(),
  /** The ledger of earlier versions; gone once the pool is converted to claims. */
  allocations: z.array(LedgerEntrySchema).optional(),
  /**
   * Set once every address already held from this pool (the ledger of earlier versions, or the
   * statuses of upstream MikroLB's allocations) has its IPAddressClaim: until then the pool
   * hands out nothing.
   */
  claimsAdopted: z.boolean().optional(),
});
export type IPPoolStatus = z.infer<typeof IPPoolStatusSchema>;

export const IPPoolSchema = z.object({
  apiVersion: z.literal(API_VERSION).optional(),
  kind: z.literal('IPPool').optional(),
  metadata: ObjectMetaSchema,
  spec: IPPoolSpecSchema,
  status: IPPoolStatusSchema.optional(),
}).loose();
export type IPPool = z.infer<typeof IPPoolSchema>;

const present = (v: string | undefined): boolean => v !== undefined && v !== '';

export const IPAllocationSpecSchema = z.object({
  ipFamily: IPFamilySchema.optional(),
  poolName: PoolNameSchema.optional(),
  // The format is checked by allocate (reason AddressInvalid), not by the schema.
  address: z.string().max(100).optional(),
}).refine((s) => [s.ipFamily, s.poolName, s.address].some(present), 'Either ipFamily, poolName or address must be specified')
  .refine((s) => [s.ipFamily, s.poolName, s.address].filter(present).length <= 1, 'Only one of ipFamily, poolName or address can be specified');
export type IPAllocationSpec = z.infer<typeof IPAllocationSpecSchema>;

/** How many former addresses an allocation's status keeps (the CRD's maxItems). */
export const FORMER_ADDRESSES_KEPT = 8;

export const PhaseSchema = z.enum(['Pending', 'Allocated', 'Programmed', 'Failed']);
export type Phase = z.infer<typeof PhaseSchema>;

export const IPAllocationStatusSchema = z.object({
  phase: PhaseSchema.optional(),
  address: z.string().optional(),
  advertised: z.boolean().optional(),
  interfaceName: z.string().optional(),
  /**
   * Addresses the allocation held before allocate moved it in place (or gave its address back),
   * whose router entries program has not yet been seen to take off: program reads and removes
   * them, then drops them from here. The oldest go first past the limit (the resync's garbage
   * collection still finds their entries).
   */
  formerAddresses: z.array(z.string().max(100)).max(FORMER_ADDRESSES_KEPT).optional(),
  observedGeneration: z.number().int().optional(),
  conditions: z.array(ConditionSchema).optional(),
});
export type IPAllocationStatus = z.infer<typeof IPAllocationStatusSchema>;

export const IPAllocationSchema = z.object({
  apiVersion: z.literal(API_VERSION).optional(),
  kind: z.literal('IPAllocation').optional(),
  metadata: ObjectMetaSchema,
  spec: IPAllocationSpecSchema,
  status: IPAllocationStatusSchema.optional(),
}).loose();
export type IPAllocation = z.infer<typeof IPAllocationSchema>;

/** A Service port a holder of a shared address uses: two holders never use the same one. */
export const ClaimPortSchema = z.object({
  protocol: z.enum(['TCP', 'UDP', 'SCTP']),
  port: z.number().int().min(1).max(65535),
});
export type ClaimPort = z.infer<typeof ClaimPortSchema>;

/** One allocation holding a shared address, with the ports its Service uses on it. */
export const ClaimHolderSchema = z.object({
  allocationName: z.string().min(1).max(253),
  allocationUID: z.string().min(1).max(128),
  ports: z.array(ClaimPortSchema).max(256),
  /** When it joined: the garbage collection's grace period counts from here. */
  joinedAt: z.string().optional(),
});
export type ClaimHolder = z.infer<typeof ClaimHolderSchema>;

/**
 * Holding an address: one IPAddressClaim named by the address (see `claimName`), created if
 * absent. Address and pool never change. A claim without `sharingKey` has one holder, whoever
 * created it, until it is deleted. A shared one (`sharingKey`) lists its `holders` (joined and
 * left by updates carrying the resourceVersion); `allocationName`/`allocationUID` then name
 * the first of them, so a reader that knows no sharing still sees a holder.
 */
export const IPAddressClaimSpecSchema = z.object({
  address: z.string().min(1).max(100),
  poolName: PoolNameSchema,
  allocationName: z.string().min(1).max(253),
  allocationUID: z.string().min(1).max(128),
  sharingKey: z.string().min(1).max(253).optional(),
  holders: z.array(ClaimHolderSchema).max(64).optional(),
});
export type IPAddressClaimSpec = z.infer<typeof IPAddressClaimSpecSchema>;

export const IPAddressClaimSchema = z.object({
  apiVersion: z.literal(API_VERSION).optional(),
  kind: z.literal('IPAddressClaim').optional(),
  metadata: ObjectMetaSchema,
  spec: IPAddressClaimSpecSchema,
}).loose();
export type IPAddressClaim = z.infer<typeof IPAddressClaimSchema>;

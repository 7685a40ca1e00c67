import * as z from 'zod';
import type { Outcome } from './outcome.js';

/**
 * The one protocol between the bridge (or Knative's ApiServerSource) and the functions, after
 * the CloudEvent envelope is taken off. Events are hints: a function re-reads the object.
 */
/** The functions an event is delivered to. */
export const FUNCTION_NAMES = ['allocate', 'program', 'release'] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

export const ObjectKindSchema = z.enum(['IPPool', 'IPAllocation', 'Service', 'EndpointSlice', 'IPAddressClaim', 'Namespace']);
export type ObjectKind = z.infer<typeof ObjectKindSchema>;

export const ObjectRefSchema = z.object({
  kind: ObjectKindSchema,
  name: z.string().min(1).max(253),
  namespace: z.string().min(1).max(63).optional(),
});
export type ObjectRef = z.infer<typeof ObjectRefSchema>;

export const ChangeSchema = z.enum(['add', 'update', 'delete']);
export type Change = z.infer<typeof ChangeSchema>;

/**
 * What an event that carried its object whole (Knative's ApiServerSource in Resource mode)
 * showed besides the object: for a deleted one, what it left to act on, which the bridge routes
 * to the functions as those objects (bridge/routing.ts). Hints like the event itself: a
 * function reads what they name. Absent when the event only named its object (Reference mode,
 * and so everything the bridge sends).
 */
export interface SentWhole {
  /** A deleted IPAllocation: the IPAddressClaim of the address its status named (the bridge's `claim` route). */
  held?: ObjectRef;
  /** A deleted IPAddressClaim: the IPAllocations it named as holders (the bridge's `holders` route). */
  holders?: readonly ObjectRef[];
}

export type Invocation =
  | { type: 'object'; change: Change; ref: ObjectRef; id: string; source: string; sentWhole?: SentWhole }
  | { type: 'resync'; id: string; source: string };

/** CloudEvent types, as Knative's ApiServerSource emits them, plus our resync. */
export const EVENT_TYPE_PREFIX_RESOURCE = 'dev.knative.apiserver.resource.';
export const EVENT_TYPE_PREFIX_REF = 'dev.knative.apiserver.ref.';
export const EVENT_TYPE_RESYNC = 'de.mikrolb.resync';
/** Knative Eventing's PingSource tick (its type is fixed): treated as a resync. */
export const EVENT_TYPE_PING = 'dev.knative.sources.ping';

/** A function: one invocation in, what the run came to out (see outcome.ts for its HTTP answer). */
export type FunctionHandler = (invocation: Invocation) => Promise<Outcome>;

import { createHash } from 'node:crypto';

/**
 * Names MikroLB uses on the router, and the ownership tag every entry it creates carries.
 *
 * Comments: `mikrolb:global:<role>` for the per-family rules every Service shares, and
 * `mikrolb:svc=<service uid>:<key>` for a Service's entries. The whole comment is the entry's
 * identity: the planner matches existing entries to desired ones by it. Comments stay ASCII
 * (the API client encodes words as windows-1252) and short.
 */

/** Who owns a router entry, read from its comment. */
export type Owner = { kind: 'global' } | { kind: 'service'; uid: string };

/** The address list holding every load-balancer address (one per family menu). */
export const LB_LIST = 'mikrolb-lb';
/** The nat chain the dstnat jump enters for LB addresses; one jump per Service address. */
export const LB_CHAIN = 'mikrolb-lb';
/** The nat chain the srcnat jump enters; one src-nat rule per Service with SNAT. */
export const SNAT_CHAIN = 'mikrolb-snat';
/** Connection mark of connections to LB addresses (set in mangle, matched in filter forward). */
export const LB_CONNECTION_MARK = 'mikrolb-lb';

const TAG = 'mikrolb:';
const MAX_COMMENT = 200;
const UID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const KEY = /^[\x21-\x7e]+$/;
const GLOBAL_COMMENT = /^mikrolb:global:[\x21-\x7e]+$/;
const SERVICE_COMMENT = /^mikrolb:svc=([A-Za-z0-9][A-Za-z0-9._-]{0,63}):[\x21-\x7e]+$/;

function checked(comment: string): string {
  if (comment.length >= MAX_COMMENT) throw new RangeError(`router comment is too long (${comment.length} chars): ${comment}`);
  return comment;
}

function checkKey(key: string): string {
  if (!KEY.test(key)) throw new RangeError(`router key must be printable ASCII without spaces: ${JSON.stringify(key)}`);
  return key;
}

export function globalComment(role: string): string {
  return checked(`${TAG}global:${checkKey(role)}`);
}

export function serviceComment(uid: string, key: string): string {
  if (!UID.test(uid)) throw new RangeError(`service uid ${JSON.stringify(uid)} cannot name a router entry`);
  return checked(`${TAG}svc=${uid}:${checkKey(key)}`);
}

/**
 * The owner a comment names, or undefined for a foreign entry. Only a well-formed tag counts:
 * comments that merely mention mikrolb (`my mikrolb notes`, `mikrolb-old`, `mikrolb:`
 * followed by something we never write) are foreign and are never changed.
 */
export function ownerOf(comment: string | undefined): Owner | undefined {
  if (comment === undefined || !comment.startsWith(TAG)) return undefined;
  if (GLOBAL_COMMENT.test(comment)) return { kind: 'global' };
  const uid = SERVICE_COMMENT.exec(comment)?.[1];
  return uid === undefined ? undefined : { kind: 'service', uid };
}

/**
 * 12 hex digits naming a Service in chain and list names: the uid's own leading hex digits
 * when it is a UUID (so an operator can find the Service), else a hash of it.
 */
export function serviceTag(uid: string): string {
  const compact = uid.toLowerCase().replace(/-/g, '');
  if (/^[0-9a-f]{32}$/.test(compact)) return compact.slice(0, 12);
  return createHash('sha256').update(uid).digest('hex').slice(0, 12);
}

/** The nat chain holding a Service's per-port jumps: `mikrolb-svc-<tag>`. */
export function serviceChain(uid: string): string {
  return `mikrolb-svc-${serviceTag(uid)}`;
}

/** The nat chain holding one port's dst-nat rules: `mikrolb-svc-<tag>-tcp-80`. */
export function portChain(uid: string, protocol: string, port: number): string {
  return `${serviceChain(uid)}-${protocol}-${port}`;
}

/** The address list of a Service's endpoints, matched by its src-nat rule. */
export function snatList(uid: string): string {
  return `mikrolb-snat-${serviceTag(uid)}`;
}

/** Scopes for the planner: which owners' entries a plan may change. */
export const scopes = {
  service: (uid: string) => (owner: Owner) => owner.kind === 'service' && owner.uid === uid,
  global: (owner: Owner) => owner.kind === 'global',
  everything: (_owner: Owner) => true,
} as const;

import { createHash } from 'node:crypto';

/**
 * Names MikroLB uses on the router, and the ownership tag every entry it creates carries.
 *
 * Comments: `mikrolb:<cluster>:global:<role>` for the per-family rules every Service of one
 * cluster shares, and `mikrolb:<cluster>:svc=<service uid>:<key>` for a Service's entries.
 * `<cluster>` is the installation's MIKROLB_CLUSTER_NAME, so several clusters can share one
 * router and each changes only its own entries. The tag (cluster, owner, key) is the entry's
 * identity: the planner matches existing entries to desired ones by it. Comments stay ASCII
 * (the API client encodes words as windows-1252) and short.
 *
 * Tags written before cluster names existed (`mikrolb:global:<role>`, `mikrolb:svc=<uid>:<key>`)
 * belong to the cluster `default`: it adopts them (the planner rewrites their comment).
 */

/** The cluster name of an installation that sets none, and the owner of tags without one. */
export const DEFAULT_CLUSTER = 'default';

/** Who owns a router entry, read from its comment. */
export type Owner = { kind: 'global'; cluster: string } | { kind: 'service'; cluster: string; uid: string };

/** The global roles MikroLB writes (LAYOUT.md); a `global:` tag with any other role is foreign. */
export const GLOBAL_ROLES: ReadonlySet<string> = new Set([
  'filter-input-accept-icmp', 'filter-input-jump-gate', 'filter-input-reject-tcp', 'filter-input-reject-other', 'filter-forward-accept-lb',
  'mangle-prerouting-mark-lb', 'nat-dstnat-jump-lb', 'nat-srcnat-jump-snat',
]);

/**
 * The hairpin masquerade rules are global rules too, one per connected network: their role is
 * this prefix followed by the network (`nat-srcnat-hairpin:192.168.88.0/24`).
 */
export const HAIRPIN_ROLE = 'nat-srcnat-hairpin:';
const HAIRPIN_NETWORK = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f:]+)\/\d{1,3}$/;

/** Whether MikroLB writes a global rule with this role: one of GLOBAL_ROLES, or a hairpin rule. */
export function isGlobalRole(role: string): boolean {
  return GLOBAL_ROLES.has(role) || (role.startsWith(HAIRPIN_ROLE) && HAIRPIN_NETWORK.test(role.slice(HAIRPIN_ROLE.length)));
}

/** The address list holding every load-balancer address (one per family menu). */
export const LB_LIST = 'mikrolb-lb';
/** The nat chain the dstnat jump enters for LB addresses; one jump per Service address. */
export const LB_CHAIN = 'mikrolb-lb';
/** The filter chain input jumps to for LB addresses: the drop rules of Services with source ranges. */
export const INPUT_CHAIN = 'mikrolb-input';
/** The nat chain the srcnat jump enters; one src-nat rule per Service with SNAT. */
export const SNAT_CHAIN = 'mikrolb-snat';
/** Connection mark of connections to LB addresses (set in mangle, matched in filter forward). */
export const LB_CONNECTION_MARK = 'mikrolb-lb';

const TAG = 'mikrolb:';
const MAX_COMMENT = 200;
const UID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const KEY = /^[\x21-\x7e]+$/;
/** A DNS label of at most 32 characters; `global` would read like a tag without a cluster. */
const CLUSTER = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
const CLUSTER_TAG = /^mikrolb:([a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?):(.*)$/s;
const GLOBAL_BODY = /^global:([\x21-\x7e]+)$/;
const SERVICE_BODY = /^svc=([A-Za-z0-9][A-Za-z0-9._-]{0,63}):([\x21-\x7e]+)$/;

/** Why a cluster name cannot be used, or undefined when it can. */
export function clusterNameProblem(name: string): string | undefined {
  if (!CLUSTER.test(name)) return 'must be lower-case letters, digits and dashes (at most 32, starting and ending with a letter or digit)';
  if (name === 'global') return 'must not be "global" (it would read like a global rule tag)';
  return undefined;
}

function checkCluster(cluster: string): string {
  const problem = clusterNameProblem(cluster);
  if (problem !== undefined) throw new RangeError(`cluster name ${JSON.stringify(cluster)} ${problem}`);
  return cluster;
}

function checked(comment: string): string {
  if (comment.length >= MAX_COMMENT) throw new RangeError(`router comment is too long (${comment.length} chars): ${comment}`);
  return comment;
}

function checkKey(key: string): string {
  if (!KEY.test(key)) throw new RangeError(`router key must be printable ASCII without spaces: ${JSON.stringify(key)}`);
  return key;
}

export function globalComment(role: string, cluster: string = DEFAULT_CLUSTER): string {
  if (!isGlobalRole(role)) throw new RangeError(`unknown global role ${JSON.stringify(role)} (add it to GLOBAL_ROLES)`);
  return checked(`${TAG}${checkCluster(cluster)}:global:${role}`);
}

export function serviceComment(uid: string, key: string, cluster: string = DEFAULT_CLUSTER): string {
  if (!UID.test(uid)) throw new RangeError(`service uid ${JSON.stringify(uid)} cannot name a router entry`);
  return checked(`${TAG}${checkCluster(cluster)}:svc=${uid}:${checkKey(key)}`);
}

/** A parsed ownership tag: the owner (with its cluster) and the entry's key within it. */
export interface Tag {
  owner: Owner;
  key: string;
  /** Written before cluster names existed (no cluster in the comment). */
  legacy: boolean;
}

function parseBody(cluster: string, body: string, legacy: boolean): Tag | undefined {
  const global = GLOBAL_BODY.exec(body)?.[1];
  if (global !== undefined) return isGlobalRole(global) ? { owner: { kind: 'global', cluster }, key: global, legacy } : undefined;
  const service = SERVICE_BODY.exec(body);
  if (service?.[1] === undefined || service[2] === undefined) return undefined;
  return { owner: { kind: 'service', cluster, uid: service[1] }, key: service[2], legacy };
}

/**
 * The tag of a comment, or undefined for a foreign entry. Only a well-formed tag counts:
 * comments that merely mention mikrolb (`my mikrolb notes`, `mikrolb-old`, `mikrolb:`
 * followed by something we never write, a global role we never write) are foreign and are
 * never changed.
 */
export function parseTag(comment: string | undefined): Tag | undefined {
  if (comment === undefined || !comment.startsWith(TAG) || comment.length >= MAX_COMMENT) return undefined;
  const legacy = parseBody(DEFAULT_CLUSTER, comment.slice(TAG.length), true);
  if (legacy !== undefined) return legacy;
  const tagged = CLUSTER_TAG.exec(comment);
  if (tagged?.[1] === undefined || tagged[2] === undefined || clusterNameProblem(tagged[1]) !== undefined) return undefined;
  return parseBody(tagged[1], tagged[2], false);
}

/** The owner a comment names, or undefined for a foreign entry (see parseTag). */
export function ownerOf(comment: string | undefined): Owner | undefined {
  return parseTag(comment)?.owner;
}

/** The comment a tag is written as today: a legacy comment's current form, used to match entries. */
export function currentComment(comment: string | undefined): string | undefined {
  const tag = parseTag(comment);
  if (tag === undefined) return undefined;
  return tag.owner.kind === 'global' ? globalComment(tag.key, tag.owner.cluster) : serviceComment(tag.owner.uid, tag.key, tag.owner.cluster);
}

/** The same comment in another cluster (desired entries are laid out for the default one). */
export function inCluster(comment: string, cluster: string): string {
  const tag = parseTag(comment);
  if (tag === undefined) throw new RangeError(`not an ownership tag: ${comment}`);
  return tag.owner.kind === 'global' ? globalComment(tag.key, cluster) : serviceComment(tag.owner.uid, tag.key, cluster);
}

/** The comment this entry had before cluster names, for reads that look entries up by comment. */
export function legacyComment(comment: string): string | undefined {
  const tag = parseTag(comment);
  if (tag === undefined || tag.owner.cluster !== DEFAULT_CLUSTER) return undefined;
  return tag.owner.kind === 'global' ? `${TAG}global:${tag.key}` : `${TAG}svc=${tag.owner.uid}:${tag.key}`;
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

const SERVICE_CHAIN_PREFIX = 'mikrolb-svc-';

/** The nat chain holding a Service's per-port jumps: `mikrolb-svc-<tag>`. */
export function serviceChain(uid: string): string {
  return `${SERVICE_CHAIN_PREFIX}${serviceTag(uid)}`;
}

/** Whether a chain is one of a Service's own (its jump chain or a port chain), of any Service. */
export function isServiceChain(chain: string | undefined): chain is string {
  return chain?.startsWith(SERVICE_CHAIN_PREFIX) === true;
}

/** The nat chain holding one port's dst-nat rules: `mikrolb-svc-<tag>-tcp-80`. */
export function portChain(uid: string, protocol: string, port: number): string {
  return `${serviceChain(uid)}-${protocol}-${port}`;
}

/** The address list of a Service's endpoints, matched by its src-nat rule. */
export function snatList(uid: string): string {
  return `mikrolb-snat-${serviceTag(uid)}`;
}

const SOURCE_LIST_PREFIX = 'mikrolb-src-';

/** The address list of a Service's loadBalancerSourceRanges, matched by its source gate. */
export function sourceList(uid: string): string {
  return `${SOURCE_LIST_PREFIX}${serviceTag(uid)}`;
}

/** Whether a list is a Service's source list (which its gate and drop rules match negated). */
export function isSourceList(list: string | undefined): boolean {
  return list?.startsWith(SOURCE_LIST_PREFIX) === true;
}

/** Scopes for the planner: which owners' entries a plan may change. */
export const scopes = {
  service: (uid: string, cluster: string = DEFAULT_CLUSTER) => (owner: Owner) => owner.cluster === cluster && owner.kind === 'service' && owner.uid === uid,
  global: (cluster: string = DEFAULT_CLUSTER) => (owner: Owner) => owner.cluster === cluster && owner.kind === 'global',
  /** Every entry of one cluster (uninstall). */
  cluster: (cluster: string) => (owner: Owner) => owner.cluster === cluster,
  /** Every cluster's entries (tests that lay out several Services in one plan). */
  everything: (_owner: Owner) => true,
} as const;

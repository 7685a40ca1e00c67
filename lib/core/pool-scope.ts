import { matchesSelector, type Requirement } from '../k8s/memory-selector.js';
import type { IPPool, LabelSelector, ServiceAllocation } from '../k8s/schemas.js';

/**
 * Pools scoped to tenants, with MetalLB's meaning of an IPAddressPool's `serviceAllocation`:
 * a pool that has one serves only the Services it matches — in one of `namespaces` or in a
 * namespace matching one of `namespaceSelectors` (when either is given), and matching one of
 * `serviceSelectors` (when given). Auto-assignment tries the scoped pools a Service matches by
 * `priority` (lower first; 0 or unset after every positive one), then the unscoped pools.
 */

/** The Service an address is asked for, as scopes see it. */
export interface Requester {
  /** `namespace/name`, for messages. */
  key: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  /** Its namespace's labels; read only when some pool has namespaceSelectors (else treated as none). */
  namespaceLabels?: Readonly<Record<string, string>>;
}

export const isScoped = (pool: IPPool): boolean => pool.spec.serviceAllocation !== undefined;

/** Whether deciding needs the labels of the Service's namespace (one read the shell makes only then). */
export const needsNamespaceLabels = (pools: readonly IPPool[]): boolean =>
  pools.some((p) => (p.spec.serviceAllocation?.namespaceSelectors?.length ?? 0) > 0);

const OPERATORS = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: 'notexists' } as const;

/** A selector's requirements (all must hold); an empty selector has none and matches everything. */
function requirementsOf(selector: LabelSelector): Requirement[] {
  const equal = Object.entries(selector.matchLabels ?? {}).map(([key, value]): Requirement => ({ key, op: 'in', values: [value] }));
  const expressions = (selector.matchExpressions ?? []).map((e): Requirement => ({ key: e.key, op: OPERATORS[e.operator], values: e.values ?? [] }));
  return [...equal, ...expressions];
}

/** Kubernetes' reading of a selector; one the webhook would refuse (In without values…) matches nothing. */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  if (selectorProblems(selector).length > 0) return false;
  return matchesSelector(requirementsOf(selector), labels);
}

function namespaceMatches(scope: ServiceAllocation, who: Requester): boolean {
  const names = scope.namespaces ?? [];
  const selectors = scope.namespaceSelectors ?? [];
  if (names.length === 0 && selectors.length === 0) return true;
  return names.includes(who.namespace) || selectors.some((s) => selectorMatches(s, who.namespaceLabels ?? {}));
}

/** Whether a pool serves a Service: an unscoped pool serves every Service. */
export function poolServes(pool: IPPool, who: Requester): boolean {
  const scope = pool.spec.serviceAllocation;
  if (!scope) return true;
  const selectors = scope.serviceSelectors ?? [];
  return namespaceMatches(scope, who) && (selectors.length === 0 || selectors.some((s) => selectorMatches(s, who.labels)));
}

/** Scoped pools by priority: a positive priority first (lower first), 0 or unset last. */
const rank = (pool: IPPool): number => {
  const p = pool.spec.serviceAllocation?.priority ?? 0;
  return p > 0 ? p : Number.POSITIVE_INFINITY;
};

/**
 * The auto-assign candidates in the order they are tried: the scoped pools the Service matches
 * by priority, then the unscoped pools (an operator's reservation, with no Service, only the
 * unscoped). The given order (oldest first) breaks ties; scoped pools it does not match are left out.
 */
export function autoAssignOrder<T extends { pool: IPPool }>(candidates: readonly T[], who: Requester | undefined): T[] {
  const scoped = who ? candidates.filter((c) => isScoped(c.pool) && poolServes(c.pool, who)) : [];
  scoped.sort((a, b) => rank(a.pool) - rank(b.pool) || 0);
  return [...scoped, ...candidates.filter((c) => !isScoped(c.pool))];
}

function describeSelector(selector: LabelSelector): string {
  const terms = requirementsOf(selector).map((r) => {
    switch (r.op) {
      case 'exists': return r.key;
      case 'notexists': return `!${r.key}`;
      case 'in': return r.values.length === 1 ? `${r.key}=${r.values.join('')}` : `${r.key} in (${r.values.join(',')})`;
      case 'notin': return `${r.key} notin (${r.values.join(',')})`;
    }
  });
  return terms.length === 0 ? 'anything' : terms.join(',');
}

/** The scope in words: "in namespace team-a or a namespace labelled tenant=a, labelled tier=gold". */
export function describeScope(scope: ServiceAllocation): string {
  const where = [
    ...(scope.namespaces?.length ? [`in namespace ${scope.namespaces.join(' or ')}`] : []),
    ...(scope.namespaceSelectors ?? []).map((s) => `in a namespace labelled ${describeSelector(s)}`),
  ];
  const what = (scope.serviceSelectors ?? []).map((s) => `labelled ${describeSelector(s)}`);
  return [where.join(' or '), what.join(' or ')].filter((p) => p !== '').join(', ') || 'of any namespace';
}

/**
 * Why a pool refuses a Service that names it (or one of its addresses), or undefined when it
 * serves it. An operator's reservation (no Service) may name any pool.
 */
export function scopeRefusal(pool: IPPool, who: Requester | undefined, address?: string): string | undefined {
  const scope = pool.spec.serviceAllocation;
  if (!scope || !who || poolServes(pool, who)) return undefined;
  const what = address ? `Address ${address} is in pool ${pool.metadata.name}, which` : `Pool ${pool.metadata.name}`;
  return `${what} serves only Services ${describeScope(scope)}; Service ${who.key} is not one of them.`;
}

/** One problem of a scope, at a field path relative to the pool's spec. */
export interface ScopeProblem {
  field: string;
  message: string;
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Kubernetes' qualified name (`[prefix/]name`), the form of a label key. */
function keyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !PREFIX.test(prefix))) return `label key "${key}" has an invalid prefix (a lowercase DNS subdomain)`;
  if (name.length > 63 || !NAME.test(name)) return `"${key}" is not a valid label key (up to 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit, optionally after a "prefix/")`;
  return undefined;
}

const valueProblem = (value: string): string | undefined =>
  value === '' || (value.length <= 63 && NAME.test(value)) ? undefined : `"${value}" is not a valid label value (up to 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit)`;

function selectorProblems(selector: LabelSelector, at = ''): ScopeProblem[] {
  const out: ScopeProblem[] = [];
  const add = (field: string, message: string | undefined): void => {
    if (message) out.push({ field: `${at}${field}`, message });
  };
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    add(`.matchLabels`, keyProblem(key));
    add(`.matchLabels.${key}`, valueProblem(value));
  }
  (selector.matchExpressions ?? []).forEach((e, i) => {
    const field = `.matchExpressions[${i}]`;
    add(`${field}.key`, keyProblem(e.key));
    const values = e.values ?? [];
    const setBased = e.operator === 'In' || e.operator === 'NotIn';
    if (setBased && values.length === 0) add(`${field}.values`, `must name at least one value for operator ${e.operator}`);
    if (!setBased && values.length > 0) add(`${field}.values`, `must be empty for operator ${e.operator}`);
    values.forEach((v, j) => add(`${field}.values[${j}]`, valueProblem(v)));
  });
  return out;
}

/** What the webhook refuses in a scope (the schema has checked its shape and the priority's range). */
export function scopeProblems(scope: ServiceAllocation | undefined): ScopeProblem[] {
  if (!scope) return [];
  const base = 'spec.serviceAllocation';
  const out: ScopeProblem[] = [];
  (scope.namespaces ?? []).forEach((n, i) => {
    if (!NAMESPACE.test(n)) out.push({ field: `${base}.namespaces[${i}]`, message: `"${n}" is not a valid namespace name (lowercase letters, digits and "-", starting and ending with a letter or digit)` });
  });
  (scope.namespaceSelectors ?? []).forEach((s, i) => out.push(...selectorProblems(s, `${base}.namespaceSelectors[${i}]`)));
  (scope.serviceSelectors ?? []).forEach((s, i) => out.push(...selectorProblems(s, `${base}.serviceSelectors[${i}]`)));
  return out;
}

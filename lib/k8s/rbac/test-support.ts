import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import * as z from 'zod';
import { KubeError } from '../errors.js';
import { eventNamespace } from '../events.js';
import type { KubePort } from '../port.js';
import { RESOURCES, type Kind } from '../resources.js';
import type { RestRequest, Transport } from '../rest.js';

/**
 * Tests only: the RBAC that deploy/ ships, as the API server's authorizer applies it, and a
 * KubePort that refuses (403 Forbidden, as the API server answers) every request the
 * ServiceAccount it plays may not make. The in-memory port allows everything; wrapped in
 * `rbacPort`, a unit test fails the way the function would fail in a cluster.
 */

/** deploy/base: every component's ServiceAccount, Roles and bindings (the overlays add none for them). */
export const DEPLOY_BASE = fileURLToPath(new URL('../../../deploy/base/', import.meta.url));
export const RBAC_NAMESPACE = 'mikrolb-system';

const RuleSchema = z.object({
  apiGroups: z.array(z.string()).default([]),
  resources: z.array(z.string()).default([]),
  resourceNames: z.array(z.string()).default([]),
  verbs: z.array(z.string()).min(1),
}).strict();
export type Rule = z.infer<typeof RuleSchema>;

const MetadataSchema = z.object({ name: z.string().min(1), namespace: z.string().optional() }).loose();
const RoleSchema = z.object({
  kind: z.enum(['Role', 'ClusterRole']),
  metadata: MetadataSchema,
  // an aggregated ClusterRole's rules are filled in by the controller manager: not modelled
  aggregationRule: z.never().optional(),
  rules: z.array(RuleSchema).default([]),
}).loose();
const SubjectSchema = z.object({ kind: z.enum(['ServiceAccount', 'User', 'Group']), name: z.string(), namespace: z.string().optional() }).loose();
const BindingSchema = z.object({
  kind: z.enum(['RoleBinding', 'ClusterRoleBinding']),
  metadata: MetadataSchema,
  roleRef: z.object({ kind: z.enum(['Role', 'ClusterRole']), name: z.string() }).loose(),
  subjects: z.array(SubjectSchema).default([]),
}).loose();
const RBAC_KINDS: ReadonlySet<string> = new Set(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']);
const DocKindSchema = z.object({ kind: z.string() }).loose();

/** What kustomize makes of a base: its resources as given (a namespace or name transform would change the bindings). */
const KustomizationSchema = z.object({
  resources: z.array(z.string()),
  namespace: z.never().optional(),
  namePrefix: z.never().optional(),
  nameSuffix: z.never().optional(),
  patches: z.never().optional(),
}).loose();

export interface Rbac {
  roles: z.infer<typeof RoleSchema>[];
  bindings: z.infer<typeof BindingSchema>[];
}

/** The RBAC objects among YAML documents (everything else is skipped). */
export function parseRbac(yamlText: string): Rbac {
  const rbac: Rbac = { roles: [], bindings: [] };
  for (const doc of parseAllDocuments(yamlText)) {
    const raw: unknown = doc.toJS();
    const kind = DocKindSchema.safeParse(raw);
    if (!kind.success || !RBAC_KINDS.has(kind.data.kind)) continue;
    if (kind.data.kind.endsWith('Binding')) rbac.bindings.push(BindingSchema.parse(raw));
    else rbac.roles.push(RoleSchema.parse(raw));
  }
  return rbac;
}

/** The RBAC of the files a kustomization lists (deploy/base by default: the rbac-*.yaml there). */
export function loadRbac(dir: string = DEPLOY_BASE): Rbac {
  const { resources } = KustomizationSchema.parse(parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')));
  const files = resources.filter((r) => /\.ya?ml$/.test(r));
  const parts = files.map((f) => parseRbac(readFileSync(join(dir, f), 'utf8')));
  return { roles: parts.flatMap((p) => p.roles), bindings: parts.flatMap((p) => p.bindings) };
}

export interface ServiceAccount {
  namespace: string;
  name: string;
}

export const userOf = (sa: ServiceAccount): string => `system:serviceaccount:${sa.namespace}:${sa.name}`;

/** A rule and where it holds: in one namespace (a RoleBinding) or everywhere (a ClusterRoleBinding). */
export interface Grant {
  rule: Rule;
  namespace?: string;
}

function isSubject(subject: z.infer<typeof SubjectSchema>, bindingNamespace: string | undefined, sa: ServiceAccount): boolean {
  if (subject.kind === 'ServiceAccount') return subject.name === sa.name && (subject.namespace ?? bindingNamespace) === sa.namespace;
  if (subject.kind === 'Group') return ['system:authenticated', 'system:serviceaccounts', `system:serviceaccounts:${sa.namespace}`].includes(subject.name);
  return subject.name === userOf(sa);
}

/** Every rule bound to `sa`, as the RBAC authorizer collects them. */
export function grantsOf(rbac: Rbac, sa: ServiceAccount): Grant[] {
  const grants: Grant[] = [];
  for (const b of rbac.bindings) {
    const bindingNamespace = b.kind === 'RoleBinding' ? b.metadata.namespace ?? 'default' : undefined;
    if (!b.subjects.some((s) => isSubject(s, bindingNamespace, sa))) continue;
    // a RoleBinding's Role is the one in its own namespace; a ClusterRoleBinding names ClusterRoles only
    const role = rbac.roles.find((r) => r.kind === b.roleRef.kind && r.metadata.name === b.roleRef.name &&
      (r.kind === 'ClusterRole' || (r.metadata.namespace ?? 'default') === bindingNamespace));
    if (!role || (b.kind === 'ClusterRoleBinding' && role.kind === 'Role')) continue;
    grants.push(...role.rules.map((rule) => (bindingNamespace ? { rule, namespace: bindingNamespace } : { rule })));
  }
  return grants;
}

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

/** The attributes of one resource request the authorizer decides on. */
export interface Request {
  verb: Verb;
  group: string;
  resource: string;
  subresource?: string;
  /** None: a cluster-scoped object, or a request across all namespaces. */
  namespace?: string;
  /** None on create and on collections (list, watch). */
  name?: string;
}

/** Kubernetes' rbac/v1 helpers: `*` matches all; `*\/status` any resource's status subresource. */
function resourceMatches(rule: Rule, req: Request): boolean {
  const combined = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  return rule.resources.some((r) => r === '*' || r === combined || (req.subresource !== undefined && r === `*/${req.subresource}`));
}

export function ruleAllows(rule: Rule, req: Request): boolean {
  return (rule.verbs.includes('*') || rule.verbs.includes(req.verb)) &&
    (rule.apiGroups.includes('*') || rule.apiGroups.includes(req.group)) &&
    resourceMatches(rule, req) &&
    (rule.resourceNames.length === 0 || (req.name !== undefined && rule.resourceNames.includes(req.name)));
}

export const allows = (grants: readonly Grant[], req: Request): boolean =>
  grants.some((g) => (g.namespace === undefined || g.namespace === req.namespace) && ruleAllows(g.rule, req));

/** The API server's answer to a request RBAC refuses (its Status message, reason Forbidden). */
export function forbidden(sa: ServiceAccount, req: Request): KubeError {
  const qualified = req.group ? `${req.resource}.${req.group}` : req.resource;
  const resource = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  const where = req.namespace ? `in the namespace "${req.namespace}"` : 'at the cluster scope';
  return new KubeError(
    `${qualified}${req.name ? ` "${req.name}"` : ''} is forbidden: User "${userOf(sa)}" cannot ${req.verb} resource "${resource}" in API group "${req.group}" ${where}`,
    403, 'Forbidden');
}

/** The request a port's call on `kind` makes (see rbacPort). */
export function requestOf(kind: Kind, verb: Verb, opts: { namespace?: string | undefined; name?: string | undefined; subresource?: string } = {}): Request {
  const t = RESOURCES[kind];
  return {
    verb, group: t.group, resource: t.plural,
    ...(opts.subresource ? { subresource: opts.subresource } : {}),
    // the path names a namespace only for a namespaced kind (resourcePath)
    ...(t.namespaced && opts.namespace ? { namespace: opts.namespace } : {}),
    ...(opts.name ? { name: opts.name } : {}),
  };
}

/**
 * `port` as `sa` reaches the API server through the REST port (client.ts): each method is the
 * request it sends there — get: GET of the object; list: GET of the collection (in a namespace,
 * or across all); create: POST; replace: PUT; replaceStatus: PUT of the status subresource;
 * remove: DELETE; recordEvent: POST of an events.k8s.io event (a repeat's GET and PUT are not
 * checked: recordEventIn ignores their 403). A request `grants` do not allow throws 403 before
 * it reaches `port`.
 */
export function rbacPort(port: KubePort, sa: ServiceAccount, grants: readonly Grant[]): KubePort {
  const check = (req: Request): void => {
    if (!allows(grants, req)) throw forbidden(sa, req);
  };
  return {
    async get(kind, name, namespace) {
      check(requestOf(kind, 'get', { namespace, name }));
      return port.get(kind, name, namespace);
    },
    async list(kind, opts) {
      check(requestOf(kind, 'list', { namespace: opts?.namespace }));
      return port.list(kind, opts);
    },
    async create(kind, obj) {
      check(requestOf(kind, 'create', { namespace: obj.metadata.namespace }));
      return port.create(kind, obj);
    },
    async replace(kind, obj) {
      check(requestOf(kind, 'update', { namespace: obj.metadata.namespace, name: obj.metadata.name }));
      return port.replace(kind, obj);
    },
    async replaceStatus(kind, obj) {
      check(requestOf(kind, 'update', { namespace: obj.metadata.namespace, name: obj.metadata.name, subresource: 'status' }));
      return port.replaceStatus(kind, obj);
    },
    async remove(kind, name, namespace, preconditions) {
      check(requestOf(kind, 'delete', { namespace, name }));
      return port.remove(kind, name, namespace, preconditions);
    },
    async recordEvent(e) {
      check(requestOf('Event', 'create', { namespace: eventNamespace(e) }));
      return port.recordEvent(e);
    },
  };
}

/** `/api/v1` or `/apis/<group>/<version>`, then `[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]`. */
const PATH = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/;

/** The attributes the API server derives from a REST request (its RequestInfo). */
export function requestOfRest(req: RestRequest): Request {
  const m = PATH.exec(req.path);
  if (!m?.[3]) throw new Error(`not a resource path: ${req.path}`);
  const [, group = '', namespace, resource, name, subresource] = m.map((p) => (p === undefined ? undefined : decodeURIComponent(p)));
  const verbs: Record<RestRequest['method'], Verb> = {
    GET: name ? 'get' : req.query?.['watch'] ? 'watch' : 'list', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: name ? 'delete' : 'deletecollection',
  };
  return { verb: verbs[req.method], group, resource: resource ?? '', ...(subresource ? { subresource } : {}), ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) };
}

/** `transport` as `sa`: a request `grants` do not allow is refused (403) before it is sent. */
export const rbacTransport = (transport: Transport, sa: ServiceAccount, grants: readonly Grant[]): Transport => async (req) => {
  const attributes = requestOfRest(req);
  if (!allows(grants, attributes)) throw forbidden(sa, attributes);
  return transport(req);
};

/** The components with a ServiceAccount of their own in deploy/base (`mikrolb-<account>`). */
export type Account = 'allocate' | 'program' | 'release' | 'webhook' | 'bridge' | 'controller';

export const accountOf = (account: Account): ServiceAccount => ({ namespace: RBAC_NAMESPACE, name: `mikrolb-${account}` });

/** `port` as the ServiceAccount of `account` in deploy/base. */
export function portAs(port: KubePort, account: Account, rbac: Rbac = loadRbac()): KubePort {
  return rbacPort(port, accountOf(account), grantsOf(rbac, accountOf(account)));
}

/** `transport` as the ServiceAccount of `account` in deploy/base. */
export function transportAs(transport: Transport, account: Account, rbac: Rbac = loadRbac()): Transport {
  return rbacTransport(transport, accountOf(account), grantsOf(rbac, accountOf(account)));
}

/** Throws what the API server answers when `account` (deploy/base) may not make `req`. */
export function checkAs(account: Account, rbac: Rbac = loadRbac()): (req: Request) => void {
  const grants = grantsOf(rbac, accountOf(account));
  return (req) => {
    if (!allows(grants, req)) throw forbidden(accountOf(account), req);
  };
}

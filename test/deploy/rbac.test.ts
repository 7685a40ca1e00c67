/**
 * RBAC is sufficient and minimal, checked by the real API server: the RBAC objects of deploy/
 * are applied for real, and `kubectl auth can-i --as=system:serviceaccount:…` must answer yes
 * for every verb in the table below (what the code uses: functions/*, bridge/, the webhook) and
 * no for every other verb on the same resources, and for a few things no component may do.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { testCluster } from '../helpers/cluster.js';
import { applyRbac, NAMESPACE, ofKind, type Doc } from './render.js';
import { BindingSchema, RoleSchema } from './schemas.js';

const { kubectl } = testCluster();

const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'] as const;
type Verb = (typeof VERBS)[number];

/** Resources as `kubectl auth can-i` names them (`resource.group`, optionally `/status`). */
const RESOURCES = [
  'ippools.mikrolb.de', 'ippools.mikrolb.de/status', 'ipallocations.mikrolb.de', 'ipallocations.mikrolb.de/status', 'ipaddressclaims.mikrolb.de',
  'services', 'services/status', 'namespaces', 'endpointslices.discovery.k8s.io', 'events.events.k8s.io', 'tokenreviews.authentication.k8s.io',
] as const;
type Resource = (typeof RESOURCES)[number];
type Grants = Partial<Record<Resource, readonly Verb[]>>;

const ALLOCATE: Grants = {
  'ippools.mikrolb.de': ['get', 'list', 'update'], // update: the pool finalizer
  'ippools.mikrolb.de/status': ['update'], // counts, conversion of a ledger
  'ipallocations.mikrolb.de': ['get', 'list', 'create', 'update', 'delete'], // update: an operator reservation's finalizer
  'ipaddressclaims.mikrolb.de': ['get', 'list', 'create', 'update', 'delete'], // update: joining or leaving a shared claim, the router-held mark
  'ipallocations.mikrolb.de/status': ['update'],
  services: ['get', 'list', 'update'], // update: the Service finalizer
  'services/status': ['update'], // the condition of a Service that asks for no valid address
  namespaces: ['get'], // the labels of a Service's namespace, for pools with namespaceSelectors
  'events.events.k8s.io': ['create', 'get', 'update'], // get, update: a repeat counted on the event (its series)
};
const PROGRAM: Grants = {
  services: ['get', 'list'],
  'services/status': ['update'],
  'endpointslices.discovery.k8s.io': ['get', 'list'],
  'ippools.mikrolb.de': ['list'], // never one pool by name: an event's pool is answered from the list (its holders' Services)
  'ipaddressclaims.mikrolb.de': ['get', 'list'], // a pool's holders; whether an address is shared or still held
  'ipallocations.mikrolb.de': ['get', 'list'],
  'ipallocations.mikrolb.de/status': ['update'],
  'events.events.k8s.io': ['create', 'get', 'update'], // get, update: a repeat counted on the event (its series)
};
const RELEASE: Grants = {
  'ipallocations.mikrolb.de': ['get', 'list', 'update', 'delete'], // update: the finalizer
  'ippools.mikrolb.de': ['get', 'list', 'update'],
  'ippools.mikrolb.de/status': ['update'],
  'ipaddressclaims.mikrolb.de': ['get', 'list', 'update', 'delete'], // get: the pool of the claim an event names; update: leaving a shared claim
  services: ['get', 'list', 'update'],
  'services/status': ['update'],
  'endpointslices.discovery.k8s.io': ['list'],
  'events.events.k8s.io': ['create', 'get', 'update'], // get, update: a repeat counted on the event (its series)
};
// namespaces: their labels decide which scoped pools (namespaceSelectors) serve their Services
const WATCHED: readonly Resource[] = ['ippools.mikrolb.de', 'ipallocations.mikrolb.de', 'ipaddressclaims.mikrolb.de', 'services', 'endpointslices.discovery.k8s.io', 'namespaces'];
const BRIDGE: Grants = Object.fromEntries(WATCHED.map((r) => [r, ['list', 'watch']]));
const WEBHOOK: Grants = { 'ippools.mikrolb.de': ['list'] };
const EVENTS_SOURCE: Grants = Object.fromEntries(WATCHED.map((r) => [r, ['get', 'list', 'watch']]));

/** The all-in-one controller: the union of everything that runs in it, plus watch. */
function union(...grants: Grants[]): Grants {
  const out: Partial<Record<Resource, Verb[]>> = {};
  for (const g of grants) for (const r of RESOURCES) for (const v of g[r] ?? []) if (!(out[r] ??= []).includes(v)) out[r]?.push(v);
  return out;
}

/** A function served on its own checks each caller's token (INVOKE_AUTH); in the controller nobody calls it over HTTP. */
const INVOKED: Grants = { 'tokenreviews.authentication.k8s.io': ['create'] };

const PERMISSIONS: Record<string, Grants> = {
  'mikrolb-controller': union(ALLOCATE, PROGRAM, RELEASE, BRIDGE, WEBHOOK),
  'mikrolb-allocate': union(ALLOCATE, INVOKED),
  'mikrolb-program': union(PROGRAM, INVOKED),
  'mikrolb-release': union(RELEASE, INVOKED),
  'mikrolb-bridge': BRIDGE,
  'mikrolb-webhook': WEBHOOK,
  'mikrolb-events': EVENTS_SOURCE,
};
/**
 * Leases, in mikrolb-system only: leader election of the bridge (alone or in the controller).
 * get and update only on its own Lease (LEASE_NAME's default); create cannot be limited by name.
 */
const LEASE_HOLDERS = new Set(['mikrolb-controller', 'mikrolb-bridge']);
const LEASE_NAME = 'mikrolb-bridge';
const LEASE_VERBS_BY_NAME: readonly Verb[] = ['get', 'update'];
const LEASE_VERBS: readonly Verb[] = ['create'];

const granted = (sa: string, resource: Resource, verb: Verb): boolean => PERMISSIONS[sa]?.[resource]?.includes(verb) ?? false;
const as = (sa: string): string => `--as=system:serviceaccount:${NAMESPACE}:${sa}`;

/** `kubectl auth can-i`, cluster-wide (`-A`) unless a namespace is given; on one object when `object` names it. */
async function canI(sa: string, verb: string, resource: string, namespace?: string, object?: string): Promise<boolean> {
  const [name = resource, sub] = resource.split('/');
  const target = object ? `${name}/${object}` : name;
  const args = ['auth', 'can-i', verb, target, ...(sub ? [`--subresource=${sub}`] : []), ...(namespace ? ['-n', namespace] : ['-A']), as(sa)];
  const out = await kubectl(args);
  if (!['yes', 'no'].includes(out.stdout.trim())) throw new Error(`kubectl ${args.join(' ')}: ${out.stderr}`);
  return out.stdout.trim() === 'yes';
}

/** Runs the checks a few at a time; each answer is [label, allowed]. */
async function ask(checks: { label: string; run: () => Promise<boolean> }[]): Promise<Record<string, boolean>> {
  const answers: Record<string, boolean> = {};
  for (let i = 0; i < checks.length; i += 32) {
    const batch = checks.slice(i, i + 32);
    const results = await Promise.all(batch.map((c) => c.run()));
    batch.forEach((c, j) => (answers[c.label] = results[j] ?? false));
  }
  return answers;
}

let docs: Doc[] = [];

beforeAll(async () => {
  docs = await applyRbac(kubectl);
}, 180_000);

describe('RBAC', () => {
  it('defines one ServiceAccount per component, each bound to its own ClusterRole', () => {
    const accounts = docs.filter((d) => d.kind === 'ServiceAccount').map((d) => d.metadata.name);
    expect(accounts.sort()).toEqual(Object.keys(PERMISSIONS).sort());
    for (const b of ofKind(docs, 'ClusterRoleBinding', BindingSchema)) {
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: b.metadata.name, namespace: NAMESPACE }]);
      expect(b.roleRef).toMatchObject({ kind: 'ClusterRole', name: b.metadata.name });
    }
  });

  it('writes down in the manifests exactly the grants of the table (no wildcards, nothing extra)', () => {
    const roles = new Map(ofKind(docs, 'ClusterRole', RoleSchema).map((r) => [r.metadata.name, r]));
    for (const [sa, grants] of Object.entries(PERMISSIONS)) {
      const rules = roles.get(sa)?.rules ?? [];
      const actual = rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${canIName(res, g)}:${v}`))));
      const expected = RESOURCES.flatMap((res) => (grants[res] ?? []).map((v) => `${res}:${v}`));
      expect(actual.sort(), sa).toEqual(expected.sort());
    }
    const leaseRules = ofKind(docs, 'Role', RoleSchema).flatMap((r) => r.rules);
    expect(leaseRules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: [...LEASE_VERBS] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [LEASE_NAME], verbs: [...LEASE_VERBS_BY_NAME] },
    ]);
  });

  it('lets each ServiceAccount do what the table grants and nothing else on those resources (kubectl auth can-i)', async () => {
    const checks = Object.keys(PERMISSIONS).flatMap((sa) =>
      RESOURCES.flatMap((res) => VERBS.map((verb) => ({ label: `${sa} ${verb} ${res}`, run: () => canI(sa, verb, res) }))),
    );
    const answers = await ask(checks);
    const expected = Object.fromEntries(
      Object.keys(PERMISSIONS).flatMap((sa) => RESOURCES.flatMap((res) => VERBS.map((verb) => [`${sa} ${verb} ${res}`, granted(sa, res, verb)]))),
    );
    expect(answers).toEqual(expected);
  }, 300_000);

  it('lets only the bridge and the controller hold a lease, only in mikrolb-system, and read or renew only their own', async () => {
    /** Which lease a check asks about: any (no name, as create and list do), MikroLB's, or another one. */
    const targets = [undefined, LEASE_NAME, 'some-other-lease'] as const;
    const label = (sa: string, verb: Verb, ns: string, object: string | undefined): string => `${sa} ${verb} leases/${object ?? '*'} in ${ns}`;
    const cases = Object.keys(PERMISSIONS).flatMap((sa) => VERBS.flatMap((verb) => [NAMESPACE, 'default'].flatMap((ns) => targets.map((object) => ({ sa, verb, ns, object })))));
    const checks = cases.map(({ sa, verb, ns, object }) => ({ label: label(sa, verb, ns, object), run: () => canI(sa, verb, 'leases.coordination.k8s.io', ns, object) }));
    const allowed = ({ sa, verb, ns, object }: (typeof cases)[number]): boolean =>
      ns === NAMESPACE && LEASE_HOLDERS.has(sa) && (LEASE_VERBS.includes(verb) || (object === LEASE_NAME && LEASE_VERBS_BY_NAME.includes(verb)));
    const expected = Object.fromEntries(cases.map((c) => [label(c.sa, c.verb, c.ns, c.object), allowed(c)]));
    expect(await ask(checks)).toEqual(expected);
  }, 300_000);

  it.each(Object.keys(PERMISSIONS))('denies %s what no component needs: secrets, pods, configmaps, deleting pools or Services', async (sa) => {
    const forbidden: [Verb, string, string?][] = [
      ['list', 'secrets'], ['get', 'secrets', NAMESPACE], ['delete', 'pods'], ['create', 'pods', NAMESPACE], ['delete', 'ippools.mikrolb.de'],
      ['delete', 'services'], ['get', 'configmaps', NAMESPACE], ['list', 'configmaps'], ['create', 'events'], ['update', 'services/finalizers'],
    ];
    const answers = await ask(forbidden.map(([verb, res, ns]) => ({ label: `${verb} ${res}`, run: () => canI(sa, verb, res, ns) })));
    expect(Object.entries(answers).filter(([, allowed]) => allowed)).toEqual([]);
  });
});

/** `services` + `` → `services`; `ippools` + `mikrolb.de` → `ippools.mikrolb.de`; keeps `/status`. */
function canIName(resource: string, group: string): string {
  const [name, sub] = resource.split('/');
  return `${name}${group ? `.${group}` : ''}${sub ? `/${sub}` : ''}`;
}

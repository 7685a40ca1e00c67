import { describe, expect, it } from 'vitest';
import { isForbidden, isKubeError } from '../errors.js';
import { memoryPort } from '../memory.js';
import { allows, forbidden, grantsOf, loadRbac, parseRbac, portAs, rbacPort, rbacTransport, requestOfRest, type Request } from './test-support.js';
import type { RestRequest } from '../rest.js';

const SA = { namespace: 'mikrolb-system', name: 'fn' };

/** One ClusterRole bound cluster-wide, one Role bound in mikrolb-system, both to SA; one ClusterRole bound to someone else. */
const RBAC = parseRbac(`
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: fn }
rules:
  - { apiGroups: ["mikrolb.de"], resources: ["ippools"], verbs: ["list"] }
  - { apiGroups: [""], resources: ["services"], verbs: ["get", "update"] }
  - { apiGroups: [""], resources: ["services/status"], verbs: ["update"] }
  - { apiGroups: ["mikrolb.de"], resources: ["*/status"], verbs: ["patch"] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: fn }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: fn }
subjects: [{ kind: ServiceAccount, name: fn, namespace: mikrolb-system }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: lease, namespace: mikrolb-system }
rules:
  - { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create", "list"] }
  - { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["mine"], verbs: ["get", "update"] }
  - { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create"] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: lease, namespace: mikrolb-system }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: lease }
subjects: [{ kind: ServiceAccount, name: fn, namespace: mikrolb-system }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: other }
rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: other }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: other }
subjects: [{ kind: ServiceAccount, name: fn, namespace: elsewhere }]
`);
const grants = grantsOf(RBAC, SA);
const pools = { group: 'mikrolb.de', resource: 'ippools' };
const services = { group: '', resource: 'services', namespace: 'shop', name: 'web' };
const leases = { group: 'coordination.k8s.io', resource: 'leases', namespace: 'mikrolb-system' };

describe('the RBAC checker', () => {
  it.each<[string, Request, boolean]>([
    ['a verb the rule names', { ...pools, verb: 'list' }, true],
    ['a verb it does not name (get of one pool)', { ...pools, verb: 'get', name: 'lan' }, false],
    ['the resource in another API group', { group: 'other.io', resource: 'ippools', verb: 'list' }, false],
    ['a resource no rule names', { group: 'mikrolb.de', resource: 'ipallocations', verb: 'list' }, false],
    ['the status subresource its own rule names', { ...services, subresource: 'status', verb: 'update' }, true],
    ['a subresource the resource\'s rule does not cover', { ...services, subresource: 'status', verb: 'get' }, false],
    ['any resource\'s status by */status', { group: 'mikrolb.de', resource: 'ipallocations', subresource: 'status', name: 'a', verb: 'patch' }, true],
    ['*/status is no grant on the resource itself', { group: 'mikrolb.de', resource: 'ipallocations', name: 'a', verb: 'patch' }, false],
    ['a ClusterRoleBinding\'s rule in any namespace', { ...services, verb: 'get' }, true],
    ['the object named in resourceNames', { ...leases, name: 'mine', verb: 'get' }, true],
    ['another object than resourceNames names', { ...leases, name: 'theirs', verb: 'update' }, false],
    ['create, which names no object, beside resourceNames', { ...leases, verb: 'create' }, true],
    ['a RoleBinding\'s rule in its namespace', { group: 'events.k8s.io', resource: 'events', namespace: 'mikrolb-system', verb: 'create' }, true],
    ['a RoleBinding\'s rule in another namespace', { group: 'events.k8s.io', resource: 'events', namespace: 'shop', verb: 'create' }, false],
    ['a RoleBinding\'s rule across all namespaces', { group: 'events.k8s.io', resource: 'events', verb: 'create' }, false],
  ])('%s: %s', (_what, req, allowed) => {
    expect(allows(grants, req)).toBe(allowed);
  });

  it('applies only the bindings whose subject is the ServiceAccount (name and namespace)', () => {
    expect(grantsOf(RBAC, { namespace: 'elsewhere', name: 'fn' }).map((g) => g.rule.verbs)).toEqual([['*']]);
    expect(grantsOf(RBAC, { namespace: 'mikrolb-system', name: 'other' })).toEqual([]);
  });

  it('refuses as the API server does: 403, reason Forbidden, its message', () => {
    const e = forbidden(SA, { ...pools, verb: 'get', name: 'lan' });
    expect(isForbidden(e)).toBe(true);
    expect(isKubeError(e) && e.reason).toBe('Forbidden');
    expect(e.message).toBe('ippools.mikrolb.de "lan" is forbidden: User "system:serviceaccount:mikrolb-system:fn" cannot get resource "ippools" in API group "mikrolb.de" at the cluster scope');
    expect(forbidden(SA, { ...services, subresource: 'status', verb: 'get' }).message)
      .toBe('services "web" is forbidden: User "system:serviceaccount:mikrolb-system:fn" cannot get resource "services/status" in API group "" in the namespace "shop"');
  });
});

describe('rbacPort', () => {
  const SERVICE = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { type: 'LoadBalancer' } };
  const setup = () => {
    const kube = memoryPort({ objects: [SERVICE, { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan' }, spec: { addresses: ['192.0.2.0/24'] } }] });
    return { kube, port: rbacPort(kube.port, SA, grants) };
  };

  it('passes what the rules allow to the port, and refuses the rest before it reaches the port', async () => {
    const { kube, port } = setup();
    expect(await port.list('IPPool')).toHaveLength(1);
    await expect(port.get('IPPool', 'lan')).rejects.toSatisfy(isForbidden);
    await expect(port.remove('Service', 'web', 'shop')).rejects.toThrow('cannot delete resource "services" in API group "" in the namespace "shop"');
    expect(kube.writes).toEqual([]);
  });

  it('writes a status through the status subresource, a spec through the resource', async () => {
    const { kube, port } = setup();
    const svc = await port.get('Service', 'web', 'shop');
    expect(svc).toBeDefined();
    await port.replaceStatus('Service', { ...SERVICE, status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } });
    await port.replace('Service', { ...SERVICE, metadata: { ...SERVICE.metadata, labels: { a: 'b' } } });
    expect(kube.writes.map((w) => `${w.verb} ${w.subresource ?? ''}`)).toEqual(['update status', 'update ']);
    await expect(port.create('Service', { ...SERVICE, metadata: { name: 'new', namespace: 'shop' } })).rejects.toThrow('cannot create resource "services"');
  });

  it('records an event as an events.k8s.io create in the namespace the event lands in', async () => {
    const { kube, port } = setup();
    // a pool's events land in default (CLUSTER_EVENT_NAMESPACE), where the Role is not bound
    await expect(port.recordEvent({ regarding: { kind: 'IPPool', name: 'lan' }, type: 'Normal', reason: 'R', note: 'n', action: 'A' }))
      .rejects.toThrow('cannot create resource "events" in API group "events.k8s.io" in the namespace "default"');
    await port.recordEvent({ regarding: { kind: 'Service', name: 'x', namespace: 'mikrolb-system' }, type: 'Normal', reason: 'R', note: 'n', action: 'A' });
    expect(kube.events.map((e) => e.reason)).toEqual(['R']);
  });

  it('lists a namespaced kind across all namespaces only with a cluster-wide grant', async () => {
    const port = rbacPort(memoryPort().port, SA, grants);
    expect(await port.list('Lease', { namespace: 'mikrolb-system' })).toEqual([]);
    await expect(port.list('Lease')).rejects.toThrow('cannot list resource "leases" in API group "coordination.k8s.io" at the cluster scope');
    await expect(port.list('Lease', { namespace: 'shop' })).rejects.toSatisfy(isForbidden);
  });
});

describe('rbacTransport', () => {
  it.each<[RestRequest, Request]>([
    [{ method: 'GET', path: '/apis/coordination.k8s.io/v1/namespaces/mikrolb-system/leases/mine' }, { ...leases, verb: 'get', name: 'mine' }],
    [{ method: 'GET', path: '/apis/mikrolb.de/v1alpha1/ippools' }, { ...pools, verb: 'list' }],
    [{ method: 'GET', path: '/apis/mikrolb.de/v1alpha1/ippools', query: { watch: '1' } }, { ...pools, verb: 'watch' }],
    [{ method: 'POST', path: '/apis/coordination.k8s.io/v1/namespaces/mikrolb-system/leases' }, { ...leases, verb: 'create' }],
    [{ method: 'PUT', path: '/api/v1/namespaces/shop/services/web/status' }, { ...services, subresource: 'status', verb: 'update' }],
    [{ method: 'PATCH', path: '/api/v1/namespaces/shop/services/web' }, { ...services, verb: 'patch' }],
    [{ method: 'DELETE', path: '/api/v1/namespaces/shop/services' }, { group: '', resource: 'services', namespace: 'shop', verb: 'deletecollection' }],
    [{ method: 'GET', path: '/api/v1/namespaces/shop' }, { group: '', resource: 'namespaces', name: 'shop', verb: 'get' }],
  ])('reads %j as the API server does', (req, attributes) => {
    expect(requestOfRest(req)).toEqual(attributes);
  });

  it('sends what the rules allow and refuses the rest', async () => {
    const sent: string[] = [];
    const transport = rbacTransport(async (req) => void sent.push(`${req.method} ${req.path}`), SA, grants);
    await transport({ method: 'PUT', path: '/apis/coordination.k8s.io/v1/namespaces/mikrolb-system/leases/mine', body: {} });
    await expect(transport({ method: 'PUT', path: '/apis/coordination.k8s.io/v1/namespaces/mikrolb-system/leases/theirs', body: {} }))
      .rejects.toThrow('leases.coordination.k8s.io "theirs" is forbidden: User "system:serviceaccount:mikrolb-system:fn" cannot update resource "leases" in API group "coordination.k8s.io" in the namespace "mikrolb-system"');
    expect(sent).toEqual(['PUT /apis/coordination.k8s.io/v1/namespaces/mikrolb-system/leases/mine']);
  });
});

describe('the RBAC deploy/base ships', () => {
  const rbac = loadRbac();

  it('binds each component\'s ServiceAccount to its rules (program lists pools, never gets one)', async () => {
    const program = portAs(memoryPort().port, 'program', rbac);
    expect(await program.list('IPPool')).toEqual([]);
    await expect(program.get('IPPool', 'lan')).rejects.toSatisfy(isForbidden);
    const webhook = portAs(memoryPort().port, 'webhook', rbac);
    await expect(webhook.list('Service')).rejects.toSatisfy(isForbidden);
  });

  it('lets the bridge read its own Lease only, in its own namespace', () => {
    const bridge = grantsOf(rbac, { namespace: 'mikrolb-system', name: 'mikrolb-bridge' });
    expect(allows(bridge, { ...leases, name: 'mikrolb-bridge', verb: 'get' })).toBe(true);
    expect(allows(bridge, { ...leases, name: 'someone-else', verb: 'get' })).toBe(false);
    expect(allows(bridge, { ...leases, namespace: 'default', name: 'mikrolb-bridge', verb: 'get' })).toBe(false);
  });
});

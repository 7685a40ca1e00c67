import { describe, expect, it } from 'vitest';
import type { IPFamily } from '../ip/index.js';
import { IPAllocationSchema, IPPoolSchema, type LabelSelector } from '../k8s/schemas.js';
import { assignAddress, type Holding } from './assign.js';
import { autoAssignOrder, describeScope, poolServes, scopeProblems, scopeRefusal, selectorMatches, type Requester } from './pool-scope.js';
import { viewPools } from './pools.js';

const pool = (name: string, serviceAllocation?: Record<string, unknown>, extra: Record<string, unknown> = {}, created = '2026-01-01T00:00:00Z') =>
  IPPoolSchema.parse({ metadata: { name, creationTimestamp: created }, spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], ...extra, ...(serviceAllocation ? { serviceAllocation } : {}) } });

const who = (key: string, labels: Record<string, string> = {}, namespaceLabels: Record<string, string> = {}): Requester => {
  const [namespace = 'default'] = key.split('/');
  return { key, namespace, labels, namespaceLabels };
};

describe('label selectors, as Kubernetes reads them', () => {
  const labels = { tier: 'gold', team: 'a' };
  it.each<[string, LabelSelector, boolean]>([
    ['an empty selector matches everything', {}, true],
    ['matchLabels all equal', { matchLabels: { tier: 'gold', team: 'a' } }, true],
    ['matchLabels one differs', { matchLabels: { tier: 'gold', team: 'b' } }, false],
    ['In', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['silver', 'gold'] }] }, true],
    ['NotIn (value listed)', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['gold'] }] }, false],
    ['NotIn matches a missing label', { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }, true],
    ['Exists', { matchExpressions: [{ key: 'team', operator: 'Exists' }] }, true],
    ['DoesNotExist', { matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, false],
    ['labels and expressions must all hold', { matchLabels: { tier: 'gold' }, matchExpressions: [{ key: 'env', operator: 'Exists' }] }, false],
    ['a malformed selector (In without values) matches nothing', { matchExpressions: [{ key: 'tier', operator: 'In', values: [] }] }, false],
  ])('%s', (_what, selector, expected) => {
    expect(selectorMatches(selector, labels)).toBe(expected);
  });
});

describe('which Services a scoped pool serves', () => {
  it.each<[string, Record<string, unknown> | undefined, Requester, boolean]>([
    ['an unscoped pool serves everyone', undefined, who('x/web'), true],
    ['a scope with only a priority serves everyone', { priority: 3 }, who('x/web'), true],
    ['a listed namespace', { namespaces: ['team-a', 'team-b'] }, who('team-b/web'), true],
    ['an unlisted namespace', { namespaces: ['team-a'] }, who('team-c/web'), false],
    ['a namespace matching a namespaceSelector', { namespaceSelectors: [{ matchLabels: { tenant: 'a' } }] }, who('x/web', {}, { tenant: 'a' }), true],
    ['namespaces and namespaceSelectors are either/or', { namespaces: ['team-a'], namespaceSelectors: [{ matchLabels: { tenant: 'a' } }] }, who('team-a/web', {}, { tenant: 'b' }), true],
    ['neither the list nor a selector', { namespaces: ['team-a'], namespaceSelectors: [{ matchLabels: { tenant: 'a' } }] }, who('x/web', {}, { tenant: 'b' }), false],
    ['a Service matching one of the serviceSelectors', { serviceSelectors: [{ matchLabels: { tier: 'gold' } }, { matchLabels: { tier: 'silver' } }] }, who('x/web', { tier: 'silver' }), true],
    ['a Service matching none', { serviceSelectors: [{ matchLabels: { tier: 'gold' } }] }, who('x/web', { tier: 'bronze' }), false],
    ['namespace and Service must both match', { namespaces: ['team-a'], serviceSelectors: [{ matchLabels: { tier: 'gold' } }] }, who('team-b/web', { tier: 'gold' }), false],
  ])('%s', (_what, scope, requester, expected) => {
    expect(poolServes(pool('p', scope), requester)).toBe(expected);
  });
});

describe('the order auto-assignment tries pools in', () => {
  const views = [
    pool('oldest-plain'), pool('p0', { namespaces: ['t'] }), pool('p5', { namespaces: ['t'], priority: 5 }),
    pool('p1', { namespaces: ['t'], priority: 1 }), pool('other-tenant', { namespaces: ['u'], priority: 1 }), pool('younger-plain'),
  ].map((p) => ({ pool: p, name: p.metadata.name }));
  it('scoped pools the Service matches by priority (0 last), then the unscoped pools in the given order', () => {
    expect(autoAssignOrder(views, who('t/web')).map((v) => v.name)).toEqual(['p1', 'p5', 'p0', 'oldest-plain', 'younger-plain']);
  });
  it('an operator reservation (no Service) only gets unscoped pools', () => {
    expect(autoAssignOrder(views, undefined).map((v) => v.name)).toEqual(['oldest-plain', 'younger-plain']);
  });
});

describe('scope refusals and their words', () => {
  const gold = pool('gold', { namespaces: ['team-a'], namespaceSelectors: [{ matchLabels: { tenant: 'a' } }], serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold', 'platinum'] }] }] });
  it('names the pool, the scope and the Service', () => {
    expect(scopeRefusal(gold, who('team-b/web'))).toBe(
      'Pool gold serves only Services in namespace team-a or in a namespace labelled tenant=a, labelled tier in (gold,platinum); Service team-b/web is not one of them.');
    expect(scopeRefusal(gold, who('team-b/web'), '192.0.2.9')).toMatch(/^Address 192.0.2.9 is in pool gold, which serves only Services in namespace team-a/);
  });
  it('refuses nothing to a matching Service, to an operator reservation or in an unscoped pool', () => {
    expect(scopeRefusal(gold, who('team-a/web', { tier: 'gold' }))).toBeUndefined();
    expect(scopeRefusal(gold, undefined)).toBeUndefined();
    expect(scopeRefusal(pool('plain'), who('team-b/web'))).toBeUndefined();
  });
  it('words a scope of Service selectors alone', () => {
    expect(describeScope({ serviceSelectors: [{ matchExpressions: [{ key: 'legacy', operator: 'DoesNotExist' }] }] })).toBe('labelled !legacy');
  });
});

describe('what the webhook refuses in a scope', () => {
  it.each<[string, Record<string, unknown>, string[]]>([
    ['a valid scope', { priority: 0, namespaces: ['team-a'], namespaceSelectors: [{ matchLabels: { 'example.com/tenant': 'a' } }], serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }] }, []],
    ['a namespace that is no DNS label', { namespaces: ['Team_A'] }, ['spec.serviceAllocation.namespaces[0]']],
    ['a label key with a space', { serviceSelectors: [{ matchLabels: { 'bad key': 'x' } }] }, ['spec.serviceAllocation.serviceSelectors[0].matchLabels']],
    ['a label value too odd', { namespaceSelectors: [{ matchLabels: { tenant: '-a' } }] }, ['spec.serviceAllocation.namespaceSelectors[0].matchLabels.tenant']],
    ['In without values', { serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In' }] }] }, ['spec.serviceAllocation.serviceSelectors[0].matchExpressions[0].values']],
    ['Exists with values', { serviceSelectors: [{}, { matchExpressions: [{ key: 'tier', operator: 'Exists', values: ['x'] }] }] }, ['spec.serviceAllocation.serviceSelectors[1].matchExpressions[0].values']],
    ['a bad key prefix', { serviceSelectors: [{ matchExpressions: [{ key: 'Example.COM/tier', operator: 'Exists' }] }] }, ['spec.serviceAllocation.serviceSelectors[0].matchExpressions[0].key']],
  ])('%s', (_what, scope, fields) => {
    const spec = pool('p', scope).spec.serviceAllocation;
    expect(scopeProblems(spec).map((p) => p.field)).toEqual(fields);
  });
});

describe('choosing an address with scoped pools', () => {
  const tenant = pool('tenant-a', { namespaces: ['team-a'], priority: 2 }, { addresses: ['10.1.0.1-10.1.0.2'] }, '2026-01-02T00:00:00Z');
  const premium = pool('premium', { namespaces: ['team-a'], priority: 1, serviceSelectors: [{ matchLabels: { tier: 'gold' } }] }, { addresses: ['10.2.0.1'] }, '2026-01-03T00:00:00Z');
  const shared = pool('shared', undefined, { addresses: ['192.0.2.1-192.0.2.2'] });
  const pools = [shared, tenant, premium];
  const serviceOf = (key: string) => ({ key, ipFamilies: ['IPv4' as const] });
  function decide(spec: Record<string, unknown>, requester: Requester | undefined, held?: Holding, taken: bigint[] = []) {
    const allocation = IPAllocationSchema.parse({ metadata: { name: 'a', uid: 'uid-a' }, spec });
    return assignAddress({
      allocation, pools: viewPools(pools), taken: (_f: IPFamily) => new Set(taken),
      ...(requester ? { requester, service: serviceOf(requester.key) } : {}), ...(held ? { held } : {}),
    });
  }

  it.each<[string, Record<string, unknown>, Requester | undefined, Record<string, unknown>]>([
    ['a tenant Service gets its scoped pool before the older shared one', { ipFamily: 'IPv4' }, who('team-a/web'), { ok: true, pool: 'tenant-a' }],
    ['a gold Service of the tenant gets the pool of lower priority', { ipFamily: 'IPv4' }, who('team-a/web', { tier: 'gold' }), { ok: true, pool: 'premium', address: '10.2.0.1' }],
    ['another namespace gets the shared pool', { ipFamily: 'IPv4' }, who('team-b/web'), { ok: true, pool: 'shared' }],
    ['an operator reservation by family gets the shared pool', { ipFamily: 'IPv4' }, undefined, { ok: true, pool: 'shared' }],
    ['an operator reservation may name a scoped pool', { poolName: 'tenant-a' }, undefined, { ok: true, pool: 'tenant-a' }],
    ['another namespace naming the scoped pool is refused', { poolName: 'tenant-a' }, who('team-b/web'), { ok: false, reason: 'PoolScopeMismatch', message: 'Pool tenant-a serves only Services in namespace team-a; Service team-b/web is not one of them.' }],
    ['another namespace asking for an address of it is refused', { address: '10.1.0.2' }, who('team-b/web'), { ok: false, reason: 'PoolScopeMismatch', message: 'Address 10.1.0.2 is in pool tenant-a, which serves only Services in namespace team-a; Service team-b/web is not one of them.' }],
    ['the tenant asking for that address gets it', { address: '10.1.0.2' }, who('team-a/web'), { ok: true, pool: 'tenant-a', address: '10.1.0.2' }],
  ])('%s', (_what, spec, requester, expected) => {
    expect(decide(spec, requester)).toMatchObject(expected);
  });

  it('a full scoped pool falls through to the next by priority, then to the unscoped pools', () => {
    const full = [10n * 2n ** 24n + 2n * 2n ** 16n + 1n]; // 10.2.0.1
    expect(decide({ ipFamily: 'IPv4' }, who('team-a/web', { tier: 'gold' }), undefined, full)).toMatchObject({ ok: true, pool: 'tenant-a' });
  });

  it('an address held in a pool that no longer serves the Service is given up for one that does', () => {
    const held: Holding = { address: '10.1.0.1', poolName: 'tenant-a', allocationName: 'a', allocationUID: 'uid-a' };
    expect(decide({ ipFamily: 'IPv4' }, who('team-a/web'), held)).toMatchObject({ ok: true, held: true, address: '10.1.0.1' });
    expect(decide({ ipFamily: 'IPv4' }, who('team-b/web'), held)).toMatchObject({ ok: true, held: false, pool: 'shared' });
  });

  it('says so when every auto-assign pool is scoped to other Services', () => {
    const allocation = IPAllocationSchema.parse({ metadata: { name: 'a', uid: 'uid-a' }, spec: { ipFamily: 'IPv4' } });
    expect(assignAddress({ allocation, pools: viewPools([tenant]), taken: () => new Set(), requester: who('team-b/web') })).toEqual({
      ok: false, reason: 'PoolExhausted', message: 'No auto-assign IPv4 pool exists that serves Service team-b/web (the others are scoped to other Services).',
    });
  });
});

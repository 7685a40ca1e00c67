import { describe, expect, it } from 'vitest';
import { serviceConcernsUs, sliceConcernsUs } from './filters.js';
import { createTracker } from './tracker.js';
import { routeEmission } from './routing.js';
import { claimNameOf } from '../lib/k8s/claims.js';

const pool = (name: string, rv: string, cidr = '192.0.2.0/24') => ({ metadata: { name, resourceVersion: rv }, spec: { cidrs: [cidr] } });
const service = (name: string, rv: string, spec: Record<string, unknown> = { type: 'LoadBalancer' }, meta: Record<string, unknown> = {}) => ({
  metadata: { name, namespace: 'shop', resourceVersion: rv, ...meta },
  spec,
});
const claim = (name: string, rv: string, pool: string) => ({ metadata: { name, resourceVersion: rv, labels: { 'mikrolb.de/pool': pool } } });
const allocation = (name: string, rv: string, status?: Record<string, unknown>) => ({
  metadata: { name, resourceVersion: rv, generation: 1 },
  spec: { poolName: 'lan' },
  ...(status ? { status } : {}),
});
const slice = (name: string, rv: string, svc = 'web') => ({
  metadata: { name, namespace: 'shop', resourceVersion: rv, labels: { 'kubernetes.io/service-name': svc } },
});

describe('watch events', () => {
  it('tells add from update and drops replays of the same resourceVersion', () => {
    const t = createTracker('IPPool');
    expect(t.seen(pool('lan', '1'))).toMatchObject({ change: 'add', ref: { kind: 'IPPool', name: 'lan' } });
    expect(t.seen(pool('lan', '1'))).toBeUndefined();
    expect(t.seen(pool('lan', '2'))).toMatchObject({ change: 'update', ref: { kind: 'IPPool', name: 'lan' } });
    expect(t.gone(pool('lan', '3'))).toEqual({ change: 'delete', ref: { kind: 'IPPool', name: 'lan' } });
    expect(t.size()).toBe(0);
  });

  it('ignores what is not an object', () => {
    expect(createTracker('IPPool').seen({ kind: 'Status' })).toBeUndefined();
  });
});

describe('re-list', () => {
  it('emits deletes for what vanished while the watch was down and updates for what changed', () => {
    const t = createTracker('IPPool');
    t.relist([pool('a', '1'), pool('b', '1'), pool('c', '1')]);
    const changes = t.relist([pool('a', '1'), pool('b', '7', '198.51.100.0/24'), pool('d', '8')]);
    expect(changes).toEqual([
      { change: 'update', ref: { kind: 'IPPool', name: 'b' }, changed: ['spec'] }, // no generation in these objects: what is outside metadata and status counts as spec
      { change: 'add', ref: { kind: 'IPPool', name: 'd' }, changed: ['spec', 'meta'] },
      { change: 'delete', ref: { kind: 'IPPool', name: 'c' } },
    ]);
    expect(t.size()).toBe(3);
  });

  it('works page by page', () => {
    const t = createTracker('IPPool');
    t.relist([pool('a', '1'), pool('b', '1')]);
    const run = t.startRelist();
    expect(run.page([pool('a', '1')])).toEqual([]);
    expect(run.page([pool('c', '1')])).toEqual([{ change: 'add', ref: { kind: 'IPPool', name: 'c' }, changed: ['spec', 'meta'] }]);
    expect(run.finish()).toEqual([{ change: 'delete', ref: { kind: 'IPPool', name: 'b' } }]);
  });

  it('names the objects that stopped concerning it and vanished while the watch was down (they have no emission)', () => {
    const t = createTracker('Service', serviceConcernsUs);
    const clusterIP = { type: 'ClusterIP' };
    t.relist([service('a', '1'), service('b', '1'), service('c', '1'), service('internal', '1', clusterIP)]);
    // a, b and c turn ClusterIP: no longer tracked
    for (const name of ['a', 'b', 'c']) t.seen(service(name, '2', clusterIP));
    // b's deletion is seen by the watch; c becomes ours again
    t.gone(service('b', '3', clusterIP));
    t.seen(service('c', '4'));
    const run = t.startRelist();
    run.page([service('internal', '1', clusterIP)]);
    expect(run.finish()).toEqual([{ change: 'delete', ref: { kind: 'Service', namespace: 'shop', name: 'c' } }]);
    expect(run.vanished()).toEqual(['Service/shop/a']);
    // told once
    const again = t.startRelist();
    again.finish();
    expect(again.vanished()).toEqual([]);
  });

  it('remembers the Service of a slice, so a slice deleted unseen still names it', () => {
    const t = createTracker('EndpointSlice');
    t.relist([slice('web-1', '1')]);
    expect(t.relist([])).toEqual([
      { change: 'delete', ref: { kind: 'EndpointSlice', namespace: 'shop', name: 'web-1' }, owner: { kind: 'Service', namespace: 'shop', name: 'web' } },
    ]);
  });

  it('remembers the pool of a claim, so a claim deleted unseen still names it', () => {
    const t = createTracker('IPAddressClaim');
    t.relist([claim('192.0.2.5', '1', 'lan'), claim('192.0.2.6', '1', 'lan')]);
    expect(t.relist([claim('192.0.2.6', '1', 'lan')])).toEqual([
      { change: 'delete', ref: { kind: 'IPAddressClaim', name: '192.0.2.5' }, owner: { kind: 'IPPool', name: 'lan' } },
    ]);
  });

  it('after a broken watch, tells program-relevant changes of an allocation from its echo', () => {
    const t = createTracker('IPAllocation');
    t.relist([allocation('a', '1', { phase: 'Allocated', address: '192.0.2.5' }), allocation('b', '1', { phase: 'Allocated', address: '192.0.2.6' })]);
    const changes = t.relist([
      allocation('a', '2', { phase: 'Programmed', address: '192.0.2.5', advertised: true, conditions: [{ type: 'Ready', status: 'True' }] }),
      allocation('b', '2', { phase: 'Allocated', address: '192.0.2.7' }),
    ]);
    expect(changes.map((e) => [e.ref.name, e.changed])).toEqual([['a', []], ['b', ['address']]]);
  });
});

/** An allocation's status after the router failed on its address (what program writes, see allocation-status.ts). */
const routerFailed = (message: string) => ({
  phase: 'Allocated', address: '192.0.2.5', advertised: false,
  conditions: [{ type: 'Programmed', status: 'False', reason: 'BackendError', message }, { type: 'Ready', status: 'False', reason: 'BackendError', message }],
});

/** An allocation's status after program refused its address as the router's own. */
const refusedByRouter = (address: string) => ({ phase: 'Allocated', address, conditions: [{ type: 'Programmed', status: 'False', reason: 'AddressInUseByRouter' }] });

describe('the address an allocation holds (what program acts on)', () => {
  const step = (before: Record<string, unknown> | undefined, after: Record<string, unknown> | undefined) => {
    const t = createTracker('IPAllocation');
    t.seen(allocation('a', '1', before));
    return t.seen(allocation('a', '2', after))?.changed;
  };
  it.each<[string, Record<string, unknown> | undefined, Record<string, unknown> | undefined, string[]]>([
    ['allocate writes the first address', undefined, { phase: 'Allocated', address: '192.0.2.5' }, ['address']],
    ['program marks it Programmed and advertised (its echo)', { phase: 'Allocated', address: '192.0.2.5' }, { phase: 'Programmed', address: '192.0.2.5', advertised: true, interfaceName: 'ether1' }, []],
    ['program writes conditions only', { phase: 'Programmed', address: '192.0.2.5' }, { phase: 'Programmed', address: '192.0.2.5', observedGeneration: 2, conditions: [{ type: 'Ready' }] }, []],
    ['allocate moves it to another address', { phase: 'Programmed', address: '192.0.2.5' }, { phase: 'Allocated', address: '192.0.2.9' }, ['address']],
    ['it fails and holds nothing', { phase: 'Programmed', address: '192.0.2.5' }, { phase: 'Failed' }, ['address']],
    ['it leaves the holding phases with its address still written', { phase: 'Allocated', address: '192.0.2.5' }, { phase: 'Pending', address: '192.0.2.5' }, ['address']],
    ['allocate and program together write it Programmed at once (the all-in-one hand-off: its echo)', undefined, { phase: 'Programmed', address: '192.0.2.5', advertised: true }, []],
    ['a Programmed address is taken away', { phase: 'Programmed', address: '192.0.2.5' }, { phase: 'Pending' }, ['address']],
    ['a failure is worded differently (still nothing held)', { phase: 'Failed', conditions: [{ reason: 'PoolExhausted' }] }, { phase: 'Failed', conditions: [{ reason: 'PoolNotFound' }] }, []],
    ['the router failed on a Programmed address (recorded by a program whose sender may not retry)', { phase: 'Programmed', address: '192.0.2.5' }, routerFailed('unreachable'), ['address']],
    ['the router failed again, worded differently (the retry is under way)', routerFailed('unreachable'), routerFailed('timed out'), []],
    ['the router took it at last (program\'s own echo)', routerFailed('unreachable'), { phase: 'Programmed', address: '192.0.2.5', conditions: [{ type: 'Programmed', status: 'True', reason: 'Programmed' }] }, []],
    // no retry of program helps until the router's state changes; allocate moves an auto-assigned one
    ['the router holds the address itself', { phase: 'Programmed', address: '192.0.2.5' }, refusedByRouter('192.0.2.5'), ['refused']],
    ['refused again (a resync)', refusedByRouter('192.0.2.5'), { ...refusedByRouter('192.0.2.5'), observedGeneration: 2 }, []],
    ['allocate moved it off the refused address', refusedByRouter('192.0.2.5'), { phase: 'Allocated', address: '192.0.2.9' }, ['address', 'refused']],
  ])('%s → %j', (_what, before, after, expected) => expect(step(before, after)).toEqual(expected));

  it('an add says whether allocate decided the allocation (an address, or a failure; a re-list after a restart)', () => {
    const t = createTracker('IPAllocation');
    expect(t.seen(allocation('a', '1'))?.changed).toEqual(['spec', 'meta']);
    expect(t.seen(allocation('b', '1', { phase: 'Failed' }))?.changed).toEqual(['spec', 'meta', 'address']);
    expect(t.seen(allocation('c', '1', { phase: 'Programmed', address: '192.0.2.5' }))?.changed).toEqual(['spec', 'meta', 'address']);
    expect(t.seen(allocation('d', '1', refusedByRouter('192.0.2.1')))?.changed).toEqual(['spec', 'meta', 'address', 'refused']);
  });

  it('a failure, or a new reason for one, is a decision program hears of (it writes the reason on the Service); the same failure again is not', () => {
    const t = createTracker('IPAllocation');
    const failed = (rv: string, reason: string) => allocation('a', rv, { phase: 'Failed', conditions: [{ type: 'Allocated', status: 'False', reason }] });
    t.seen(allocation('a', '1'));
    expect(t.seen(failed('2', 'PoolExhausted'))?.changed).toEqual(['address']);
    expect(t.seen(failed('3', 'PoolExhausted'))?.changed).toEqual([]);
    expect(t.seen(failed('4', 'PoolNotFound'))?.changed).toEqual(['address']);
    expect(t.seen(allocation('a', '5', { phase: 'Allocated', address: '192.0.2.5' }))?.changed).toEqual(['address']);
  });

  it('a kind without generation: a status write or a finalizer is not a change of spec', () => {
    const t = createTracker('Service');
    const web = (rv: string, extra: Record<string, unknown> = {}, finalizers?: string[]) =>
      ({ metadata: { name: 'web', namespace: 'shop', resourceVersion: rv, ...(finalizers ? { finalizers } : {}) }, spec: { type: 'LoadBalancer' }, ...extra });
    t.seen(web('1'));
    expect(t.seen(web('2', {}, ['mikrolb.de/finalizer']))?.changed).toEqual([]);
    expect(t.seen(web('3', { status: { loadBalancer: { ingress: [{ ip: '192.0.2.5' }] } } }, ['mikrolb.de/finalizer']))?.changed).toEqual([]);
    expect(t.seen(web('4', { spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } }, ['mikrolb.de/finalizer']))?.changed).toEqual(['spec']);
  });

  it('a kind without generation: a watch object after a re-list is no change of spec (list items carry no apiVersion and kind, watch objects do)', () => {
    const t = createTracker('Service', serviceConcernsUs);
    const web = (rv: string, typed: boolean, status: Record<string, unknown> = {}) => ({
      ...(typed ? { apiVersion: 'v1', kind: 'Service' } : {}),
      metadata: { name: 'web', namespace: 'shop', resourceVersion: rv }, spec: { type: 'LoadBalancer' }, status,
    });
    t.relist([web('1', false)]);
    const echo = t.seen(web('2', true, { loadBalancer: { ingress: [{ ip: '192.0.2.5' }] } }));
    expect(echo?.changed).toEqual([]);
    expect(echo && routeEmission(echo)).toEqual([]);
  });

  it('is not a facet of other kinds', () => {
    const t = createTracker('Service');
    const web = (rv: string, status?: unknown) => ({ metadata: { name: 'web', namespace: 'shop', resourceVersion: rv, generation: 1 }, spec: { type: 'LoadBalancer' }, status });
    t.seen(web('1'));
    expect(t.seen(web('2', { phase: 'Allocated', address: '192.0.2.5' }))?.changed).toEqual([]);
  });

  it("a Namespace's labels are its meta facet; a change of anything else (its status, its finalizers) is not news", () => {
    const t = createTracker('Namespace');
    const ns = (rv: string, labels: Record<string, string>, phase = 'Active') => ({ metadata: { name: 'shop', resourceVersion: rv, labels }, spec: { finalizers: ['kubernetes'] }, status: { phase } });
    expect(t.seen(ns('1', { tenant: 'a' }))?.change).toBe('add');
    expect(t.seen(ns('2', { tenant: 'b' }))?.changed).toEqual(['meta']);
    expect(t.seen(ns('3', { tenant: 'b' }, 'Terminating'))?.changed).toEqual([]);
  });
});

describe('what concerns us', () => {
  it.each([
    ['a LoadBalancer', service('a', '1'), true],
    ['a ClusterIP', service('a', '1', { type: 'ClusterIP' }), false],
    ['a ClusterIP with our annotation', service('a', '1', { type: 'ClusterIP' }, { annotations: { 'mikrolb.de/load-balancer-ips': '10.0.0.1' } }), true],
    ['a ClusterIP with another annotation', service('a', '1', { type: 'ClusterIP' }, { annotations: { 'example.com/x': 'y' } }), false],
    ['a ClusterIP with our finalizer', service('a', '1', { type: 'ClusterIP' }, { finalizers: ['mikrolb.de/finalizer'] }), true],
  ])('%s: %s', (_, obj, expected) => expect(serviceConcernsUs(obj)).toBe(expected));

  it('tracks a Service that stops concerning us until it has said so once', () => {
    const t = createTracker('Service', serviceConcernsUs);
    expect(t.seen(service('web', '1', { type: 'ClusterIP' }))).toBeUndefined();
    expect(t.seen(service('web', '2'))).toMatchObject({ change: 'add' });
    expect(t.seen(service('web', '3', { type: 'ClusterIP' }))).toMatchObject({ change: 'update' });
    expect(t.has('Service/shop/web')).toBe(false);
    expect(t.seen(service('web', '4', { type: 'ClusterIP' }))).toBeUndefined();
    expect(t.gone(service('web', '5', { type: 'ClusterIP' }))).toBeUndefined();
  });

  it('an object first seen already being deleted (a bridge started after the deletion) is an update, so release hears of it', () => {
    const t = createTracker('Service');
    const deleting = service('web', '7', { type: 'LoadBalancer' }, { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['mikrolb.de/finalizer'] });
    expect(t.seen(deleting)).toMatchObject({ change: 'update', changed: ['spec', 'meta'] });
    expect(routeEmission(t.seen({ ...deleting, metadata: { ...deleting.metadata, name: 'db' } }) ?? expect.fail('not seen')).map((d) => d.fn)).toContain('release');
  });

  it('says which objects are being deleted, in their emissions and when asked (a deletion is never taken back)', () => {
    const t = createTracker('Service');
    const finalizers = ['mikrolb.de/finalizer'];
    expect(t.live('Service/shop/web')).toBe(false); // not (yet) known
    expect(t.seen(service('web', '1', { type: 'LoadBalancer' }, { finalizers }))).not.toHaveProperty('deleting');
    expect(t.live('Service/shop/web')).toBe(true);
    const deleting = t.seen(service('web', '2', { type: 'LoadBalancer' }, { finalizers, deletionTimestamp: '2026-12-05T00:00:00Z' })) ?? expect.fail('not seen');
    expect(deleting).toMatchObject({ change: 'update', changed: ['meta'], deleting: true });
    expect(routeEmission(deleting).map((d) => d.fn)).toEqual(['release']);
    expect([t.has('Service/shop/web'), t.live('Service/shop/web')]).toEqual([true, false]);
    t.gone(service('web', '3'));
    expect(t.live('Service/shop/web')).toBe(false);
  });

  it('a Service first seen with our finalizer (a bridge started after it stopped being a LoadBalancer) is an update, so release hears of it', () => {
    const t = createTracker('Service', serviceConcernsUs);
    const former = service('web', '7', { type: 'ClusterIP' }, { finalizers: ['mikrolb.de/finalizer'] });
    const emission = t.seen(former) ?? expect.fail('not seen');
    expect(emission).toMatchObject({ change: 'update', changed: ['spec', 'meta'] });
    expect(routeEmission(emission).map((d) => d.fn)).toContain('release');
    // a new Service has no finalizer yet: an add, which only allocate hears of
    const fresh = t.seen(service('db', '8')) ?? expect.fail('not seen');
    expect(fresh).toMatchObject({ change: 'add' });
    expect(routeEmission(fresh).map((d) => d.fn)).toEqual(['allocate']);
    // other kinds carry the finalizer from their creation on: still adds
    expect(createTracker('IPAllocation').seen({ ...allocation('web-v4', '1'), metadata: { name: 'web-v4', resourceVersion: '1', generation: 1, finalizers: ['mikrolb.de/finalizer'] } })).toMatchObject({ change: 'add' });
  });

  it('an allocation belongs to the Service its labels name', () => {
    const t = createTracker('IPAllocation');
    const owned = { metadata: { name: 'web-v4', resourceVersion: '1', generation: 1, labels: { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web' } }, spec: {} };
    expect(t.seen(owned)?.owner).toEqual({ kind: 'Service', namespace: 'shop', name: 'web' });
    expect(t.seen(allocation('reserved', '1'))?.owner).toBeUndefined();
  });

  it("a deleted allocation names the claim of the address its last state held (IPv6 by the claim's name), whatever its phase", () => {
    const t = createTracker('IPAllocation');
    expect(t.gone(allocation('reserved', '2', { phase: 'Programmed', address: '192.0.2.7' }))?.held).toEqual({ kind: 'IPAddressClaim', name: '192.0.2.7' });
    expect(t.gone(allocation('v6', '2', { phase: 'Allocated', address: '2001:db8::7' }))?.held).toEqual({ kind: 'IPAddressClaim', name: claimNameOf('2001:db8::7') });
    expect(t.gone(allocation('failed', '2', { phase: 'Failed', conditions: [] }))?.held).toBeUndefined();
    expect(t.gone(allocation('garbled', '2', { phase: 'Allocated', address: 'not-an-address' }))?.held).toBeUndefined();
    expect(createTracker('IPPool').gone({ ...pool('lan', '2'), status: { address: '192.0.2.7' } })?.held).toBeUndefined();
  });

  it('a deleted allocation noticed only by a re-list names the claim of the address it was last seen holding', () => {
    const t = createTracker('IPAllocation');
    t.relist([allocation('reserved', '1'), allocation('failed', '1')]);
    t.relist([allocation('reserved', '2', { phase: 'Programmed', address: '192.0.2.7' }), allocation('failed', '2', { phase: 'Failed' })]);
    expect(t.relist([]).map((e) => [e.ref.name, e.held])).toEqual([['reserved', { kind: 'IPAddressClaim', name: '192.0.2.7' }], ['failed', undefined]]);
  });

  it('a deleted claim names the allocations it held the address for, also when only a re-list notices', () => {
    const held = (spec: Record<string, unknown>) => ({ ...claim('192.0.2.7', '1', 'lan'), spec: { address: '192.0.2.7', poolName: 'lan', ...spec } });
    const alloc = (name: string) => ({ kind: 'IPAllocation', name });
    const t = createTracker('IPAddressClaim');
    expect(t.gone(held({ allocationName: 'web-v4', allocationUID: 'u1' }))?.holders).toEqual([alloc('web-v4')]);
    const shared = held({ allocationName: 'web-v4', allocationUID: 'u1', holders: [{ allocationName: 'web-v4', allocationUID: 'u1' }, { allocationName: 'dns-v4', allocationUID: 'u2' }] });
    expect(t.gone(shared)?.holders).toEqual([alloc('web-v4'), alloc('dns-v4')]);
    t.relist([shared]);
    expect(t.relist([]).map((e) => e.holders)).toEqual([[alloc('web-v4'), alloc('dns-v4')]]);
    expect(createTracker('IPAllocation').gone(allocation('reserved', '2', { phase: 'Programmed', address: '192.0.2.7' }))?.holders).toBeUndefined();
  });

  it('tracks slices of tracked Services only', () => {
    const t = createTracker('EndpointSlice', sliceConcernsUs((key) => key === 'Service/shop/web'));
    expect(t.seen(slice('web-1', '1'))).toMatchObject({ change: 'add', owner: { name: 'web' } });
    expect(t.seen(slice('db-1', '1', 'db'))).toBeUndefined();
    expect(t.seen({ metadata: { name: 'orphan', namespace: 'shop', resourceVersion: '1' } })).toBeUndefined();
  });
});

describe('shared claims', () => {
  const shared = (rv: string, sharingKey?: string, holders = 1) => ({
    ...claim('192.0.2.9', rv, 'lan'),
    spec: { address: '192.0.2.9', poolName: 'lan', ...(sharingKey ? { sharingKey, holders: Array.from({ length: holders }, (_, i) => ({ allocationUID: `u${i}` })) } : {}) },
  });
  const toProgram = (e: ReturnType<ReturnType<typeof createTracker>['seen']>) => (e ? routeEmission(e).filter((d) => d.fn === 'program') : []);

  it('reach program when they stop being shared or are freed, not when holders come and go', () => {
    const t = createTracker('IPAddressClaim');
    expect(t.seen(shared('1', 'web'))).toMatchObject({ change: 'add', shared: true });
    expect(toProgram(t.seen(shared('2', 'web', 2)))).toEqual([]); // a second holder joined
    const unshared = t.seen(shared('3'));
    expect(unshared?.changed).toContain('address');
    expect(toProgram(unshared)).toEqual([{ fn: 'program', change: 'update', ref: { kind: 'IPAddressClaim', name: '192.0.2.9' } }]);
    expect(toProgram(t.seen(shared('4', 'web')))).toHaveLength(1); // shared again: program finds nothing to take off
    expect(t.gone(shared('5', 'web'))).toMatchObject({ change: 'delete', shared: true });
  });

  it('remember being shared for a deletion seen only by a re-list', () => {
    const t = createTracker('IPAddressClaim');
    t.relist([shared('1', 'web')]);
    expect(t.relist([])).toEqual([{ change: 'delete', ref: { kind: 'IPAddressClaim', name: '192.0.2.9' }, owner: { kind: 'IPPool', name: 'lan' }, shared: true }]);
    const plain = createTracker('IPAddressClaim');
    plain.relist([shared('1')]);
    expect(plain.relist([])[0]?.shared).toBeUndefined();
  });
});

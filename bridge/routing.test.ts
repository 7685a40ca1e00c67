import { describe, expect, it } from 'vitest';
import type { Change, ObjectKind, ObjectRef } from '../lib/events/invocation.js';
import { ROUTES, routeEmission, type FunctionName } from './routing.js';

const fns = (kind: ObjectKind, change: Change): FunctionName[] => ROUTES[kind][change].map((r) => r.fn).sort();

describe('the routing table', () => {
  it.each<[ObjectKind, Change, FunctionName[]]>([
    ['IPPool', 'add', ['allocate', 'program']],
    ['IPPool', 'update', ['allocate', 'program', 'release']],
    ['IPPool', 'delete', ['allocate', 'program', 'release']],
    ['IPAllocation', 'add', ['allocate', 'program']],
    ['IPAllocation', 'update', ['allocate', 'program', 'release']],
    ['IPAllocation', 'delete', ['allocate', 'program', 'release']],
    ['Service', 'add', ['allocate', 'program']],
    ['Service', 'update', ['allocate', 'program', 'release']],
    ['Service', 'delete', ['allocate', 'program', 'release']],
    ['EndpointSlice', 'add', ['program']],
    ['EndpointSlice', 'update', ['program']],
    ['EndpointSlice', 'delete', ['program']],
  ])('%s %s → %j', (kind, change, expected) => expect(fns(kind, change)).toEqual(expected));
});

describe('deliveries', () => {
  const slice = { kind: 'EndpointSlice', namespace: 'shop', name: 'web-abc' } as const;
  const web = { kind: 'Service', namespace: 'shop', name: 'web' } as const;

  it('names the object itself', () => {
    expect(routeEmission({ change: 'update', ref: slice, service: web })).toEqual([{ fn: 'program', change: 'update', ref: slice }]);
  });

  it('turns a deleted slice into an update of its Service, which program can still read', () => {
    expect(routeEmission({ change: 'delete', ref: slice, service: web })).toEqual([{ fn: 'program', change: 'update', ref: web }]);
  });

  it('drops a deleted slice that belonged to no Service', () => {
    expect(routeEmission({ change: 'delete', ref: slice })).toEqual([]);
  });
});

describe('updates reach only the functions that care about what changed', () => {
  const alloc: ObjectRef = { kind: 'IPAllocation', name: 'ip-1' };
  const pool: ObjectRef = { kind: 'IPPool', name: 'lan' };
  const svc: ObjectRef = { kind: 'Service', namespace: 'shop', name: 'web' };
  const fnsFor = (ref: ObjectRef, changed: ('spec' | 'meta' | 'status')[]) => routeEmission({ change: 'update', ref, changed }).map((d) => d.fn).sort();
  it.each([
    ['an allocation status written by allocate wakes program only', alloc, ['status'], ['program']],
    ['an allocation being deleted wakes all three', alloc, ['meta'], ['allocate', 'program', 'release']],
    ['a pool ledger write wakes nobody', pool, ['status'], []],
    ['a pool spec change wakes allocate, program and release', pool, ['spec'], ['allocate', 'program', 'release']],
    ['a Service status written by program wakes nobody', svc, ['status'], []],
    ['a Service annotation change wakes all three', svc, ['meta'], ['allocate', 'program', 'release']],
  ] as const)('%s', (_what, ref, changed, expected) => {
    expect(fnsFor(ref, [...changed])).toEqual([...expected]);
  });

  it('an update whose changes are unknown (a re-list) goes everywhere it may matter', () => {
    expect(routeEmission({ change: 'update', ref: pool }).map((d) => d.fn).sort()).toEqual(['allocate', 'program', 'release']);
  });
});

describe('adds', () => {
  it('a new allocation without a status goes to allocate only; one listed with a status also to program', () => {
    const alloc: ObjectRef = { kind: 'IPAllocation', name: 'ip-1' };
    expect(routeEmission({ change: 'add', ref: alloc, changed: ['spec', 'meta'] }).map((d) => d.fn)).toEqual(['allocate']);
    expect(routeEmission({ change: 'add', ref: alloc, changed: ['spec', 'meta', 'status'] }).map((d) => d.fn).sort()).toEqual(['allocate', 'program']);
  });
});

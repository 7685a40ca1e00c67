import { describe, expect, it } from 'vitest';
import type { Change, ObjectKind } from '../lib/events/invocation.js';
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

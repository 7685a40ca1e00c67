import { describe, expect, it } from 'vitest';
import type { Change, ObjectKind, ObjectRef } from '../lib/events/invocation.js';
import { BATCH_DELAY_MS, COUNT_DELAY_MS, ROUTES, routeEmission, type Facet, type FunctionName } from './routing.js';

const fns = (kind: ObjectKind, change: Change): FunctionName[] => [...new Set(ROUTES[kind][change].map((r) => r.fn))].sort();

describe('the routing table', () => {
  it.each<[ObjectKind, Change, FunctionName[]]>([
    ['IPPool', 'add', ['allocate']],
    ['IPPool', 'update', ['allocate', 'program', 'release']],
    ['IPPool', 'delete', ['allocate', 'program', 'release']],
    ['IPAllocation', 'add', ['allocate', 'program']],
    ['IPAllocation', 'update', ['allocate', 'program', 'release']],
    ['IPAllocation', 'delete', ['allocate', 'program', 'release']],
    ['Service', 'add', ['allocate']],
    ['Service', 'update', ['allocate', 'program', 'release']],
    ['Service', 'delete', []],
    ['EndpointSlice', 'add', ['program']],
    ['EndpointSlice', 'update', ['program']],
    ['EndpointSlice', 'delete', ['program']],
    ['IPAddressClaim', 'add', ['allocate', 'release']],
    ['IPAddressClaim', 'update', ['program']],
    ['IPAddressClaim', 'delete', ['allocate', 'program', 'release']],
    ['Namespace', 'add', []],
    ['Namespace', 'update', ['allocate']],
    ['Namespace', 'delete', []],
  ])('%s %s → %j', (kind, change, expected) => expect(fns(kind, change)).toEqual(expected));
});

describe('deliveries', () => {
  const slice = { kind: 'EndpointSlice', namespace: 'shop', name: 'web-abc' } as const;
  const web = { kind: 'Service', namespace: 'shop', name: 'web' } as const;

  it('names the object itself', () => {
    const pool = { kind: 'IPPool', name: 'lan' } as const;
    expect(routeEmission({ change: 'update', ref: pool, changed: ['spec'] })).toEqual(['allocate', 'program', 'release'].map((fn) => ({ fn, change: 'update', ref: pool })));
  });

  it.each(['add', 'update'] as const)('turns a slice %s into an update of its Service, so a Service\'s slices and allocations coalesce into one program', (change) => {
    expect(routeEmission({ change, ref: slice, owner: web, changed: ['spec'] })).toEqual([{ fn: 'program', change: 'update', ref: web }]);
  });

  it('turns a deleted slice into an update of its Service, which program can still read', () => {
    expect(routeEmission({ change: 'delete', ref: slice, owner: web })).toEqual([{ fn: 'program', change: 'update', ref: web }]);
  });

  it('drops a deleted slice that belonged to no Service', () => {
    expect(routeEmission({ change: 'delete', ref: slice })).toEqual([]);
  });

  it('drops a deleted slice whose Service is gone or being deleted: it is programmed nowhere', () => {
    expect(routeEmission({ change: 'delete', ref: slice, owner: web, ownerGone: true })).toEqual([]);
  });

  it('drops a changed slice whose Service is being deleted, or no longer ours', () => {
    expect(routeEmission({ change: 'update', ref: slice, owner: web, ownerGone: true })).toEqual([]);
  });

  const claim = { kind: 'IPAddressClaim', name: '192.0.2.5' } as const;
  const lan = { kind: 'IPPool', name: 'lan' } as const;

  it.each([
    ['add', COUNT_DELAY_MS],
    ['delete', BATCH_DELAY_MS],
  ] as const)('turns a claim %s into a batched update of its pool for allocate and release (%i ms later)', (change, delayMs) => {
    expect(routeEmission({ change, ref: claim, owner: lan, changed: ['spec', 'meta'] })).toEqual([
      { fn: 'allocate', change: 'update', ref: lan, delayMs },
      { fn: 'release', change: 'update', ref: lan, delayMs },
    ]);
  });

  it('lets a freed address reach its pool sooner than a count', () => {
    expect(BATCH_DELAY_MS).toBeLessThan(COUNT_DELAY_MS);
    expect(BATCH_DELAY_MS).toBeLessThanOrEqual(1000);
  });

  it('sends a claim update that leaves its sharing as it was (holders joining or leaving, labels edited by hand) nowhere', () => {
    expect(routeEmission({ change: 'update', ref: claim, owner: lan, changed: ['spec', 'meta'], shared: true })).toEqual([]);
  });

  it('sends a claim that stopped being shared, or started, to program as itself: the address\'s own entries go with its sharing', () => {
    expect(routeEmission({ change: 'update', ref: claim, owner: lan, changed: ['spec', 'address'] })).toEqual([{ fn: 'program', change: 'update', ref: claim }]);
  });

  it('sends a shared claim freed to program as itself too, an unshared one only to its pool', () => {
    const pooled = (['allocate', 'release'] as const).map((fn) => ({ fn, change: 'update', ref: lan, delayMs: BATCH_DELAY_MS }));
    expect(routeEmission({ change: 'delete', ref: claim, owner: lan, shared: true })).toEqual([...pooled, { fn: 'program', change: 'delete', ref: claim }]);
    expect(routeEmission({ change: 'delete', ref: claim, owner: lan })).toEqual(pooled);
  });

  it('delivers to an owner of the kind the route names only', () => {
    expect(routeEmission({ change: 'delete', ref: claim })).toEqual([]);
    expect(routeEmission({ change: 'delete', ref: claim, owner: web })).toEqual([]);
    expect(routeEmission({ change: 'delete', ref: slice, owner: lan })).toEqual([]);
  });
});

describe('updates reach only the functions that care about what changed', () => {
  const alloc: ObjectRef = { kind: 'IPAllocation', name: 'ip-1' };
  const pool: ObjectRef = { kind: 'IPPool', name: 'lan' };
  const svc: ObjectRef = { kind: 'Service', namespace: 'shop', name: 'web' };
  const fnsFor = (ref: ObjectRef, changed: Facet[]) => routeEmission({ change: 'update', ref, changed }).map((d) => d.fn).sort();
  it.each([
    ['an address written (or taken away) by allocate wakes program only', alloc, ['address'], ['program']],
    ['conditions written by program (its own echo: no facet changed) wake nobody', alloc, [], []],
    ["program refusing the address as the router's own wakes allocate (it moves an auto-assigned allocation)", alloc, ['refused'], ['allocate']],
    ["a spec rewritten (a Service pinning the address it holds) wakes allocate and program (a refusal's words depend on it)", alloc, ['spec'], ['allocate', 'program']],
    ['an allocation being deleted wakes all three', alloc, ['meta'], ['allocate', 'program', 'release']],
    ['a pool status write (counts, conditions: no facet) wakes nobody', pool, [], []],
    ['a pool spec change wakes allocate, program and release', pool, ['spec'], ['allocate', 'program', 'release']],
    ['a Service status written by program (no facet) wakes nobody', svc, [], []],
    ['a Service annotation change wakes all three', svc, ['meta'], ['allocate', 'program', 'release']],
    ["a Namespace's labels changed wake allocate (scoped pools may serve its Services differently now)", { kind: 'Namespace', name: 'shop' }, ['meta'], ['allocate']],
  ] as const)('%s', (_what, ref, changed, expected) => {
    expect(fnsFor(ref, [...changed])).toEqual([...expected]);
  });

  it.each([
    ['a Service being deleted wakes release alone (allocate and program have nothing to do for it)', svc, ['release']],
    ['an allocation being deleted wakes release alone', alloc, ['release']],
    ['a pool being deleted is not among them: it wakes all three as any change of its metadata', pool, ['allocate', 'program', 'release']],
  ] as const)('%s', (_what, ref, expected) => {
    expect(routeEmission({ change: 'update', ref, changed: ['meta'], deleting: true }).map((d) => d.fn).sort()).toEqual([...expected]);
  });

  it('an update whose changes are unknown (a re-list) goes everywhere it may matter', () => {
    expect(routeEmission({ change: 'update', ref: pool }).map((d) => d.fn).sort()).toEqual(['allocate', 'program', 'release']);
  });
});

describe('adds', () => {
  const alloc: ObjectRef = { kind: 'IPAllocation', name: 'ip-1' };
  const fnsFor = (ref: ObjectRef, changed: Facet[]) => routeEmission({ change: 'add', ref, changed }).map((d) => d.fn).sort();
  it.each([
    ['a new allocation without a status goes to allocate only', alloc, ['spec', 'meta'], ['allocate']],
    ['one listed holding an address (a re-list) also to program', alloc, ['spec', 'meta', 'address'], ['allocate', 'program']],
    ['a new Service goes to allocate only: it has no allocation for program yet', { kind: 'Service', namespace: 'shop', name: 'web' }, ['spec', 'meta'], ['allocate']],
  ] as const)('%s', (_what, ref, changed, expected) => {
    expect(fnsFor(ref, [...changed])).toEqual([...expected]);
  });
});

describe('allocations a Service owns', () => {
  const alloc: ObjectRef = { kind: 'IPAllocation', name: 'web-v4' };
  const web: ObjectRef = { kind: 'Service', namespace: 'shop', name: 'web' };
  it('a new one is not allocate\'s news (it allocated it for the Service); a re-listed one holding an address reaches program as its Service', () => {
    expect(routeEmission({ change: 'add', ref: alloc, owner: web, changed: ['spec', 'meta'] })).toEqual([]);
    expect(routeEmission({ change: 'add', ref: alloc, owner: web, changed: ['spec', 'meta', 'address'] })).toEqual([{ fn: 'program', change: 'update', ref: web }]);
  });

  it('an address written reaches program as a change of its Service', () => {
    expect(routeEmission({ change: 'update', ref: alloc, owner: web, changed: ['address'] })).toEqual([{ fn: 'program', change: 'update', ref: web }]);
  });

  it('its spec rewritten by allocate (a pin) reaches program as a change of its Service', () => {
    expect(routeEmission({ change: 'update', ref: alloc, owner: web, changed: ['spec'] })).toEqual([{ fn: 'allocate', change: 'update', ref: alloc }, { fn: 'program', change: 'update', ref: web }]);
  });

  it("a refusal of its address as the router's own reaches allocate as the allocation itself (listed so, too)", () => {
    expect(routeEmission({ change: 'update', ref: alloc, owner: web, changed: ['refused'] })).toEqual([{ fn: 'allocate', change: 'update', ref: alloc }]);
    expect(routeEmission({ change: 'add', ref: alloc, owner: web, changed: ['spec', 'meta', 'address', 'refused'] })).toEqual([{ fn: 'allocate', change: 'add', ref: alloc }, { fn: 'program', change: 'update', ref: web }]);
  });

  it('once deleted, allocate (to make it again if still wanted) and program (the Service\'s status without it) hear of it as its Service', () => {
    expect(routeEmission({ change: 'delete', ref: alloc, owner: web })).toEqual([{ fn: 'allocate', change: 'update', ref: web }, { fn: 'program', change: 'update', ref: web }]);
  });

  it('once deleted with its Service gone or being deleted, nobody hears of it: nothing wants it again', () => {
    expect(routeEmission({ change: 'delete', ref: alloc, owner: web, ownerGone: true })).toEqual([]);
  });

  it('a deleted reservation (no owner) reaches nobody: release took it apart at its deletionTimestamp', () => {
    expect(routeEmission({ change: 'delete', ref: alloc })).toEqual([]);
  });

  it('a deleted allocation whose claim still stands (deleted without its release) reaches release as that claim, whoever owned it', () => {
    const held: ObjectRef = { kind: 'IPAddressClaim', name: '192.0.2.7' };
    const toRelease = { fn: 'release', change: 'update', ref: held };
    expect(routeEmission({ change: 'delete', ref: alloc, held })).toEqual([toRelease]);
    expect(routeEmission({ change: 'delete', ref: alloc, owner: web, ownerGone: true, held })).toEqual([toRelease]);
    expect(routeEmission({ change: 'delete', ref: alloc, owner: web, held })).toEqual([{ fn: 'allocate', change: 'update', ref: web }, { fn: 'program', change: 'update', ref: web }, toRelease]);
  });

  it('a deleted claim whose holders still live reaches allocate as those allocations, before its pool', () => {
    const claimRef: ObjectRef = { kind: 'IPAddressClaim', name: '192.0.2.7' };
    const lan: ObjectRef = { kind: 'IPPool', name: 'lan' };
    const holders: ObjectRef[] = [{ kind: 'IPAllocation', name: 'web-v4' }, { kind: 'IPAllocation', name: 'dns-v4' }];
    expect(routeEmission({ change: 'delete', ref: claimRef, owner: lan, holders })).toEqual([
      { fn: 'allocate', change: 'update', ref: holders[0] }, { fn: 'allocate', change: 'update', ref: holders[1] },
      { fn: 'allocate', change: 'update', ref: lan, delayMs: BATCH_DELAY_MS }, { fn: 'release', change: 'update', ref: lan, delayMs: BATCH_DELAY_MS },
    ]);
    expect(routeEmission({ change: 'delete', ref: claimRef, owner: lan }).map((d) => d.ref)).toEqual([lan, lan]);
  });

  it('while it is being deleted, later updates reach release alone', () => {
    expect(routeEmission({ change: 'update', ref: alloc, owner: web, changed: ['meta', 'address'], deleting: true })).toEqual([{ fn: 'release', change: 'update', ref: alloc }]);
    expect(routeEmission({ change: 'update', ref: alloc, owner: web, changed: ['address'], deleting: true })).toEqual([]);
  });

  it('its deletion still names the allocation itself (release frees what it holds)', () => {
    expect(routeEmission({ change: 'update', ref: alloc, owner: web, changed: ['meta'] }).map((d) => [d.fn, d.ref.kind])).toEqual([
      ['allocate', 'IPAllocation'], ['program', 'IPAllocation'], ['release', 'IPAllocation'],
    ]);
  });

  it('a reservation (no owner) is its own subject', () => {
    expect(routeEmission({ change: 'update', ref: alloc, changed: ['address'] })).toEqual([{ fn: 'program', change: 'update', ref: alloc }]);
    expect(routeEmission({ change: 'add', ref: alloc, changed: ['spec', 'meta'] })).toEqual([{ fn: 'allocate', change: 'add', ref: alloc }]);
  });
});

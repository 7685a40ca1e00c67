import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allocationsOf, allocationSummary, claims, claimsOf, eventLines, fixture, invokeAllocate, parseOutput, poolsOf, run, scratch, writeLines,
} from './support.js';

/**
 * Every allocate scenario in test/fixtures/allocate through `mikrolb invoke`, as a user would
 * run it: the final allocations, address claims, writes and events are asserted exactly.
 */

let tmp: Awaited<ReturnType<typeof scratch>>;
beforeAll(async () => {
  tmp = await scratch();
});
afterAll(async () => {
  await tmp.remove();
});

interface Scenario {
  scenario: string;
  object: string;
  /** `name → "phase address ReadyReason"` for every IPAllocation after the run. */
  allocations: Record<string, string>;
  /** `pool → ["address=allocationName"]`: the IPAddressClaims after the run. */
  claims: Record<string, string[]>;
  writes: string[];
  events: string[];
}

/** The writes for a new Service: its finalizer, its allocation, the claim (when an address is chosen), the allocation's status. */
const NEW_SERVICE = (svc: string, alloc: string, claim?: string): string[] => [
  `update Service ${svc}`, // the finalizer first
  `create IPAllocation ${alloc}`,
  ...(claim ? [`create IPAddressClaim ${claim}`] : []), // named by the address (IPv6: 8 hex groups joined by dashes)
  `update IPAllocation ${alloc} status`,
];
const allocated = (alloc: string, address: string, pool: string): string =>
  `Normal IPAllocated IPAllocation/${alloc}: Allocated address ${address} from pool ${pool}.`;
const failed = (alloc: string, reason: string, note: string): string => `Warning ${reason} IPAllocation/${alloc}: ${note}`;

const SCENARIOS: Scenario[] = [
  {
    scenario: 'ipv4-auto', object: 'Service/shop/web',
    allocations: { 'ip-013a2986c760': 'Allocated 192.0.2.6 ProgrammingPending' },
    claims: { 'public-v4': ['192.0.2.6=ip-013a2986c760'] },
    writes: NEW_SERVICE('shop/web', 'ip-013a2986c760', '192.0.2.6'),
    events: [allocated('ip-013a2986c760', '192.0.2.6', 'public-v4')],
  },
  {
    scenario: 'ipv6-pool', object: 'Service/shop/web6',
    allocations: { 'ip-9eaa4e2a139c': 'Allocated 2001:db8:10::fc ProgrammingPending' },
    claims: { 'public-v6': ['2001:db8:10::fc=ip-9eaa4e2a139c'] },
    writes: NEW_SERVICE('shop/web6', 'ip-9eaa4e2a139c', '2001-db8-10-0-0-0-0-fc'),
    events: [allocated('ip-9eaa4e2a139c', '2001:db8:10::fc', 'public-v6')],
  },
  {
    scenario: 'dual-stack', object: 'svc/shop/web',
    allocations: {
      'ip-013a2986c760': 'Allocated 192.0.2.1 ProgrammingPending',
      'ip-9e76baabd20f': 'Allocated 2001:db8:10:0:ced2:5425:ce8d:7ae4 ProgrammingPending',
    },
    claims: { 'public-v4': ['192.0.2.1=ip-013a2986c760'], 'public-v6': ['2001:db8:10:0:ced2:5425:ce8d:7ae4=ip-9e76baabd20f'] },
    // each allocation is created, claimed and recorded before the next
    writes: [
      ...NEW_SERVICE('shop/web', 'ip-013a2986c760', '192.0.2.1'),
      'create IPAllocation ip-9e76baabd20f', 'create IPAddressClaim 2001-db8-10-0-ced2-5425-ce8d-7ae4', 'update IPAllocation ip-9e76baabd20f status',
    ],
    events: [allocated('ip-013a2986c760', '192.0.2.1', 'public-v4'), allocated('ip-9e76baabd20f', '2001:db8:10:0:ced2:5425:ce8d:7ae4', 'public-v6')],
  },
  {
    // no IPv6 pool: the IPv6 allocation fails and stays (retried when a pool appears); PreferDualStack
    // lets the Service be ready without it (invoke-chain.test.ts runs program on this)
    scenario: 'prefer-dual-stack', object: 'Service/shop/web',
    allocations: { 'ip-013a2986c760': 'Allocated 192.0.2.6 ProgrammingPending', 'ip-9e76baabd20f': 'Failed - PoolExhausted' },
    claims: { 'public-v4': ['192.0.2.6=ip-013a2986c760'] },
    writes: [...NEW_SERVICE('shop/web', 'ip-013a2986c760', '192.0.2.6'), 'create IPAllocation ip-9e76baabd20f', 'update IPAllocation ip-9e76baabd20f status'],
    events: [allocated('ip-013a2986c760', '192.0.2.6', 'public-v4'), failed('ip-9e76baabd20f', 'PoolExhausted', 'No auto-assign IPv6 pool exists.')],
  },
  {
    scenario: 'explicit-address', object: 'Service/mail',
    allocations: { 'ip-d3dbe58002ac': 'Allocated 198.51.100.25 AllocatedButNotAdvertised' },
    claims: { static: ['198.51.100.25=ip-d3dbe58002ac'] },
    writes: NEW_SERVICE('default/mail', 'ip-d3dbe58002ac', '198.51.100.25'),
    events: [allocated('ip-d3dbe58002ac', '198.51.100.25', 'static')],
  },
  {
    scenario: 'pool-named', object: 'Service/shop/db',
    allocations: { 'ip-66496759dce5': 'Allocated 10.10.0.13 ProgrammingPending' },
    claims: { internal: ['10.10.0.13=ip-66496759dce5'], 'public-v4': [] },
    writes: NEW_SERVICE('shop/db', 'ip-66496759dce5', '10.10.0.13'),
    events: [allocated('ip-66496759dce5', '10.10.0.13', 'internal')],
  },
  {
    scenario: 'snat-only', object: 'Service/default/crawler',
    allocations: { 'ip-cbfea0f1212e': 'Allocated 203.0.113.5 ProgrammingPending' },
    claims: { egress: ['203.0.113.5=ip-cbfea0f1212e'] },
    writes: NEW_SERVICE('default/crawler', 'ip-cbfea0f1212e', '203.0.113.5'),
    events: [allocated('ip-cbfea0f1212e', '203.0.113.5', 'egress')],
  },
  {
    scenario: 'lb-snat-dedup', object: 'Service/shop/gateway',
    allocations: { 'ip-712aac719e3f': 'Allocated 192.0.2.4 ProgrammingPending' },
    claims: { 'public-v4': ['192.0.2.4=ip-712aac719e3f'] },
    writes: NEW_SERVICE('shop/gateway', 'ip-712aac719e3f', '192.0.2.4'),
    events: [allocated('ip-712aac719e3f', '192.0.2.4', 'public-v4')],
  },
  {
    scenario: 'address-invalid', object: 'IPAllocation/reserved-bad',
    allocations: { 'reserved-bad': 'Failed - AddressInvalid' },
    claims: { 'public-v4': [] },
    writes: ['update IPAllocation reserved-bad', 'update IPAllocation reserved-bad status'],
    events: [failed('reserved-bad', 'AddressInvalid', 'Address "192.0.2.300" is not a valid IP address: "192.0.2.300" is not a valid address (IPv4 must be four decimal octets like 192.0.2.10).')],
  },
  {
    // the reservation's claim exists: the Service's create finds it taken, nothing is claimed
    scenario: 'address-already-used', object: 'Service/shop/web',
    allocations: { 'ip-d77c0b757f8b': 'Failed - AddressAlreadyUsed', 'reserved-vip': 'Allocated 192.0.2.7 -' },
    claims: { 'public-v4': ['192.0.2.7=reserved-vip'] },
    writes: NEW_SERVICE('shop/web', 'ip-d77c0b757f8b'),
    events: [failed('ip-d77c0b757f8b', 'AddressAlreadyUsed', 'Address 192.0.2.7 in pool public-v4 is already used by IPAllocation reserved-vip.')],
  },
  {
    scenario: 'address-not-in-pool', object: 'Service/shop/web',
    allocations: { 'ip-222200ef295b': 'Failed - AddressNotInPool' },
    claims: { 'public-v4': [] },
    writes: NEW_SERVICE('shop/web', 'ip-222200ef295b'),
    events: [failed('ip-222200ef295b', 'AddressNotInPool', 'Address 198.51.100.1 is not in any IPPool.')],
  },
  {
    scenario: 'pool-not-found', object: 'Service/shop/web',
    allocations: { 'ip-d02255fa53f8': 'Failed - PoolNotFound' },
    claims: { 'public-v4': [] },
    writes: NEW_SERVICE('shop/web', 'ip-d02255fa53f8'),
    events: [failed('ip-d02255fa53f8', 'PoolNotFound', 'Pool archive does not exist.')],
  },
  {
    scenario: 'pool-family-mismatch', object: 'Service/shop/web',
    allocations: { 'ip-d848284d7b1d': 'Failed - PoolIPFamilyMismatch' },
    claims: { 'public-v6': [] },
    writes: NEW_SERVICE('shop/web', 'ip-d848284d7b1d'),
    events: [failed('ip-d848284d7b1d', 'PoolIPFamilyMismatch', 'Pool public-v6 is IPv6, but Service shop/web has ipFamilies IPv4.')],
  },
  {
    scenario: 'pool-scoped', object: 'Service/shop/web',
    allocations: { 'ip-013a2986c760': 'Allocated 10.1.0.7 ProgrammingPending' },
    claims: { 'public-v4': [], 'tenant-a': ['10.1.0.7=ip-013a2986c760'], gold: [] },
    writes: NEW_SERVICE('shop/web', 'ip-013a2986c760', '10.1.0.7'),
    events: [allocated('ip-013a2986c760', '10.1.0.7', 'tenant-a')],
  },
  {
    scenario: 'pool-scope-mismatch', object: 'Service/shop/web',
    allocations: { 'ip-2f62661e20af': 'Failed - PoolScopeMismatch' },
    claims: { 'tenant-a': [] },
    writes: NEW_SERVICE('shop/web', 'ip-2f62661e20af'),
    events: [failed('ip-2f62661e20af', 'PoolScopeMismatch', 'Pool tenant-a serves only Services in namespace team-a or in a namespace labelled tenant=a; Service shop/web is not one of them.')],
  },
  {
    scenario: 'pool-exhausted', object: 'Service/shop/web',
    allocations: { 'ip-5e2c40cd9c06': 'Failed - PoolExhausted', 'reserved-one': 'Allocated 192.0.2.1 -' },
    claims: { single: ['192.0.2.1=reserved-one'] },
    writes: NEW_SERVICE('shop/web', 'ip-5e2c40cd9c06'),
    events: [failed('ip-5e2c40cd9c06', 'PoolExhausted', 'Pool single has no free address.')],
  },
  {
    // the old allocation keeps its address and claim until release (its finalizer) runs
    scenario: 'annotation-change', object: 'Service/shop/web',
    allocations: { 'ip-7ea5aecd1c74': 'Allocated 198.51.100.1 ProgrammingPending', 'ip-d0a9a520cca4': 'Programmed 192.0.2.3 - (deleting)' },
    claims: { new: ['198.51.100.1=ip-7ea5aecd1c74'], old: ['192.0.2.3=ip-d0a9a520cca4'] },
    writes: ['delete IPAllocation ip-d0a9a520cca4', ...NEW_SERVICE('shop/web', 'ip-7ea5aecd1c74', '198.51.100.1').slice(1)],
    events: [allocated('ip-7ea5aecd1c74', '198.51.100.1', 'new')],
  },
  {
    scenario: 'annotation-invalid', object: 'Service/shop/web',
    allocations: { 'ip-8bcee75fb092': 'Allocated 192.0.2.9 ProgrammingPending' },
    claims: { 'public-v4': ['192.0.2.9=ip-8bcee75fb092'] },
    writes: NEW_SERVICE('shop/web', 'ip-8bcee75fb092', '192.0.2.9'),
    events: [
      'Warning AnnotationInvalid Service/web: mikrolb.de/load-balancer-ips: "not-an-ip" is not a valid IP address; ignoring it',
      allocated('ip-8bcee75fb092', '192.0.2.9', 'public-v4'),
    ],
  },
  {
    // upstream MikroLB keeps no ledger: 192.0.2.2 is claimed for upstream-vip (from its status)
    // and the pool converted before anything is chosen, so the Service gets the other address
    scenario: 'ledger-adoption', object: 'Service/shop/web',
    allocations: { 'ip-3c9af5415a72': 'Allocated 192.0.2.1 ProgrammingPending', 'upstream-vip': 'Programmed 192.0.2.2 -' },
    claims: { legacy: ['192.0.2.1=ip-3c9af5415a72', '192.0.2.2=upstream-vip'] },
    writes: [
      'update Service shop/web', 'create IPAllocation ip-3c9af5415a72',
      'create IPAddressClaim 192.0.2.2', 'update IPPool legacy status', // the conversion
      'create IPAddressClaim 192.0.2.1',
      'update IPPool legacy', // upstream's pool carries no finalizer of ours: the new claim puts it on
      'update IPAllocation ip-3c9af5415a72 status',
    ],
    events: [allocated('ip-3c9af5415a72', '192.0.2.1', 'legacy')],
  },
  {
    // the previous version's ledger: entries of live allocations become claims, the entry of a
    // deleted allocation does not, so its address (where shop/web's search starts) is handed out
    scenario: 'ledger-conversion', object: 'Service/shop/web',
    allocations: { 'ip-013a2986c760': 'Allocated 192.0.2.1 ProgrammingPending', 'ip-4a1f0c9e7b2d': 'Programmed 192.0.2.5 -', 'reserved-dns': 'Allocated 192.0.2.9 -' },
    claims: { 'public-v4': ['192.0.2.1=ip-013a2986c760', '192.0.2.5=ip-4a1f0c9e7b2d', '192.0.2.9=reserved-dns'] },
    writes: [
      'update Service shop/web', 'create IPAllocation ip-013a2986c760',
      'create IPAddressClaim 192.0.2.5', 'create IPAddressClaim 192.0.2.9', 'update IPPool public-v4 status', // the conversion
      'create IPAddressClaim 192.0.2.1', 'update IPAllocation ip-013a2986c760 status',
    ],
    events: [allocated('ip-013a2986c760', '192.0.2.1', 'public-v4')],
  },
  {
    // an IPv6 address for an IPv4-only Service: refused, never claimed (nor advertised)
    scenario: 'address-family-mismatch', object: 'Service/shop/web',
    allocations: { 'ip-24f57558838e': 'Failed - AddressIPFamilyMismatch', 'ip-fdb3701118dd': 'Allocated 192.0.2.5 ProgrammingPending' },
    claims: { 'public-v4': ['192.0.2.5=ip-fdb3701118dd'], 'public-v6': [] },
    writes: [
      ...NEW_SERVICE('shop/web', 'ip-fdb3701118dd', '192.0.2.5'),
      'create IPAllocation ip-24f57558838e', 'update IPAllocation ip-24f57558838e status',
    ],
    events: [
      allocated('ip-fdb3701118dd', '192.0.2.5', 'public-v4'),
      failed('ip-24f57558838e', 'AddressIPFamilyMismatch', 'Address 2001:db8:10::5 is IPv6, but Service shop/web has ipFamilies IPv4.'),
    ],
  },
  {
    // MetalLB's annotation wins over a stale spec.loadBalancerIP; the named pool is honoured beside it
    scenario: 'metallb-addresses', object: 'Service/shop/web',
    allocations: { 'ip-1801f40ab480': 'Allocated 10.20.0.1 ProgrammingPending', 'ip-5669c065778a': 'Allocated 192.0.2.6 ProgrammingPending' },
    claims: { internal: ['10.20.0.1=ip-1801f40ab480'], 'public-v4': ['192.0.2.6=ip-5669c065778a'] },
    writes: [
      ...NEW_SERVICE('shop/web', 'ip-5669c065778a', '192.0.2.6'),
      'create IPAllocation ip-1801f40ab480', 'create IPAddressClaim 10.20.0.1', 'update IPAllocation ip-1801f40ab480 status',
    ],
    events: [
      'Warning AnnotationInvalid Service/web: spec.loadBalancerIP is ignored because metallb.io/loadBalancerIPs is set (and names other addresses)',
      allocated('ip-5669c065778a', '192.0.2.6', 'public-v4'),
      allocated('ip-1801f40ab480', '10.20.0.1', 'internal'),
    ],
  },
  {
    // upstream handed out 10.0.1.0 and 10.0.3.255 from a /16: both claimed on conversion and kept, not moved
    scenario: 'upgrade-buggy-address', object: 'Service/shop/web',
    allocations: { gateway: 'Programmed 10.0.3.255 -', 'ip-0123456789ab': 'Programmed 10.0.1.0 -' },
    claims: { lan: ['10.0.1.0=ip-0123456789ab', '10.0.3.255=gateway'] },
    writes: ['create IPAddressClaim 10.0.1.0', 'create IPAddressClaim 10.0.3.255', 'update IPPool lan status', 'update IPAllocation ip-0123456789ab status'],
    events: [],
  },
  {
    // the claim exists, the status was never written: completed with the claimed address
    scenario: 'crash-recovery', object: 'Service/shop/web',
    allocations: { 'ip-22cd129a2dc3': 'Allocated 192.0.2.13 ProgrammingPending' },
    claims: { 'public-v4': ['192.0.2.13=ip-22cd129a2dc3'] },
    writes: ['update IPAllocation ip-22cd129a2dc3 status'],
    events: [allocated('ip-22cd129a2dc3', '192.0.2.13', 'public-v4')],
  },
  {
    // the ledger reserved 192.0.2.13, the status was never written: the claim made on conversion is found
    scenario: 'upgrade-crash-recovery', object: 'Service/shop/web',
    allocations: { 'ip-22cd129a2dc3': 'Allocated 192.0.2.13 ProgrammingPending' },
    claims: { 'public-v4': ['192.0.2.13=ip-22cd129a2dc3'] },
    writes: ['create IPAddressClaim 192.0.2.13', 'update IPPool public-v4 status', 'update IPAllocation ip-22cd129a2dc3 status'],
    events: [allocated('ip-22cd129a2dc3', '192.0.2.13', 'public-v4')],
  },
];

describe('mikrolb invoke allocate on every fixture', () => {
  it.each(SCENARIOS)('$scenario', async (s) => {
    const { ran, out } = await invokeAllocate(fixture('allocate', s.scenario), '--object', s.object);
    expect(ran).toMatchObject({ code: 0, stderr: '' });
    expect(out.function).toBe('allocate');
    expect(out.response).toMatchObject({ status: 200, body: { function: 'allocate', conflicts: 0 } });
    expect(allocationSummary(out)).toEqual(s.allocations);
    expect(claims(out)).toEqual(s.claims);
    expect(writeLines(out)).toEqual(s.writes);
    expect(eventLines(out)).toEqual(s.events);
    expect(out.router).toBeUndefined();
  });

  it.each(SCENARIOS)('$scenario is idempotent: its output objects as state yield no writes', async (s) => {
    const first = await invokeAllocate(fixture('allocate', s.scenario), '--object', s.object);
    const again = await invokeAllocate(await tmp.state(first.out.objects), '--object', s.object);
    expect(again.ran.code).toBe(0);
    expect(again.out.writes).toEqual([]);
    expect(again.out.objects).toEqual(first.out.objects);
    // only a Service's annotation problem is reported again (the API server dedups events)
    expect(again.out.events.filter((e) => e.reason !== 'AnnotationInvalid')).toEqual([]);
  });

  it('prints the same document on every run (deterministic uids, versions and clock)', async () => {
    const a = await invokeAllocate(fixture('allocate', 'dual-stack'), '--object', 'Service/shop/web');
    const b = await invokeAllocate(fixture('allocate', 'dual-stack', 'state.yaml'), '--object', 'Service/shop/web');
    expect(b.ran.stdout).toBe(a.ran.stdout);
  });

  it('labels a new allocation for its Service and gives both the finalizer; the claim names pool, allocation and Service', async () => {
    const { out } = await invokeAllocate(fixture('allocate', 'ipv4-auto'), '--object', 'Service/shop/web');
    const [a] = allocationsOf(out);
    const svc = out.objects.find((o) => o.kind === 'Service');
    expect(a?.metadata.labels).toEqual({
      'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': svc?.metadata['uid'],
    });
    expect(a?.metadata.finalizers).toEqual(['mikrolb.de/finalizer']);
    expect(svc?.metadata['finalizers']).toEqual(['mikrolb.de/finalizer']);
    const [claim] = claimsOf(out);
    expect(claim?.metadata.name).toBe('192.0.2.6');
    expect(claim?.metadata.labels).toEqual({ 'mikrolb.de/pool': 'public-v4', 'mikrolb.de/allocation-uid': a?.metadata.uid, 'mikrolb.de/service-uid': svc?.metadata['uid'] });
    expect(claim?.spec).toEqual({ address: '192.0.2.6', poolName: 'public-v4', allocationName: a?.metadata.name, allocationUID: a?.metadata.uid });
  });

  it('passes the pool interface on as a hint (pool-named, snat-only)', async () => {
    for (const [scenario, object, iface] of [['pool-named', 'Service/shop/db', 'vlan20'], ['snat-only', 'Service/crawler', 'ether1']] as const) {
      const { out } = await invokeAllocate(fixture('allocate', scenario), '--object', object);
      expect(allocationsOf(out).map((a) => a.status?.interfaceName)).toEqual([iface]);
    }
  });

  // the same states, but the claim (or the ledger entry) belongs to an allocation that no longer exists
  it.each([
    ['crash-recovery', { 'public-v4': ['192.0.2.1=ip-22cd129a2dc3', '192.0.2.13=ip-22cd129a2dc3'] }],
    ['upgrade-crash-recovery', { 'public-v4': ['192.0.2.1=ip-22cd129a2dc3'] }],
  ])('%s takes the address from the allocation\'s own claim, not a fresh choice', async (scenario, after) => {
    const text = await readFile(fixture('allocate', scenario, 'state.yaml'), 'utf8');
    const foreign = ['allocationUID', 'mikrolb.de/allocation-uid'].reduce((s, key) => s.replace(`${key}: 1d4c7b2a-9e8f-4a6b-8c5d-3e2f1a0b9c8d`, `${key}: 00000000-dead-4000-8000-000000000000`), text);
    expect(foreign).not.toBe(text);
    const { out } = await invokeAllocate(await tmp.file('state.yaml', foreign), '--object', 'Service/shop/web');
    expect(allocationSummary(out)).toEqual({ 'ip-22cd129a2dc3': 'Allocated 192.0.2.1 ProgrammingPending' });
    expect(claims(out)).toEqual(after);
  });
});

describe('mikrolb invoke allocate with a Namespace in the state', () => {
  it('reads the namespace labels from it: without the Namespace, shop matches no namespaceSelector and gets the unscoped pool', async () => {
    const text = await readFile(fixture('allocate', 'pool-scoped', 'state.yaml'), 'utf8');
    const withoutNamespace = text.split(/^---$/m).filter((doc) => !/^kind: Namespace$/m.test(doc)).join('---');
    const { ran, out } = await invokeAllocate(await tmp.file('no-namespace.yaml', withoutNamespace), '--object', 'Service/shop/web');
    expect(ran.code).toBe(0);
    expect(eventLines(out)).toEqual([allocated('ip-013a2986c760', '192.0.2.1', 'public-v4')]);
  });
});

describe('mikrolb invoke allocate converts pools of earlier versions to claims', () => {
  it.each(['ledger-adoption', 'ledger-conversion', 'upgrade-buggy-address', 'upgrade-crash-recovery'])('%s: the pool is marked claimsAdopted and keeps no ledger', async (scenario) => {
    const { out } = await invokeAllocate(fixture('allocate', scenario), '--object', 'Service/shop/web');
    expect(poolsOf(out).length).toBeGreaterThan(0);
    for (const pool of poolsOf(out)) {
      expect(pool.status?.claimsAdopted).toBe(true);
      expect(pool.status?.allocations).toBeUndefined();
    }
  });

  it('an IPPool event on the converted state counts the pool\'s claims (the new one included)', async () => {
    const converted = await invokeAllocate(fixture('allocate', 'ledger-conversion'), '--object', 'Service/shop/web');
    const { ran, out } = await invokeAllocate(await tmp.state(converted.out.objects), '--object', 'IPPool/public-v4');
    expect(ran.code).toBe(0);
    expect(writeLines(out)).toEqual(['update IPPool public-v4 status']);
    expect(poolsOf(out)[0]?.status).toMatchObject({ totalAddresses: '15', allocatedAddresses: '3', freeAddresses: '12', claimsAdopted: true });
    expect(claims(out)).toEqual(claims(converted.out));
  });
});

describe('mikrolb invoke allocate reads the per-Service limits from its environment', () => {
  it('MAX_ALLOCATIONS_PER_SERVICE=1: a dual-stack Service gets one IPAllocation and one AnnotationInvalid', async () => {
    const ran = await run(['invoke', 'allocate', '--state', fixture('allocate', 'dual-stack'), '--object', 'Service/shop/web', '--quiet'], { MAX_ALLOCATIONS_PER_SERVICE: '1' });
    expect(ran).toMatchObject({ code: 0, stderr: '' });
    const out = parseOutput(ran);
    expect(Object.values(allocationSummary(out))).toEqual([expect.stringMatching(/^Allocated 192\.0\.2\.\d+ ProgrammingPending$/)]);
    expect(eventLines(out).filter((e) => e.includes('AnnotationInvalid'))).toEqual([
      'Warning AnnotationInvalid Service/web: spec.ipFamilies: the Service asks for 2 addresses, more than the 1 allowed per Service; only the first 1 are allocated, ignoring IPv6',
    ]);
  });
});

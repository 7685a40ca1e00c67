import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allocationsOf, allocationSummary, eventLines, fixture, invokeAllocate, ledgers, parseOutput, run, scratch, writeLines,
} from './support.js';

/**
 * Every allocate scenario in test/fixtures/allocate through `mikrolb invoke`, as a user would
 * run it: the final allocations, pool ledgers, writes and events are asserted exactly.
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
  ledgers: Record<string, string[]>;
  writes: string[];
  events: string[];
}

const NEW_SERVICE = (svc: string, alloc: string, pool?: string): string[] => [
  `update Service ${svc}`, // the finalizer first
  `create IPAllocation ${alloc}`,
  ...(pool ? [`update IPPool ${pool} status`] : []), // the reservation in the ledger
  `update IPAllocation ${alloc} status`,
];
const allocated = (alloc: string, address: string, pool: string): string =>
  `Normal IPAllocated IPAllocation/${alloc}: Allocated address ${address} from pool ${pool}.`;
const failed = (alloc: string, reason: string, note: string): string => `Warning ${reason} IPAllocation/${alloc}: ${note}`;

const SCENARIOS: Scenario[] = [
  {
    scenario: 'ipv4-auto', object: 'Service/shop/web',
    allocations: { 'ip-013a2986c760': 'Allocated 192.0.2.14 ProgrammingPending' },
    ledgers: { 'public-v4': ['192.0.2.14=ip-013a2986c760'] },
    writes: NEW_SERVICE('shop/web', 'ip-013a2986c760', 'public-v4'),
    events: [allocated('ip-013a2986c760', '192.0.2.14', 'public-v4')],
  },
  {
    scenario: 'ipv6-pool', object: 'Service/shop/web6',
    allocations: { 'ip-9eaa4e2a139c': 'Allocated 2001:db8:10::e8 ProgrammingPending' },
    ledgers: { 'public-v6': ['2001:db8:10::e8=ip-9eaa4e2a139c'] },
    writes: NEW_SERVICE('shop/web6', 'ip-9eaa4e2a139c', 'public-v6'),
    events: [allocated('ip-9eaa4e2a139c', '2001:db8:10::e8', 'public-v6')],
  },
  {
    scenario: 'dual-stack', object: 'svc/shop/web',
    allocations: {
      'ip-013a2986c760': 'Allocated 192.0.2.14 ProgrammingPending',
      'ip-9e76baabd20f': 'Allocated 2001:db8:10:0:116a:f652:ae5e:da5 ProgrammingPending',
    },
    ledgers: { 'public-v4': ['192.0.2.14=ip-013a2986c760'], 'public-v6': ['2001:db8:10:0:116a:f652:ae5e:da5=ip-9e76baabd20f'] },
    // both allocations are created first, then each is allocated
    writes: [
      'update Service shop/web', 'create IPAllocation ip-013a2986c760', 'create IPAllocation ip-9e76baabd20f',
      'update IPPool public-v4 status', 'update IPAllocation ip-013a2986c760 status', 'update IPPool public-v6 status', 'update IPAllocation ip-9e76baabd20f status',
    ],
    events: [allocated('ip-013a2986c760', '192.0.2.14', 'public-v4'), allocated('ip-9e76baabd20f', '2001:db8:10:0:116a:f652:ae5e:da5', 'public-v6')],
  },
  {
    scenario: 'explicit-address', object: 'Service/mail',
    allocations: { 'ip-d3dbe58002ac': 'Allocated 198.51.100.25 AllocatedButNotAdvertised' },
    ledgers: { static: ['198.51.100.25=ip-d3dbe58002ac'] },
    writes: NEW_SERVICE('default/mail', 'ip-d3dbe58002ac', 'static'),
    events: [allocated('ip-d3dbe58002ac', '198.51.100.25', 'static')],
  },
  {
    scenario: 'pool-named', object: 'Service/shop/db',
    allocations: { 'ip-66496759dce5': 'Allocated 10.10.0.17 ProgrammingPending' },
    ledgers: { internal: ['10.10.0.17=ip-66496759dce5'], 'public-v4': [] },
    writes: NEW_SERVICE('shop/db', 'ip-66496759dce5', 'internal'),
    events: [allocated('ip-66496759dce5', '10.10.0.17', 'internal')],
  },
  {
    scenario: 'snat-only', object: 'Service/default/crawler',
    allocations: { 'ip-cbfea0f1212e': 'Allocated 203.0.113.5 ProgrammingPending' },
    ledgers: { egress: ['203.0.113.5=ip-cbfea0f1212e'] },
    writes: NEW_SERVICE('default/crawler', 'ip-cbfea0f1212e', 'egress'),
    events: [allocated('ip-cbfea0f1212e', '203.0.113.5', 'egress')],
  },
  {
    scenario: 'lb-snat-dedup', object: 'Service/shop/gateway',
    allocations: { 'ip-712aac719e3f': 'Allocated 192.0.2.4 ProgrammingPending' },
    ledgers: { 'public-v4': ['192.0.2.4=ip-712aac719e3f'] },
    writes: NEW_SERVICE('shop/gateway', 'ip-712aac719e3f', 'public-v4'),
    events: [allocated('ip-712aac719e3f', '192.0.2.4', 'public-v4')],
  },
  {
    scenario: 'address-invalid', object: 'IPAllocation/reserved-bad',
    allocations: { 'reserved-bad': 'Failed - AddressInvalid' },
    ledgers: { 'public-v4': [] },
    writes: ['update IPAllocation reserved-bad status'],
    events: [failed('reserved-bad', 'AddressInvalid', 'Address "192.0.2.300" is not a valid IP address: "192.0.2.300" is not a valid address (IPv4 must be four decimal octets like 192.0.2.10).')],
  },
  {
    scenario: 'address-already-used', object: 'Service/shop/web',
    allocations: { 'ip-d77c0b757f8b': 'Failed - AddressAlreadyUsed', 'reserved-vip': 'Allocated 192.0.2.7 -' },
    ledgers: { 'public-v4': ['192.0.2.7=reserved-vip'] },
    writes: NEW_SERVICE('shop/web', 'ip-d77c0b757f8b'),
    events: [failed('ip-d77c0b757f8b', 'AddressAlreadyUsed', 'Address 192.0.2.7 in pool public-v4 is already used by IPAllocation reserved-vip.')],
  },
  {
    scenario: 'address-not-in-pool', object: 'Service/shop/web',
    allocations: { 'ip-222200ef295b': 'Failed - AddressNotInPool' },
    ledgers: { 'public-v4': [] },
    writes: NEW_SERVICE('shop/web', 'ip-222200ef295b'),
    events: [failed('ip-222200ef295b', 'AddressNotInPool', 'Address 198.51.100.1 is not in any IPPool.')],
  },
  {
    scenario: 'pool-not-found', object: 'Service/shop/web',
    allocations: { 'ip-d02255fa53f8': 'Failed - PoolNotFound' },
    ledgers: { 'public-v4': [] },
    writes: NEW_SERVICE('shop/web', 'ip-d02255fa53f8'),
    events: [failed('ip-d02255fa53f8', 'PoolNotFound', 'Pool archive does not exist.')],
  },
  {
    scenario: 'pool-family-mismatch', object: 'Service/shop/web',
    allocations: { 'ip-d848284d7b1d': 'Failed - PoolIPFamilyMismatch' },
    ledgers: { 'public-v6': [] },
    writes: NEW_SERVICE('shop/web', 'ip-d848284d7b1d'),
    events: [failed('ip-d848284d7b1d', 'PoolIPFamilyMismatch', 'Pool public-v6 is IPv6, but Service shop/web has ipFamilies IPv4.')],
  },
  {
    scenario: 'pool-exhausted', object: 'Service/shop/web',
    allocations: { 'ip-5e2c40cd9c06': 'Failed - PoolExhausted', 'reserved-one': 'Allocated 192.0.2.1 -' },
    ledgers: { single: ['192.0.2.1=reserved-one'] },
    writes: NEW_SERVICE('shop/web', 'ip-5e2c40cd9c06'),
    events: [failed('ip-5e2c40cd9c06', 'PoolExhausted', 'Pool single has no free address.')],
  },
  {
    // the old allocation keeps its address and ledger entry until release (its finalizer) runs
    scenario: 'annotation-change', object: 'Service/shop/web',
    allocations: { 'ip-7ea5aecd1c74': 'Allocated 198.51.100.10 ProgrammingPending', 'ip-d0a9a520cca4': 'Programmed 192.0.2.3 - (deleting)' },
    ledgers: { new: ['198.51.100.10=ip-7ea5aecd1c74'], old: ['192.0.2.3=ip-d0a9a520cca4'] },
    writes: ['delete IPAllocation ip-d0a9a520cca4', ...NEW_SERVICE('shop/web', 'ip-7ea5aecd1c74', 'new').slice(1)],
    events: [allocated('ip-7ea5aecd1c74', '198.51.100.10', 'new')],
  },
  {
    scenario: 'annotation-invalid', object: 'Service/shop/web',
    allocations: { 'ip-8bcee75fb092': 'Allocated 192.0.2.9 ProgrammingPending' },
    ledgers: { 'public-v4': ['192.0.2.9=ip-8bcee75fb092'] },
    writes: NEW_SERVICE('shop/web', 'ip-8bcee75fb092', 'public-v4'),
    events: [
      'Warning AnnotationInvalid Service/web: mikrolb.de/load-balancer-ips: "not-an-ip" is not a valid IP address; ignoring it',
      allocated('ip-8bcee75fb092', '192.0.2.9', 'public-v4'),
    ],
  },
  {
    scenario: 'ledger-adoption', object: 'Service/shop/web',
    allocations: { 'ip-3c9af5415a72': 'Allocated 192.0.2.1 ProgrammingPending', 'upstream-vip': 'Programmed 192.0.2.2 -' },
    ledgers: { legacy: ['192.0.2.1=ip-3c9af5415a72', '192.0.2.2=upstream-vip'] },
    writes: NEW_SERVICE('shop/web', 'ip-3c9af5415a72', 'legacy'),
    events: [allocated('ip-3c9af5415a72', '192.0.2.1', 'legacy')],
  },
  {
    // an IPv6 address for an IPv4-only Service: refused, never reserved (nor advertised)
    scenario: 'address-family-mismatch', object: 'Service/shop/web',
    allocations: { 'ip-24f57558838e': 'Failed - AddressIPFamilyMismatch', 'ip-fdb3701118dd': 'Allocated 192.0.2.5 ProgrammingPending' },
    ledgers: { 'public-v4': ['192.0.2.5=ip-fdb3701118dd'], 'public-v6': [] },
    writes: [
      'update Service shop/web', 'create IPAllocation ip-fdb3701118dd', 'create IPAllocation ip-24f57558838e',
      'update IPPool public-v4 status', 'update IPAllocation ip-fdb3701118dd status', 'update IPAllocation ip-24f57558838e status',
    ],
    events: [
      allocated('ip-fdb3701118dd', '192.0.2.5', 'public-v4'),
      failed('ip-24f57558838e', 'AddressIPFamilyMismatch', 'Address 2001:db8:10::5 is IPv6, but Service shop/web has ipFamilies IPv4.'),
    ],
  },
  {
    // MetalLB's annotation wins over a stale spec.loadBalancerIP; the named pool is honoured beside it
    scenario: 'metallb-addresses', object: 'Service/shop/web',
    allocations: { 'ip-1801f40ab480': 'Allocated 10.20.0.12 ProgrammingPending', 'ip-5669c065778a': 'Allocated 192.0.2.6 ProgrammingPending' },
    ledgers: { internal: ['10.20.0.12=ip-1801f40ab480'], 'public-v4': ['192.0.2.6=ip-5669c065778a'] },
    writes: [
      'update Service shop/web', 'create IPAllocation ip-5669c065778a', 'create IPAllocation ip-1801f40ab480',
      'update IPPool public-v4 status', 'update IPAllocation ip-5669c065778a status', 'update IPPool internal status', 'update IPAllocation ip-1801f40ab480 status',
    ],
    events: [
      'Warning AnnotationInvalid Service/web: spec.loadBalancerIP is ignored because metallb.io/loadBalancerIPs is set (and names other addresses)',
      allocated('ip-5669c065778a', '192.0.2.6', 'public-v4'),
      allocated('ip-1801f40ab480', '10.20.0.12', 'internal'),
    ],
  },
  {
    // upstream handed out 10.0.1.0 and 10.0.3.255 from a /16: adopted and kept, not moved
    scenario: 'upgrade-buggy-address', object: 'Service/shop/web',
    allocations: { gateway: 'Programmed 10.0.3.255 -', 'ip-0123456789ab': 'Programmed 10.0.1.0 -' },
    ledgers: { lan: ['10.0.1.0=ip-0123456789ab', '10.0.3.255=gateway'] },
    writes: ['update IPPool lan status', 'update IPAllocation ip-0123456789ab status'],
    events: [],
  },
  {
    scenario: 'crash-recovery', object: 'Service/shop/web',
    allocations: { 'ip-22cd129a2dc3': 'Allocated 192.0.2.13 ProgrammingPending' },
    ledgers: { 'public-v4': ['192.0.2.13=ip-22cd129a2dc3'] },
    writes: ['update IPAllocation ip-22cd129a2dc3 status'],
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
    expect(ledgers(out)).toEqual(s.ledgers);
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

  it('labels a new allocation for its Service and gives both the finalizer', async () => {
    const { out } = await invokeAllocate(fixture('allocate', 'ipv4-auto'), '--object', 'Service/shop/web');
    const [a] = allocationsOf(out);
    const svc = out.objects.find((o) => o.kind === 'Service');
    expect(a?.metadata.labels).toEqual({
      'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': svc?.metadata['uid'],
    });
    expect(a?.metadata.finalizers).toEqual(['mikrolb.de/finalizer']);
    expect(svc?.metadata['finalizers']).toEqual(['mikrolb.de/finalizer']);
  });

  it('passes the pool interface on as a hint (pool-named, snat-only)', async () => {
    for (const [scenario, object, iface] of [['pool-named', 'Service/shop/db', 'vlan20'], ['snat-only', 'Service/crawler', 'ether1']] as const) {
      const { out } = await invokeAllocate(fixture('allocate', scenario), '--object', object);
      expect(allocationsOf(out).map((a) => a.status?.interfaceName)).toEqual([iface]);
    }
  });

  it('crash-recovery takes the address from the ledger, not a fresh choice', async () => {
    const text = await readFile(fixture('allocate', 'crash-recovery', 'state.yaml'), 'utf8');
    // the same state, but the ledger entry belongs to somebody else
    const foreign = text.replace('allocationUID: 1d4c7b2a-9e8f-4a6b-8c5d-3e2f1a0b9c8d', 'allocationUID: 00000000-dead-4000-8000-000000000000');
    const { out } = await invokeAllocate(await tmp.file('state.yaml', foreign), '--object', 'Service/shop/web');
    expect(allocationSummary(out)['ip-22cd129a2dc3']).not.toContain('192.0.2.13');
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

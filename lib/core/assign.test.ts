import { describe, expect, it } from 'vitest';
import { formatAddress, parseAddress, TakenAddresses, type IPFamily } from '../ip/index.js';
import { IPAllocationSchema, IPPoolSchema } from '../k8s/schemas.js';
import { alreadyUsed, assignAddress, seedOf, sharedSeedOf, type Holding } from './assign.js';
import { viewPools } from './pools.js';

/** An address someone holds, as a claim records it (the pool is filled in by `run`). */
type Taken = Omit<Holding, 'poolName'>;

const pool = (name: string, spec: Record<string, unknown>, created = '2026-01-01T00:00:00Z', deleting = false) =>
  IPPoolSchema.parse({ metadata: { name, creationTimestamp: created, ...(deleting ? { deletionTimestamp: '2026-03-01T00:00:00Z' } : {}) }, spec });
const alloc = (name: string, spec: Record<string, unknown>, uid = `uid-${name}`) => IPAllocationSchema.parse({ metadata: { name, uid }, spec });

const small = pool('small', { ipFamily: 'IPv4', addresses: ['192.0.2.1-192.0.2.2'] });
const v6 = pool('v6', { ipFamily: 'IPv6', addresses: ['2001:db8::/120'] });
const manual = pool('manual', { ipFamily: 'IPv4', addresses: ['198.51.100.0/24'], autoAssign: false });

/** Decides with the given claims per pool: the allocation's own (by uid) is what it holds, all are taken. */
function run(a: ReturnType<typeof alloc>, pools = [small, v6, manual], claims: Record<string, Taken[]> = {}, service?: { key: string; ipFamilies: ('IPv4' | 'IPv6')[] }) {
  const views = viewPools(pools);
  const all: Holding[] = Object.entries(claims).flatMap(([poolName, list]) => list.map((t) => ({ ...t, poolName })));
  const taken = { IPv4: new TakenAddresses(), IPv6: new TakenAddresses() };
  for (const h of all) {
    const p = parseAddress(h.address);
    if (p.ok) taken[p.family].add(p.value);
  }
  const held = all.find((h) => h.allocationUID === a.metadata.uid);
  return assignAddress({ allocation: a, pools: views, taken: (f: IPFamily) => taken[f], ...(held ? { held } : {}), ...(service ? { service } : {}) });
}
const taken = (address: string, name = 'other', uid = 'uid-other'): Taken => ({ address, allocationName: name, allocationUID: uid });

describe('choosing an address: scenarios', () => {
  it('s1 gets an address of its family from an auto-assign pool', () => {
    const d = run(alloc('s1', { ipFamily: 'IPv4' }));
    expect(d).toMatchObject({ ok: true, pool: 'small', held: false });
  });

  it("s2 asks for s1's address: decided as that address, and its claim (create-if-absent) finds s1's", () => {
    const d = run(alloc('s2', { address: '192.0.2.1' }), undefined, { small: [taken('192.0.2.1', 's1')] });
    expect(d).toEqual({ ok: true, pool: 'small', address: '192.0.2.1', held: false });
    expect(alreadyUsed('192.0.2.1', 'small', 's1')).toEqual({ ok: false, reason: 'AddressAlreadyUsed', message: 'Address 192.0.2.1 in pool small is already used by IPAllocation s1.' });
  });

  it('s1 asking again finds its own reservation, even in a manual pool', () => {
    const d = run(alloc('s1', { poolName: 'manual' }, 'uid-s1'), undefined, { manual: [taken('198.51.100.77', 's1', 'uid-s1')] });
    expect(d).toEqual({ ok: true, pool: 'manual', address: '198.51.100.77', held: true });
  });

  it('a pool whose every address belongs to an older pool says so when named', () => {
    const inner = pool('small-2', { ipFamily: 'IPv4', addresses: ['192.0.2.2'] }, '2026-02-01T00:00:00Z');
    const d = run(alloc('s4', { poolName: 'small-2' }), [small, inner]);
    expect(d).toMatchObject({ ok: false, reason: 'PoolExhausted', message: 'Pool small-2 hands out no address: every one belongs to older pool small.' });
  });

  it('a full pool is exhausted', () => {
    const d = run(alloc('s3', { poolName: 'small' }), undefined, { small: [taken('192.0.2.1'), taken('192.0.2.2')] });
    expect(d).toMatchObject({ ok: false, reason: 'PoolExhausted', message: 'Pool small has no free address.' });
  });

  it('auto-assign skips pools with autoAssign off', () => {
    const d = run(alloc('s4', { ipFamily: 'IPv4' }), undefined, { small: [taken('192.0.2.1'), taken('192.0.2.2')] });
    expect(d).toMatchObject({ ok: false, reason: 'PoolExhausted' });
  });

  it.each([
    ['an invalid address', { address: '192.0.2.300' }, 'AddressInvalid', 'Address "192.0.2.300" is not a valid IP address'],
    ['an address outside every pool', { address: '10.9.9.9' }, 'AddressNotInPool', 'Address 10.9.9.9 is not in any IPPool.'],
    ['a missing pool', { poolName: 'nope' }, 'PoolNotFound', 'Pool nope does not exist.'],
    ['a family without pools', { ipFamily: 'IPv6' }, undefined, undefined],
  ])('%s', (_what, spec, reason, message) => {
    const d = run(alloc('x', spec), [small, manual]);
    if (reason === undefined) {
      expect(d).toMatchObject({ ok: false, reason: 'PoolExhausted', message: 'No auto-assign IPv6 pool exists.' });
      return;
    }
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.reason).toBe(reason);
      expect(d.message).toContain(message);
    }
  });

  it('names both families on a pool/Service family mismatch', () => {
    const d = run(alloc('x', { poolName: 'v6' }), undefined, {}, { key: 'default/demo', ipFamilies: ['IPv4'] });
    expect(d).toEqual({ ok: false, reason: 'PoolIPFamilyMismatch', message: 'Pool v6 is IPv6, but Service default/demo has ipFamilies IPv4.' });
  });

  it('refuses an explicit address of a family the Service does not have, even one it already holds', () => {
    const ipv4Only = { key: 'default/demo', ipFamilies: ['IPv4' as const] };
    const message = 'Address 2001:db8::10 is IPv6, but Service default/demo has ipFamilies IPv4.';
    expect(run(alloc('x', { address: '2001:DB8::10' }), undefined, {}, ipv4Only)).toEqual({ ok: false, reason: 'AddressIPFamilyMismatch', message });
    // held from before (say, from upstream): refused all the same, so allocate releases it
    const held = run(alloc('x', { address: '2001:db8::10' }, 'uid-x'), undefined, { v6: [taken('2001:db8::10', 'x', 'uid-x')] }, ipv4Only);
    expect(held).toEqual({ ok: false, reason: 'AddressIPFamilyMismatch', message });
    // a dual-stack Service, or an operator's reservation without a Service, may have it
    expect(run(alloc('x', { address: '2001:db8::10' }), undefined, {}, { key: 'default/demo', ipFamilies: ['IPv4', 'IPv6'] })).toMatchObject({ ok: true, address: '2001:db8::10' });
    expect(run(alloc('x', { address: '2001:db8::10' }))).toMatchObject({ ok: true, address: '2001:db8::10' });
  });

  it('an operator reservation of the same name gets the same address when it is free (deterministic start)', () => {
    const big = pool('big', { ipFamily: 'IPv4', addresses: ['10.0.0.0/16'] });
    const first = run(alloc('ip-abc', { poolName: 'big' }, 'u1'), [big]);
    const again = run(alloc('ip-abc', { poolName: 'big' }, 'u2'), [big]);
    expect(first).toEqual(again);
  });

  it('a Service created again (new uid, new allocation name) gets its address back: the start comes from namespace/name/family', () => {
    const big = pool('big', { ipFamily: 'IPv4', addresses: ['10.0.0.0/16'] });
    const service = { key: 'shop/web', ipFamilies: ['IPv4' as const] };
    const first = run(alloc('ip-111111111111', { ipFamily: 'IPv4' }, 'u1'), [big], {}, service);
    const again = run(alloc('ip-222222222222', { ipFamily: 'IPv4' }, 'u2'), [big], {}, service);
    const other = run(alloc('ip-333333333333', { ipFamily: 'IPv4' }, 'u3'), [big], {}, { key: 'shop/api', ipFamilies: ['IPv4'] });
    expect(first.ok && again.ok && first.address === again.address).toBe(true);
    expect(other.ok && first.ok && other.address !== first.address).toBe(true);
    expect(seedOf(alloc('ip-1', { ipFamily: 'IPv4' }), 'IPv4', service)).toBe('shop/web/IPv4');
    expect(seedOf(alloc('ip-1', { ipFamily: 'IPv4' }), 'IPv4', undefined)).toBe('ip-1');
  });

  it('Services with one allow-shared-ip key start from the key, so those decided at once want the same address', () => {
    const big = pool('big', { ipFamily: 'IPv4', addresses: ['10.0.0.0/16'] });
    const dns = { key: 'dns', ports: [{ protocol: 'TCP' as const, port: 53 }] };
    const free = () => new TakenAddresses();
    const a = assignAddress({ allocation: alloc('ip-1', { ipFamily: 'IPv4' }, 'u1'), pools: viewPools([big]), taken: free, service: { key: 'a/dns', ipFamilies: ['IPv4'] }, sharing: dns });
    const b = assignAddress({ allocation: alloc('ip-2', { ipFamily: 'IPv4' }, 'u2'), pools: viewPools([big]), taken: free, service: { key: 'b/resolver', ipFamilies: ['IPv4'] }, sharing: { ...dns, ports: [{ protocol: 'UDP', port: 53 }] } });
    const unkeyed = assignAddress({ allocation: alloc('ip-3', { ipFamily: 'IPv4' }, 'u3'), pools: viewPools([big]), taken: free, service: { key: 'a/dns', ipFamilies: ['IPv4'] } });
    expect(a.ok && b.ok && a.address === b.address).toBe(true);
    expect(a.ok && unkeyed.ok && a.address !== unkeyed.address).toBe(true);
    expect(sharedSeedOf('dns', 'IPv6')).toBe('allow-shared-ip:dns/IPv6');
  });

  it('a Service with a key whose first try is taken (ports clash) walks from its own start, not after the others of its key', () => {
    const big = pool('big', { ipFamily: 'IPv4', addresses: ['10.0.0.0/16'] });
    const https = { key: 'everything', ports: [{ protocol: 'TCP' as const, port: 443 }] };
    const first = assignAddress({ allocation: alloc('ip-1', { ipFamily: 'IPv4' }, 'u1'), pools: viewPools([big]), taken: () => new TakenAddresses(), service: { key: 'a/one', ipFamilies: ['IPv4'] }, sharing: https });
    if (!first.ok) throw new Error(first.message);
    const held = new TakenAddresses();
    const p = parseAddress(first.address);
    if (p.ok) held.add(p.value);
    // the hint shows the first's address shared under the key, on the port the second uses too
    const shared = () => [{ address: first.address, ports: https.ports }];
    const second = assignAddress({ allocation: alloc('ip-2', { ipFamily: 'IPv4' }, 'u2'), pools: viewPools([big]), taken: () => held, service: { key: 'a/two', ipFamilies: ['IPv4'] }, sharing: https, shared });
    const unkeyed = assignAddress({ allocation: alloc('ip-2', { ipFamily: 'IPv4' }, 'u2'), pools: viewPools([big]), taken: () => held, service: { key: 'a/two', ipFamilies: ['IPv4'] } });
    // not the address next to the first one: the second's own start, as without a key
    expect(second.ok && unkeyed.ok && second.address === unkeyed.address).toBe(true);
  });

  it("Services of one key whose first try another Service holds walk on from it together, so those decided at once still meet", () => {
    const big = pool('big', { ipFamily: 'IPv4', addresses: ['10.0.0.0/16'] });
    const views = viewPools([big]);
    const keyStart = assignAddress({ allocation: alloc('ip-0', { ipFamily: 'IPv4' }, 'u0'), pools: views, taken: () => new TakenAddresses(), service: { key: 'a/zero', ipFamilies: ['IPv4'] }, sharing: { key: 'dns', ports: [{ protocol: 'TCP', port: 53 }] } });
    if (!keyStart.ok) throw new Error(keyStart.message);
    const start = parseAddress(keyStart.address);
    if (!start.ok) throw new Error(start.message);
    // an unkeyed Service holds the key's address (no shared address of the key is known)
    const taken = () => new TakenAddresses([start.value]);
    const decide = (name: string, protocol: 'TCP' | 'UDP') => assignAddress({
      allocation: alloc(name, { ipFamily: 'IPv4' }, `uid-${name}`), pools: views, taken, service: { key: `ns/${name}`, ipFamilies: ['IPv4'] },
      sharing: { key: 'dns', ports: [{ protocol, port: 53 }] }, shared: () => [],
    });
    const tcp = decide('tcp', 'TCP');
    const udp = decide('udp', 'UDP');
    expect(tcp).toEqual({ ok: true, pool: 'big', address: formatAddress('IPv4', start.value + 1n), held: false });
    expect(udp).toEqual(tcp);
  });

  describe("an address the router itself holds (program refused it: AddressInUseByRouter)", () => {
    const held = (address: string, name: string, uid: string): Holding => ({ address, poolName: 'small', allocationName: name, allocationUID: uid });
    const decide = (a: ReturnType<typeof alloc>, routerHeld: string, h: Holding, more: string[] = []) => {
      const taken = new TakenAddresses([h.address, ...more].flatMap((x) => { const p = parseAddress(x); return p.ok ? [p.value] : []; }));
      return assignAddress({ allocation: a, pools: viewPools([small, v6, manual]), taken: () => taken, held: h, routerHeld });
    };

    it('an auto-assigned allocation holding it is moved to another free address of its pools', () => {
      expect(decide(alloc('x', { poolName: 'small' }, 'uid-x'), '192.0.2.1', held('192.0.2.1', 'x', 'uid-x'))).toEqual({ ok: true, pool: 'small', address: '192.0.2.2', held: false });
      expect(decide(alloc('x', { ipFamily: 'IPv4' }, 'uid-x'), '192.0.2.2', held('192.0.2.2', 'x', 'uid-x'))).toEqual({ ok: true, pool: 'small', address: '192.0.2.1', held: false });
    });

    it('with no other free address it keeps the one it holds (refused, as before) rather than give it up for nothing', () => {
      expect(decide(alloc('x', { poolName: 'small' }, 'uid-x'), '192.0.2.1', held('192.0.2.1', 'x', 'uid-x'), ['192.0.2.2'])).toEqual({ ok: true, pool: 'small', address: '192.0.2.1', held: true });
    });

    it('an address asked for by name stays: the user asked for it', () => {
      expect(decide(alloc('x', { address: '192.0.2.1' }, 'uid-x'), '192.0.2.1', held('192.0.2.1', 'x', 'uid-x'))).toEqual({ ok: true, pool: 'small', address: '192.0.2.1', held: true });
    });

    it('another held address than the refused one is kept (the refusal was about an earlier address)', () => {
      expect(decide(alloc('x', { poolName: 'small' }, 'uid-x'), '192.0.2.1', held('192.0.2.2', 'x', 'uid-x'))).toEqual({ ok: true, pool: 'small', address: '192.0.2.2', held: true });
    });

    it("Services of one key whose key address is the router's walk on from it together, and never join it again", () => {
      const big = pool('big', { ipFamily: 'IPv4', addresses: ['10.0.0.0/24'] });
      const views = viewPools([big]);
      const keyStart = assignAddress({ allocation: alloc('ip-0', { ipFamily: 'IPv4' }, 'u0'), pools: views, taken: () => new TakenAddresses(), service: { key: 'a/zero', ipFamilies: ['IPv4'] }, sharing: { key: 'dns', ports: [{ protocol: 'TCP', port: 53 }] } });
      if (!keyStart.ok) throw new Error(keyStart.message);
      const router = keyStart.address;
      const routerValue = parseAddress(router);
      const taken = new TakenAddresses(routerValue.ok ? [routerValue.value] : []);
      const holding = (uid: string): Holding => ({ address: router, poolName: 'big', allocationName: uid, allocationUID: uid });
      const moved = (name: string, uid: string, port: number) => assignAddress({
        allocation: alloc(name, { ipFamily: 'IPv4' }, uid), pools: views, taken: () => taken, held: holding(uid), routerHeld: router,
        service: { key: `a/${name}`, ipFamilies: ['IPv4'] }, sharing: { key: 'dns', ports: [{ protocol: 'TCP', port }] },
        // the hint still shows the router's address shared under the key
        shared: () => [{ address: router, ports: [{ protocol: 'TCP', port: 1 }] }],
      });
      const one = moved('one', 'u1', 53);
      const two = moved('two', 'u2', 853);
      expect(one.ok && two.ok).toBe(true);
      if (!one.ok || !two.ok) return;
      expect(one.address).not.toBe(router);
      expect(two.address).toBe(one.address);
      // the next free address after the key's own, not each Service's own start
      const next = routerValue.ok ? formatAddress('IPv4', routerValue.value === 0x0a0000ffn ? 0x0a000000n : routerValue.value + 1n) : '';
      expect(one.address).toBe(next);
    });
  });

  it('skips addresses it knows are taken, and reports exhaustion only when all are', () => {
    const d = run(alloc('x', { poolName: 'small' }), undefined, { small: [taken('192.0.2.1')] });
    expect(d).toMatchObject({ ok: true, address: '192.0.2.2' });
  });

  it('a pool being deleted hands out nothing new, but its holders keep their addresses', () => {
    const going = pool('going', { ipFamily: 'IPv4', addresses: ['203.0.113.0/24'] }, undefined, true);
    expect(run(alloc('n', { poolName: 'going' }), [going])).toEqual({ ok: false, reason: 'PoolNotFound', message: 'Pool going is being deleted and hands out no new address.' });
    // the user sees the pool (auto-assign) in kubectl get ippools: the message says why it does not count
    expect(run(alloc('n', { ipFamily: 'IPv4' }), [going])).toMatchObject({ ok: false, reason: 'PoolExhausted', message: 'No auto-assign IPv4 pool hands out new addresses: going is being deleted.' });
    const alsoGoing = pool('also-going', { ipFamily: 'IPv4', addresses: ['198.51.100.0/24'] }, undefined, true);
    expect(run(alloc('n', { ipFamily: 'IPv4' }), [going, alsoGoing])).toMatchObject({ message: 'No auto-assign IPv4 pool hands out new addresses: also-going and going are being deleted.' });
    expect(run(alloc('n', { address: '203.0.113.9' }), [going])).toMatchObject({ ok: false, reason: 'AddressNotInPool' });
    expect(run(alloc('h', { poolName: 'going' }, 'uid-h'), [going], { going: [taken('203.0.113.7', 'h', 'uid-h')] })).toEqual({ ok: true, pool: 'going', address: '203.0.113.7', held: true });
  });

  it('gives back what it holds when the spec asks for something else, or the pool is gone', () => {
    const held = { manual: [taken('198.51.100.77', 'x', 'uid-x')] };
    expect(run(alloc('x', { poolName: 'small' }, 'uid-x'), undefined, held)).toMatchObject({ ok: true, pool: 'small', held: false });
    expect(run(alloc('x', { address: '198.51.100.78' }, 'uid-x'), undefined, held)).toEqual({ ok: true, pool: 'manual', address: '198.51.100.78', held: false });
    expect(run(alloc('x', { poolName: 'manual' }, 'uid-x'), [small, v6], held)).toMatchObject({ ok: false, reason: 'PoolNotFound' });
  });

  it('never chooses a special-purpose address (multicast, loopback, reserved, link-local, IPv4-mapped), whatever the pool lists', () => {
    const v4 = pool('wide-v4', { ipFamily: 'IPv4', addresses: ['224.0.0.0-224.0.0.255', '127.0.0.0-127.0.0.255', '240.0.0.0-240.0.0.255', '169.254.0.0-169.254.0.255', '198.51.100.7'] });
    const wide = pool('wide-v6', { ipFamily: 'IPv6', addresses: ['ff02::-ff02::ff', 'fe80::-fe80::ff', '::ffff:0:0-::ffff:0:ff', '2001:db8::7'] });
    for (const name of Array.from({ length: 40 }, (_, i) => `s${i}`)) {
      expect(run(alloc(name, { ipFamily: 'IPv4' }), [v4])).toMatchObject({ ok: true, address: '198.51.100.7' });
      expect(run(alloc(name, { ipFamily: 'IPv6' }), [wide])).toMatchObject({ ok: true, address: '2001:db8::7' });
    }
  });

  it('an IPv6 pool ::/0 hands out no multicast address (about 1 in 256 of them were)', () => {
    const everything = pool('everything', { ipFamily: 'IPv6', addresses: ['::/0'] });
    const chosen = Array.from({ length: 1000 }, (_, i) => run(alloc(`ip-${i}`, { ipFamily: 'IPv6' }), [everything]));
    expect(chosen.filter((d) => !d.ok || d.address.startsWith('ff') || d.address.startsWith('fe8') || d.address.startsWith('::ffff:'))).toEqual([]);
  });

  it('gives up a special-purpose address held from an earlier version, for a usable one (or, asked for by name, with the refusal)', () => {
    const old = pool('old', { ipFamily: 'IPv4', addresses: ['224.0.0.0/24', '198.51.100.7'] });
    const held = { old: [taken('224.0.0.9', 'x', 'uid-x')] };
    expect(run(alloc('x', { ipFamily: 'IPv4' }, 'uid-x'), [old], held)).toEqual({ ok: true, pool: 'old', address: '198.51.100.7', held: false });
    expect(run(alloc('x', { address: '224.0.0.9' }, 'uid-x'), [old], held)).toMatchObject({ ok: false, reason: 'AddressInvalid' });
  });

  it.each([
    ['224.0.0.5', 'Address 224.0.0.5 is multicast (224.0.0.0/4): it can never be a load-balancer address.'],
    ['127.0.0.1', 'Address 127.0.0.1 is loopback (127.0.0.0/8): it can never be a load-balancer address.'],
    ['169.254.10.1', 'Address 169.254.10.1 is link-local (169.254.0.0/16): it can never be a load-balancer address.'],
    ['255.255.255.255', 'Address 255.255.255.255 is reserved (240.0.0.0/4): it can never be a load-balancer address.'],
    ['FF02::1', 'Address ff02::1 is multicast (ff00::/8): it can never be a load-balancer address.'],
    ['::ffff:192.0.2.9', 'Address ::ffff:192.0.2.9 is IPv4-mapped (::ffff:0:0/96): it can never be a load-balancer address.'],
  ])('refuses an explicit request for the special-purpose address %s, saying why', (address, message) => {
    const anything = [pool('all-v4', { ipFamily: 'IPv4', addresses: ['0.0.0.0/0'], avoidBuggyIPs: false }), pool('all-v6', { ipFamily: 'IPv6', addresses: ['::/0'] })];
    expect(run(alloc('x', { address }), anything)).toEqual({ ok: false, reason: 'AddressInvalid', message });
  });

  it('never hands out an address the older pool owns (overlap)', () => {
    const older = pool('older', { ipFamily: 'IPv4', addresses: ['203.0.113.1-203.0.113.2'] }, '2026-01-01T00:00:00Z');
    const younger = pool('younger', { ipFamily: 'IPv4', addresses: ['203.0.113.1-203.0.113.3'] }, '2026-02-01T00:00:00Z');
    const d = run(alloc('y', { poolName: 'younger' }), [older, younger], { older: [taken('203.0.113.1')] });
    expect(d).toMatchObject({ ok: true, pool: 'younger', address: '203.0.113.3' });
    const full = run(alloc('y', { poolName: 'younger' }), [older, younger], { younger: [taken('203.0.113.3', 'z', 'uz')] });
    expect(full).toMatchObject({ ok: false, reason: 'PoolExhausted' });
  });
});

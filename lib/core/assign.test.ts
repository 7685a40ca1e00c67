import { describe, expect, it } from 'vitest';
import { IPAllocationSchema, IPPoolSchema, type LedgerEntry } from '../k8s/schemas.js';
import { assignAddress } from './assign.js';
import { viewPools } from './pools.js';

const pool = (name: string, spec: Record<string, unknown>, created = '2026-01-01T00:00:00Z', ledger?: LedgerEntry[]) =>
  IPPoolSchema.parse({ metadata: { name, creationTimestamp: created }, spec, status: ledger ? { allocations: ledger } : undefined });
const alloc = (name: string, spec: Record<string, unknown>, uid = `uid-${name}`) => IPAllocationSchema.parse({ metadata: { name, uid }, spec });

const small = pool('small', { ipFamily: 'IPv4', addresses: ['192.0.2.1-192.0.2.2'] }, '2026-01-01T00:00:00Z', []);
const v6 = pool('v6', { ipFamily: 'IPv6', addresses: ['2001:db8::/120'] }, '2026-01-01T00:00:00Z', []);
const manual = pool('manual', { ipFamily: 'IPv4', addresses: ['198.51.100.0/24'], autoAssign: false }, '2026-01-01T00:00:00Z', []);

function run(a: ReturnType<typeof alloc>, pools = [small, v6, manual], ledgers: Record<string, LedgerEntry[]> = {}, service?: { key: string; ipFamilies: ('IPv4' | 'IPv6')[] }) {
  const views = viewPools(pools);
  const map = new Map(views.map((v) => [v.name, ledgers[v.name] ?? v.ledger ?? []]));
  return assignAddress({ allocation: a, pools: views, ledgers: map, ...(service ? { service } : {}) });
}
const taken = (address: string, name = 'other', uid = 'uid-other'): LedgerEntry => ({ address, allocationName: name, allocationUID: uid });

describe('choosing an address: scenarios', () => {
  it('s1 gets an address of its family from an auto-assign pool', () => {
    const d = run(alloc('s1', { ipFamily: 'IPv4' }));
    expect(d).toMatchObject({ ok: true, pool: 'small', reserved: false });
  });

  it("s2 can't grab s1's address", () => {
    const d = run(alloc('s2', { address: '192.0.2.1' }), undefined, { small: [taken('192.0.2.1', 's1')] });
    expect(d).toEqual({ ok: false, reason: 'AddressAlreadyUsed', message: 'Address 192.0.2.1 in pool small is already used by IPAllocation s1.' });
  });

  it('s1 asking again finds its own reservation, even in a manual pool', () => {
    const d = run(alloc('s1', { poolName: 'manual' }, 'uid-s1'), undefined, { manual: [taken('198.51.100.77', 's1', 'uid-s1')] });
    expect(d).toEqual({ ok: true, pool: 'manual', address: '198.51.100.77', reserved: true });
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

  it('the same allocation name gets the same address when it is free (deterministic start)', () => {
    const big = pool('big', { ipFamily: 'IPv4', addresses: ['10.0.0.0/16'] }, undefined, []);
    const first = run(alloc('ip-abc', { poolName: 'big' }, 'u1'), [big]);
    const again = run(alloc('ip-abc', { poolName: 'big' }, 'u2'), [big]);
    expect(first).toEqual(again);
  });

  it('never hands out an address held in another pool\'s ledger (overlap owned by the older pool)', () => {
    const older = pool('older', { ipFamily: 'IPv4', addresses: ['203.0.113.1-203.0.113.2'] }, '2026-01-01T00:00:00Z', [taken('203.0.113.1')]);
    const younger = pool('younger', { ipFamily: 'IPv4', addresses: ['203.0.113.1-203.0.113.3'] }, '2026-02-01T00:00:00Z', []);
    const d = run(alloc('y', { poolName: 'younger' }), [older, younger]);
    expect(d).toMatchObject({ ok: true, pool: 'younger', address: '203.0.113.3' });
    const full = run(alloc('y', { poolName: 'younger' }), [older, younger], { younger: [taken('203.0.113.3', 'z', 'uz')] });
    expect(full).toMatchObject({ ok: false, reason: 'PoolExhausted' });
  });
});

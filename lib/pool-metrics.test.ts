import { describe, expect, it } from 'vitest';
import { parseSamples, sampleValue } from '../test/helpers/prom-text.js';
import { poolCounts, viewPools } from './core/pools.js';
import type { IPAllocation, IPPool } from './k8s/schemas.js';
import { FAILURE_REASONS } from './core/assign.js';
import { ADDRESSES_IN_USE, ADDRESSES_TOTAL, ALLOCATION_FAILURES, ALLOCATIONS_FAILED, createPoolMetrics, failedPool, forgetReleased } from './pool-metrics.js';

const pool = (name: string, ipFamily: 'IPv4' | 'IPv6', addresses: string[], creationTimestamp = '2026-01-01T00:00:00Z'): IPPool => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name, creationTimestamp },
  spec: { ipFamily, addresses, autoAssign: true, avoidBuggyIPs: false, advertise: true },
});
const held = (...addresses: string[]) => addresses.map((address) => ({ address }));
const allocation = (spec: IPAllocation['spec']): IPAllocation => ({ apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'a' }, spec });

describe('pool usage gauges', () => {
  const views = viewPools([pool('big', 'IPv4', ['10.0.0.0/22']), pool('v6', 'IPv6', ['2001:db8::/120', '!2001:db8::ff']), pool('younger', 'IPv4', ['10.0.3.0/24'], '2026-02-01T00:00:00Z')]);
  const view = (name: string) => views.find((v) => v.name === name) ?? expect.unreachable(name);

  it('are exact where the pool status rounds (1,024 addresses, not "1K"), per pool and family', () => {
    const m = createPoolMetrics();
    m.counted('big', 'IPv4', poolCounts(view('big'), held('10.0.0.1', '10.0.3.200')));
    m.counted('v6', 'IPv6', poolCounts(view('v6'), held('2001:db8::1', '2001:db8::2', '2001:db8::3')));
    const text = m.render();
    expect(sampleValue(text, ADDRESSES_TOTAL, { pool: 'big', family: 'IPv4' })).toBe(1024);
    expect(sampleValue(text, ADDRESSES_IN_USE, { pool: 'big', family: 'IPv4' })).toBe(2);
    expect(sampleValue(text, ADDRESSES_TOTAL, { pool: 'v6', family: 'IPv6' })).toBe(255);
    expect(sampleValue(text, ADDRESSES_IN_USE, { pool: 'v6', family: 'IPv6' })).toBe(3);
  });

  it('count only what the pool owns: a younger overlapping pool has the shared addresses in neither figure', () => {
    const m = createPoolMetrics();
    m.counted('younger', 'IPv4', poolCounts(view('younger'), held('10.0.3.7')));
    expect(sampleValue(m.render(), ADDRESSES_TOTAL, { pool: 'younger' })).toBe(0);
    expect(sampleValue(m.render(), ADDRESSES_IN_USE, { pool: 'younger' })).toBe(0);
  });

  it('follow the latest recount; an IPv6 /64 is as close as a float gets', () => {
    const m = createPoolMetrics();
    m.counted('p', 'IPv4', { total: 10n, allocated: 1n, free: 9n });
    m.counted('p', 'IPv4', { total: 10n, allocated: 4n, free: 6n });
    m.counted('wide', 'IPv6', { total: 2n ** 64n, allocated: 3n, free: 2n ** 64n - 3n });
    expect(sampleValue(m.render(), ADDRESSES_IN_USE, { pool: 'p' })).toBe(4);
    expect(sampleValue(m.render(), ADDRESSES_TOTAL, { pool: 'wide', family: 'IPv6' })).toBe(18446744073709552000);
    expect(m.render()).toContain(`${ADDRESSES_TOTAL}{pool="wide",family="IPv6"} 18446744073709552000`);
  });

  it('go with their pool: retain keeps only the pools that still exist', () => {
    const m = createPoolMetrics();
    const counts = { total: 4n, allocated: 1n, free: 3n };
    m.counted('stays', 'IPv4', counts);
    m.counted('goes', 'IPv6', counts);
    m.decided('x', { pool: 'goes', reason: 'PoolExhausted' });
    m.decided('y', { pool: 'stays', reason: 'PoolExhausted' });
    m.decided('z', { pool: '', reason: 'AddressNotInPool' });
    m.retain(['stays', 'never-counted']);
    const text = m.render();
    expect(sampleValue(text, ADDRESSES_TOTAL, { pool: 'stays' })).toBe(4);
    expect(sampleValue(text, ADDRESSES_TOTAL, { pool: 'goes' })).toBeUndefined();
    expect(sampleValue(text, ADDRESSES_TOTAL, { pool: 'never-counted' })).toBeUndefined();
    // the failure counter's series of a pool that went go too (else one per reason for good); not those of no pool
    expect(parseSamples(text).filter((s) => s.name === ALLOCATION_FAILURES && s.labels.pool === 'goes')).toEqual([]);
    expect(sampleValue(text, ALLOCATION_FAILURES, { pool: 'stays', reason: 'PoolExhausted' })).toBe(1);
    expect(sampleValue(text, ALLOCATION_FAILURES, { pool: '', reason: 'AddressNotInPool' })).toBe(1);
  });
});

describe('allocation failures', () => {
  it('start at zero for every reason of every pool seen (so increase() sees the first failure) and count up', () => {
    const m = createPoolMetrics();
    m.counted('p', 'IPv4', { total: 1n, allocated: 1n, free: 0n });
    m.decided('x', { pool: 'p', reason: 'PoolExhausted' });
    m.decided('x', { pool: 'p', reason: 'PoolExhausted' });
    m.decided('y', { pool: '', reason: 'AddressNotInPool' });
    const text = m.render();
    for (const reason of FAILURE_REASONS) {
      expect(sampleValue(text, ALLOCATION_FAILURES, { pool: 'p', reason })).toBe(reason === 'PoolExhausted' ? 2 : 0);
      expect(sampleValue(text, ALLOCATION_FAILURES, { pool: '', reason })).toBe(reason === 'AddressNotInPool' ? 1 : 0);
    }
    // a scoped pool's refusal too (it was missing from the reasons started at zero)
    expect(sampleValue(text, ALLOCATION_FAILURES, { pool: 'p', reason: 'PoolScopeMismatch' })).toBe(0);
  });

  it('count a pool that does not exist under the empty pool: names from annotations add no series for good', () => {
    const m = createPoolMetrics();
    for (let i = 0; i < 3; i++) m.decided(`t${i}`, { pool: `typo-${i}`, reason: 'PoolNotFound' });
    const text = m.render();
    expect(sampleValue(text, ALLOCATION_FAILURES, { pool: '', reason: 'PoolNotFound' })).toBe(3);
    for (let i = 0; i < 3; i++) expect(sampleValue(text, ALLOCATION_FAILURES, { pool: `typo-${i}`, reason: 'PoolNotFound' })).toBeUndefined();
    // while they fail, the gauge names the pool asked for; fixed, the series goes
    expect(sampleValue(text, ALLOCATIONS_FAILED, { pool: 'typo-0', reason: 'PoolNotFound' })).toBe(1);
    m.decided('t0');
    expect(sampleValue(m.render(), ALLOCATIONS_FAILED, { pool: 'typo-0', reason: 'PoolNotFound' })).toBeUndefined();
  });

  it('are failing until decided otherwise, deleted, or listed as no longer failed', () => {
    const m = createPoolMetrics();
    const failingOf = (labels: Record<string, string>) => sampleValue(m.render(), ALLOCATIONS_FAILED, labels);
    m.decided('x', { pool: 'p', reason: 'PoolExhausted' });
    m.decided('y', { pool: 'p', reason: 'PoolExhausted' });
    m.decided('z', { pool: '', reason: 'AddressAlreadyUsed' });
    expect([failingOf({ pool: 'p', reason: 'PoolExhausted' }), failingOf({ pool: '', reason: 'AddressAlreadyUsed' })]).toEqual([2, 1]);
    m.decided('x');
    expect(failingOf({ pool: 'p', reason: 'PoolExhausted' })).toBe(1);
    // a list shows y allocated meanwhile, z gone, and w failed (decided by another instance)
    const failed = (name: string, spec: IPAllocation['spec'], reason: string): IPAllocation => ({
      ...allocation(spec), metadata: { name },
      status: { phase: 'Failed', conditions: [{ type: 'Allocated', status: 'False', reason, message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }] },
    });
    m.listed([{ ...allocation({ poolName: 'p' }), metadata: { name: 'y' }, status: { phase: 'Allocated', address: '10.0.0.1' } }, failed('w', { poolName: 'q' }, 'PoolNotFound')], []);
    expect(failingOf({ pool: 'p', reason: 'PoolExhausted' })).toBeUndefined();
    expect(failingOf({ pool: '', reason: 'AddressAlreadyUsed' })).toBeUndefined();
    expect(failingOf({ pool: 'q', reason: 'PoolNotFound' })).toBe(1);
    // deciding or listing never touches the failure counter beyond the decisions
    expect(sampleValue(m.render(), ALLOCATION_FAILURES, { pool: 'p', reason: 'PoolExhausted' })).toBe(2);
    expect(sampleValue(m.render(), ALLOCATION_FAILURES, { pool: 'q', reason: 'PoolNotFound' })).toBeUndefined();
  });

  it('leave out a family the Service can go without: not failing, not counted, also when a list shows it failed', () => {
    const m = createPoolMetrics();
    const failingOf = (labels: Record<string, string>) => sampleValue(m.render(), ALLOCATIONS_FAILED, labels);
    m.decided('v6', { pool: '', reason: 'PoolExhausted', optional: true });
    expect(failingOf({ pool: '', reason: 'PoolExhausted' })).toBeUndefined();
    expect(sampleValue(m.render(), ALLOCATION_FAILURES, { pool: '', reason: 'PoolExhausted' })).toBe(0);
    const failed: IPAllocation = {
      ...allocation({ ipFamily: 'IPv6' }), metadata: { name: 'v6' },
      status: { phase: 'Failed', conditions: [{ type: 'Allocated', status: 'False', reason: 'PoolExhausted', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }] },
    };
    m.listed([failed], []);
    expect(failingOf({ pool: '', reason: 'PoolExhausted' })).toBeUndefined();
    // its Service made the family required (RequireDualStack): it fails like any other
    m.decided('v6', { pool: '', reason: 'PoolExhausted' });
    expect(failingOf({ pool: '', reason: 'PoolExhausted' })).toBe(1);
  });

  it('listed after a restart: one that asked for an address counts under the pool holding it', () => {
    const m = createPoolMetrics();
    const failed: IPAllocation = {
      ...allocation({ address: '10.0.1.9' }), metadata: { name: 'x' },
      status: { phase: 'Failed', conditions: [{ type: 'Allocated', status: 'False', reason: 'AddressAlreadyUsed', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }] },
    };
    m.listed([failed], viewPools([pool('big', 'IPv4', ['10.0.0.0/22'])]));
    expect(sampleValue(m.render(), ALLOCATIONS_FAILED, { pool: 'big', reason: 'AddressAlreadyUsed' })).toBe(1);
    expect(sampleValue(m.render(), ALLOCATIONS_FAILED, { pool: '', reason: 'AddressAlreadyUsed' })).toBeUndefined();
  });

  it('stop failing as the watch sees them deleted or gone (forgetReleased), and not before', () => {
    const m = createPoolMetrics();
    const failingOf = () => sampleValue(m.render(), ALLOCATIONS_FAILED, { pool: 'p', reason: 'PoolExhausted' });
    for (const name of ['x', 'y', 'z']) m.decided(name, { pool: 'p', reason: 'PoolExhausted' });
    const watch = forgetReleased(m);
    watch.seen({ metadata: { name: 'x', labels: { edited: 'yes' } } });
    watch.seen({ kind: 'Status' });
    expect(failingOf()).toBe(3);
    watch.seen({ metadata: { name: 'x', deletionTimestamp: '2026-12-05T00:00:00Z' } });
    watch.gone({ metadata: { name: 'y' } });
    expect(failingOf()).toBe(1);
  });

  it.each([
    ['a named pool', { poolName: 'web' }, 'web'],
    ['an address inside a pool', { address: '10.0.1.9' }, 'big'],
    ['an address in no pool', { address: '192.0.2.1' }, ''],
    ['an invalid address', { address: 'not-an-ip' }, ''],
    ['a family', { ipFamily: 'IPv4' as const }, ''],
  ])('are counted under the pool of the allocation: %s', (_, spec, expected) => {
    expect(failedPool(allocation(spec), viewPools([pool('big', 'IPv4', ['10.0.0.0/22'])]))).toBe(expected);
  });
});

describe('a process whose figures are not current (a controller replica without the lease)', () => {
  it('serves no gauges, but its counters', () => {
    let leading = false;
    const m = createPoolMetrics({ current: () => leading });
    m.counted('p', 'IPv4', { total: 4n, allocated: 1n, free: 3n });
    m.decided('x', { pool: 'p', reason: 'PoolExhausted' });
    const text = m.render();
    expect(sampleValue(text, ADDRESSES_TOTAL, { pool: 'p' })).toBeUndefined();
    expect(sampleValue(text, ALLOCATIONS_FAILED, { pool: 'p', reason: 'PoolExhausted' })).toBeUndefined();
    expect(sampleValue(text, ALLOCATION_FAILURES, { pool: 'p', reason: 'PoolExhausted' })).toBe(1);
    leading = true;
    expect(sampleValue(m.render(), ADDRESSES_TOTAL, { pool: 'p' })).toBe(4);
  });
});

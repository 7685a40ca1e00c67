import { describe, expect, it } from 'vitest';
import { IPAllocationSchema, IPPoolSchema } from '../k8s/schemas.js';
import { outsideHoldings, poolStatus } from './pool-status.js';
import { adoptedHoldings, poolCounts, poolKeeping, viewPools } from './pools.js';
import { assignAddress } from './assign.js';

const pool = (name: string, spec: Record<string, unknown>, created: string) =>
  IPPoolSchema.parse({ metadata: { name, creationTimestamp: created }, spec: { ipFamily: 'IPv4', ...spec } });
const holding = (name: string, address: string) =>
  IPAllocationSchema.parse({ metadata: { name, uid: `uid-${name}` }, spec: { ipFamily: 'IPv4' }, status: { phase: 'Programmed', address } });

describe('pools: addresses an upgrade keeps (avoidBuggyIPs applies to new choices only)', () => {
  const lan = pool('lan', { addresses: ['10.0.0.0/16'], avoidBuggyIPs: true }, '2026-01-01T00:00:00Z');

  it('adopts an address upstream handed out that avoidBuggyIPs would not choose, and counts it', () => {
    const [view] = viewPools([lan]);
    if (!view) throw new Error('no view');
    const held = adoptedHoldings(view, [holding('a', '10.0.1.0'), holding('b', '10.0.2.255'), holding('c', '10.0.3.7'), holding('outside', '10.1.0.1')]);
    expect(held.map((e) => `${e.address}=${e.allocationName}@${e.poolName}`)).toEqual(['10.0.1.0=a@lan', '10.0.2.255=b@lan', '10.0.3.7=c@lan']);
    expect(outsideHoldings(view, held)).toEqual([]);
    expect(poolCounts(view, held)).toEqual({ total: 65536n - 512n, allocated: 3n, free: 65536n - 512n - 1n });
  });

  it('keeps no address another pool owns', () => {
    // a newer pool without avoidBuggyIPs owns 10.0.1.0: the older pool does not keep it
    const edge = pool('edge', { addresses: ['10.0.1.0/24'], avoidBuggyIPs: false }, '2026-01-02T00:00:00Z');
    const views = viewPools([lan, edge]);
    const held = [holding('a', '10.0.1.0')];
    expect(views.map((v) => adoptedHoldings(v, held).map((e) => `${v.name}:${e.address}`))).toEqual([[], ['edge:10.0.1.0']]);
    expect(poolKeeping(views, '10.0.1.0')?.name).toBe('edge');
    expect(poolKeeping(views, '10.0.2.1')?.name).toBe('lan');
    expect(poolKeeping(views, '192.0.2.1')).toBeUndefined();
  });
});

describe('pools: counts of a pool being deleted', () => {
  it('counts every holder its deletion waits for, also one it shrank away from (DeletionBlocked names it)', () => {
    const going = IPPoolSchema.parse({ metadata: { name: 'going', creationTimestamp: '2026-01-01T00:00:00Z', deletionTimestamp: '2026-01-02T00:00:00Z' }, spec: { ipFamily: 'IPv4', addresses: ['10.0.0.1-10.0.0.2'] } });
    const [view] = viewPools([going]);
    if (!view) throw new Error('no view');
    expect(poolCounts(view, [{ address: '10.0.0.1' }, { address: '10.0.0.7' }])).toEqual({ total: 2n, allocated: 2n, free: 0n });
  });
});

describe('pools: converting a ledger (earlier versions) to claims', () => {
  const lan = IPPoolSchema.parse({
    metadata: { name: 'lan', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { ipFamily: 'IPv4', addresses: ['10.0.0.0/24'] },
    status: { allocations: [
      { address: '10.0.0.5', allocationName: 'a', allocationUID: 'uid-a' },
      { address: '10.0.0.6', allocationName: 'gone', allocationUID: 'uid-gone' },
      { address: '10.0.0.7', allocationName: 'r', allocationUID: 'uid-r' },
    ] },
  });
  const reserved = IPAllocationSchema.parse({ metadata: { name: 'r', uid: 'uid-r' }, spec: { ipFamily: 'IPv4' } });

  it('keeps every ledger entry whose allocation still exists (reserved, status not yet written), and every status address', () => {
    const [view] = viewPools([lan]);
    if (!view) throw new Error('no view');
    const held = adoptedHoldings(view, [holding('a', '10.0.0.5'), reserved, holding('b', '10.0.0.9')]);
    expect(held.map((e) => `${e.address}=${e.allocationName}`).sort()).toEqual(['10.0.0.5=a', '10.0.0.7=r', '10.0.0.9=b']);
  });

  it('keeps a ledger entry the pool no longer contains (it shrank under the earlier version), not a status address outside it', () => {
    const shrunk = IPPoolSchema.parse({ ...lan, spec: { ...lan.spec, addresses: ['10.0.0.0/30'] } });
    const [view] = viewPools([shrunk]);
    if (!view) throw new Error('no view');
    const held = adoptedHoldings(view, [holding('a', '10.0.0.5'), reserved, holding('b', '10.0.0.9')]);
    expect(held.map((e) => `${e.address}=${e.allocationName}@${e.poolName}`).sort()).toEqual(['10.0.0.5=a@lan', '10.0.0.7=r@lan']);
    expect(adoptedHoldings(view, [holding('c', '10.0.0.200')]).map((e) => e.address)).toEqual([]);
  });

  it('keeps one holder per address: the ledger\'s, else the oldest allocation', () => {
    const [view] = viewPools([lan]);
    if (!view) throw new Error('no view');
    const older = IPAllocationSchema.parse({ metadata: { name: 'z-old', uid: 'uid-z', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { ipFamily: 'IPv4' }, status: { phase: 'Allocated', address: '10.0.0.20' } });
    const newer = IPAllocationSchema.parse({ metadata: { name: 'a-new', uid: 'uid-n', creationTimestamp: '2026-02-01T00:00:00Z' }, spec: { ipFamily: 'IPv4' }, status: { phase: 'Allocated', address: '10.0.0.20' } });
    const dup = IPAllocationSchema.parse({ metadata: { name: 'dup', uid: 'uid-dup' }, spec: { ipFamily: 'IPv4' }, status: { phase: 'Allocated', address: '10.0.0.5' } });
    const held = adoptedHoldings(view, [holding('a', '10.0.0.5'), dup, newer, older]);
    expect(held.find((h) => h.address === '10.0.0.5')?.allocationName).toBe('a');
    expect(held.find((h) => h.address === '10.0.0.20')?.allocationName).toBe('z-old');
  });
});

describe('pools: a shrunk pool names every allocation keeping an address it no longer contains', () => {
  it('each holder of a shared address counts', () => {
    const [view] = viewPools([pool('lan', { ipFamily: 'IPv4', addresses: ['192.0.2.0/28'] }, '2026-01-01T00:00:00Z')]);
    if (!view) throw new Error('no view');
    const claim = (address: string, allocationName: string) => ({ address, poolName: 'lan', allocationName, allocationUID: `uid-${allocationName}` });
    const shared = {
      ...claim('192.0.2.53', 'ip-dns-tcp'), sharingKey: 'dns',
      holders: [
        { allocationName: 'ip-dns-tcp', allocationUID: 'uid-ip-dns-tcp', ports: [{ protocol: 'TCP' as const, port: 53 }] },
        { allocationName: 'ip-dns-udp', allocationUID: 'uid-ip-dns-udp', ports: [{ protocol: 'UDP' as const, port: 53 }] },
      ],
    };
    const status = poolStatus(view, [shared, claim('192.0.2.5', 'ip-web')], new Date('2026-01-01T00:00:00Z'));
    expect(status.conditions?.find((c) => c.type === 'AddressesOutsidePool')).toMatchObject({
      status: 'True',
      message: '2 allocation(s) keep addresses the pool no longer contains (ip-dns-tcp: 192.0.2.53, ip-dns-udp: 192.0.2.53); they are not moved — delete them to re-allocate.',
    });
  });
});

describe('pools: the Ready condition of a pool that owns no address', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const ready = (views: ReturnType<typeof viewPools>, name: string) => {
    const view = views.find((v) => v.name === name);
    if (!view) throw new Error(`no view ${name}`);
    const status = poolStatus(view, [], now);
    return { counts: [status.totalAddresses, status.allocatedAddresses, status.freeAddresses], ready: status.conditions?.find((c) => c.type === 'Ready') };
  };

  it('is False, NoOwnedAddresses, naming the older pool, when an older pool contains every address (not Full)', () => {
    const views = viewPools([
      pool('lan', { addresses: ['10.0.0.0/24'] }, '2026-01-01T00:00:00Z'),
      pool('lan-2', { addresses: ['10.0.0.10-10.0.0.20'] }, '2026-01-02T00:00:00Z'),
    ]);
    expect(ready(views, 'lan-2')).toMatchObject({
      counts: ['0', '0', '0'],
      ready: { status: 'False', reason: 'NoOwnedAddresses', message: 'Every address of the pool belongs to older pool lan, so it hands out none.' },
    });
    expect(ready(views, 'lan').ready).toMatchObject({ status: 'True', reason: 'Valid' });
  });

  it('names every older pool when several share the addresses out', () => {
    const views = viewPools([
      pool('a', { addresses: ['10.0.0.0-10.0.0.9'] }, '2026-01-01T00:00:00Z'),
      pool('b', { addresses: ['10.0.0.10-10.0.0.19'] }, '2026-01-01T00:00:01Z'),
      pool('c', { addresses: ['10.0.0.20-10.0.0.29'] }, '2026-01-01T00:00:02Z'),
      pool('all', { addresses: ['10.0.0.5-10.0.0.25'] }, '2026-01-02T00:00:00Z'),
    ]);
    expect(ready(views, 'all').ready).toMatchObject({
      status: 'False', reason: 'NoOwnedAddresses', message: 'Every address of the pool belongs to older pools a, b and c, so it hands out none.',
    });
  });

  it('names the special-purpose addresses it lists and never hands out (admitted without the webhook, which would warn)', () => {
    const views = viewPools([pool('mixed', { addresses: ['192.0.2.0/30', '224.0.0.0/24', '127.0.0.1'], avoidBuggyIPs: false }, '2026-01-01T00:00:00Z')]);
    expect(ready(views, 'mixed')).toMatchObject({
      counts: ['4', '0', '4'],
      ready: {
        status: 'True', reason: 'Valid',
        message: 'The pool is valid and has free addresses. It never hands out the special-purpose addresses it lists: 127.0.0.1 (loopback), 224.0.0.0-224.0.0.255 (multicast).',
      },
    });
    const [plain] = viewPools([pool('plain', { addresses: ['192.0.2.0/30'] }, '2026-01-01T00:00:00Z')]);
    if (!plain) throw new Error('no view');
    expect(poolStatus(plain, [], now).conditions?.find((c) => c.type === 'Ready')?.message).toBe('The pool is valid and has free addresses.');
  });

  it('is Full only when the pool owns addresses and every one is held', () => {
    const [view] = viewPools([pool('one', { addresses: ['10.0.0.7'] }, '2026-01-01T00:00:00Z')]);
    if (!view) throw new Error('no view');
    const status = poolStatus(view, [{ address: '10.0.0.7', poolName: 'one', allocationName: 'a', allocationUID: 'uid-a' }], now);
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'Full' });
  });

  it('is False, InvalidAddresses, when exclusions leave nothing (the webhook refuses such a pool)', () => {
    const views = viewPools([pool('empty', { addresses: ['10.0.0.0/30', '!10.0.0.0-10.0.0.3'] }, '2026-01-01T00:00:00Z')]);
    expect(ready(views, 'empty')).toMatchObject({
      counts: ['0', '0', '0'],
      ready: { status: 'False', reason: 'InvalidAddresses', message: 'no addresses left after exclusions' },
    });
  });
});

/**
 * A pool admitted without the webhook may list hundreds of bad entries (the CRD bounds an
 * entry's length, not their number), while the CRD caps a condition's message at 32,768
 * characters: a message naming every one had the pool's status write refused (422), and the
 * pool showed no status at all. The messages name the first few and say how many more.
 */
describe('pools: the messages of a pool with many bad entries', () => {
  const CONDITION_MESSAGE_MAX = 32_768;
  const bad = Array.from({ length: 400 }, (_, i) => `10.${Math.floor(i / 250)}.${i % 250}.0-bad-entry-${'x'.repeat(70)}`);
  const [view] = viewPools([pool('broken', { addresses: bad }, '2026-01-01T00:00:00Z')]);
  if (!view) throw new Error('no view');

  it('the Ready condition names the first entries and how many more, within the CRD limit', () => {
    const ready = poolStatus(view, [], new Date('2026-01-01T00:00:00Z')).conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'InvalidAddresses' });
    const message = ready?.message ?? '';
    expect(message.length).toBeLessThan(CONDITION_MESSAGE_MAX);
    expect(message).toMatch(/^spec\.addresses\[0\]: /);
    expect(message).toContain('spec.addresses[9]: ');
    expect(message).not.toContain('spec.addresses[10]: ');
    expect(message).toMatch(/; and 390 more bad entries$/);
  });

  it('an allocation asking the pool for an address is told the same, within the limit', () => {
    const d = assignAddress({ allocation: IPAllocationSchema.parse({ metadata: { name: 'a', uid: 'uid-a' }, spec: { poolName: 'broken' } }), pools: [view], taken: () => ({ has: () => false }) });
    expect(d).toMatchObject({ ok: false, reason: 'PoolExhausted' });
    const message = d.ok ? '' : d.message;
    expect(message.length).toBeLessThan(CONDITION_MESSAGE_MAX);
    expect(message).toMatch(/^Pool broken has no usable address: spec\.addresses\[0\]: .*; and 390 more bad entries\.$/);
  });
});

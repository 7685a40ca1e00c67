import { describe, expect, it } from 'vitest';
import { IPAllocationSchema, IPPoolSchema } from '../k8s/schemas.js';
import { outsideEntries } from './pool-status.js';
import { adoptedLedger, poolCounts, viewPools } from './pools.js';

const pool = (name: string, spec: Record<string, unknown>, created: string) =>
  IPPoolSchema.parse({ metadata: { name, creationTimestamp: created }, spec: { ipFamily: 'IPv4', ...spec } });
const holding = (name: string, address: string) =>
  IPAllocationSchema.parse({ metadata: { name, uid: `uid-${name}` }, spec: { ipFamily: 'IPv4' }, status: { phase: 'Programmed', address } });
const NOW = new Date('2026-01-01T00:00:00Z');

describe('pools: addresses an upgrade keeps (avoidBuggyIPs applies to new choices only)', () => {
  const lan = pool('lan', { addresses: ['10.0.0.0/16'], avoidBuggyIPs: true }, '2026-01-01T00:00:00Z');

  it('adopts an address upstream handed out that avoidBuggyIPs would not choose, and counts it', () => {
    const [view] = viewPools([lan]);
    if (!view) throw new Error('no view');
    const ledger = adoptedLedger(view, [holding('a', '10.0.1.0'), holding('b', '10.0.2.255'), holding('c', '10.0.3.7'), holding('outside', '10.1.0.1')], NOW);
    expect(ledger.map((e) => `${e.address}=${e.allocationName}`)).toEqual(['10.0.1.0=a', '10.0.2.255=b', '10.0.3.7=c']);
    expect(outsideEntries(view, ledger)).toEqual([]);
    expect(poolCounts(view, ledger)).toEqual({ total: 65536n - 512n, allocated: 3n, free: 65536n - 512n - 1n });
  });

  it('keeps no address another pool owns', () => {
    // a newer pool without avoidBuggyIPs owns 10.0.1.0: the older pool does not keep it
    const edge = pool('edge', { addresses: ['10.0.1.0/24'], avoidBuggyIPs: false }, '2026-01-02T00:00:00Z');
    const views = viewPools([lan, edge]);
    const held = [holding('a', '10.0.1.0')];
    expect(views.map((v) => adoptedLedger(v, held, NOW).map((e) => `${v.name}:${e.address}`))).toEqual([[], ['edge:10.0.1.0']]);
  });
});

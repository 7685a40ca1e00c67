/**
 * Shared addresses on the real API server: joins and leaves of one IPAddressClaim are updates
 * carrying its resourceVersion, so allocate instances racing for one shared address never give
 * one port to two Services, never lose a holder, and the claim goes with the last holder only.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { holdersOf } from '../../lib/core/sharing.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import { claimAddress, claimNameOf, leaveClaim } from '../../lib/k8s/claims.js';
import { IPAllocationSchema, type ClaimPort } from '../../lib/k8s/schemas.js';
import { getClaim } from '../../lib/k8s/typed.js';
import { testCluster } from '../helpers/cluster.js';

const kube = apiServerPort(testCluster().transport);
const ADDRESS = '198.18.71.9';
const NAME = claimNameOf(ADDRESS) ?? '';

const allocations: string[] = [];

afterAll(async () => {
  await kube.remove('IPAddressClaim', NAME);
  await Promise.all(allocations.map((name) => kube.remove('IPAllocation', name)));
});

/** A holder with its IPAllocation: an allocation exists before any claim made for it (a leave drops holders whose allocation is gone). */
async function holder(name: string) {
  const allocationName = `${name}-${randomUUID().slice(0, 8)}`;
  const made = IPAllocationSchema.parse(await kube.create('IPAllocation', { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: allocationName }, spec: { ipFamily: 'IPv4' } }));
  allocations.push(allocationName);
  return { address: ADDRESS, poolName: 'shared-race', allocationName, allocationUID: made.metadata.uid ?? '' };
}
const tcp = (port: number): ClaimPort => ({ protocol: 'TCP', port });

describe('racing for one shared address (real API server)', () => {
  it('eleven Services race: all on distinct ports hold it, of two on one port exactly one, another key none', async () => {
    const racers = [
      ...await Promise.all(Array.from({ length: 8 }, async (_, i) => ({ h: await holder(`port-${i}`), sharing: { key: 'web', ports: [tcp(8000 + i)] } }))),
      { h: await holder('clash-a'), sharing: { key: 'web', ports: [tcp(9000)] } },
      { h: await holder('clash-b'), sharing: { key: 'web', ports: [tcp(9000), tcp(9001)] } },
      { h: await holder('other-key'), sharing: { key: 'mail', ports: [tcp(25)] } },
    ];
    // the first creates the claim (its key decides who may join), then the rest race to join
    const [first, ...rest] = racers;
    if (!first) throw new Error('no racers');
    const results = [await claimAddress(kube, first.h, undefined, first.sharing), ...await Promise.all(rest.map((r) => claimAddress(kube, r.h, undefined, r.sharing)))];
    expect(results[0]).toMatchObject({ claimed: true, created: true });
    const won = racers.filter((_, i) => results[i]?.claimed).map((r) => r.h.allocationName);
    expect(won.filter((n) => n.startsWith('port-')).sort()).toEqual(racers.slice(0, 8).map((r) => r.h.allocationName).sort());
    expect(won.filter((n) => n.startsWith('clash-'))).toHaveLength(1);
    expect(won).not.toContain('other-key');
    const lost = results.filter((r) => !r.claimed);
    expect(lost.map((r) => (r.claimed || 'unreadable' in r ? '' : r.refusal ?? '')).sort()).toEqual([
      expect.stringMatching(/^IPAllocation clash-[ab]-[0-9a-f]{8} uses TCP\/9000 on it$/),
      'it is shared under another key ("web")',
    ]);

    const claim = await getClaim(kube, NAME);
    const holders = holdersOf(claim?.spec ?? { address: '', poolName: 'x', allocationName: 'x', allocationUID: 'x' });
    expect(holders.map((h) => h.allocationName).sort()).toEqual([...won].sort());
    expect(claim?.spec.allocationUID).toBe(holders[0]?.allocationUID);
    expect(claim?.metadata.labels?.['mikrolb.de/allocation-uid']).toBe(holders[0]?.allocationUID);
  });

  it('every holder leaving at once: the claim stays until the last one, then it is gone', async () => {
    const claim = await getClaim(kube, NAME);
    if (!claim) throw new Error('no claim');
    const uids = holdersOf(claim.spec).map((h) => h.allocationUID);
    const [last, ...rest] = uids;
    const outcomes = await Promise.all(rest.map((uid) => leaveClaim(kube, claim, uid)));
    expect(outcomes.every((o) => o === 'left')).toBe(true);
    const after = await getClaim(kube, NAME);
    expect(after && holdersOf(after.spec).map((h) => h.allocationUID)).toEqual([last]);
    expect(after?.spec.allocationUID).toBe(last);
    if (!after || !last) throw new Error('no claim left');
    expect(await leaveClaim(kube, after, last)).toBe('freed');
    expect(await getClaim(kube, NAME)).toBeUndefined();
  });
});

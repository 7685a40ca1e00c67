import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { IPAddressClaimSchema, IPAllocationSchema, IPPoolSchema } from '../../lib/k8s/schemas.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * An allocation that holds an address it no longer fits (its spec moved it to another pool)
 * is assigned again and gives the old address back, in one invocation: the old address's
 * claim goes once the status names the new one. The old pool still has the ledger of earlier
 * versions, so the same invocation first converts it to claims.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const pool = (name: string, cidr: string, ledger?: unknown[]) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name },
  spec: { ipFamily: 'IPv4', addresses: [cidr], autoAssign: false, avoidBuggyIPs: true, advertise: true },
  ...(ledger ? { status: { allocations: ledger } } : {}),
});
const UID = 'alloc-uid-1';

describe('allocate: an address the spec no longer asks for', () => {
  it('is released and the allocation assigned again in its new pool, in one invocation', async () => {
    const kube = memoryPortAs('allocate', {
      now: NOW,
      objects: [
        pool('old', '192.0.2.0/28', [{ address: '192.0.2.5', allocationName: 'reserved-1', allocationUID: UID, reservedAt: '2025-12-31T00:00:00Z' }]),
        pool('new', '198.51.100.0/28', []),
        {
          apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'reserved-1', uid: UID },
          spec: { poolName: 'new' },
          status: { phase: 'Allocated', address: '192.0.2.5' },
        },
      ],
    });
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: memoryLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false } });
    const answer = await allocate(objectInvocation('update', { kind: 'IPAllocation', name: 'reserved-1' }));
    expect(answer.kind).toBe('done');
    expect(JSON.stringify(answer)).toContain('released 192.0.2.5 of reserved-1 in pool old');

    const claims = (await kube.admin.list('IPAddressClaim')).map((c) => IPAddressClaimSchema.parse(c));
    expect(claims).toHaveLength(1);
    const [claim] = claims;
    expect(claim?.spec).toMatchObject({ allocationUID: UID, poolName: 'new', address: expect.stringMatching(/^198\.51\.100\./) });
    expect(claim?.metadata.name).toBe(claim?.spec.address);
    const old = IPPoolSchema.parse(await kube.admin.get('IPPool', 'old'));
    expect([old.status?.allocations, old.status?.claimsAdopted]).toEqual([undefined, true]);
    const a = IPAllocationSchema.parse(await kube.admin.get('IPAllocation', 'reserved-1'));
    expect([a.status?.phase, a.status?.address]).toEqual(['Allocated', claim?.spec.address]);
  });
});

import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { memoryPort } from '../../lib/k8s/memory.js';
import { IPAllocationSchema, IPPoolSchema } from '../../lib/k8s/schemas.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';

/**
 * An allocation that holds a reservation it no longer fits (its spec moved it to another pool)
 * releases it and is assigned again from fresh reads, in one invocation: the old pool's ledger
 * drops the address, the new pool's ledger and the allocation's status carry the new one.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const pool = (name: string, cidr: string, ledger?: unknown[]) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name },
  spec: { ipFamily: 'IPv4', addresses: [cidr], autoAssign: false, avoidBuggyIPs: true, advertise: true },
  ...(ledger ? { status: { allocations: ledger } } : {}),
});
const UID = 'alloc-uid-1';

describe('allocate: a stale reservation', () => {
  it('is released and the allocation assigned again in its new pool, in one invocation', async () => {
    const kube = memoryPort({
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
    expect(JSON.stringify(answer)).toContain('released stale reservation 192.0.2.5 of reserved-1 in pool old');

    const ledger = async (name: string) => IPPoolSchema.parse(await kube.port.get('IPPool', name)).status?.allocations ?? [];
    expect(await ledger('old')).toEqual([]);
    const [entry] = await ledger('new');
    expect(entry).toMatchObject({ allocationUID: UID, address: expect.stringMatching(/^198\.51\.100\./) });
    const a = IPAllocationSchema.parse(await kube.port.get('IPAllocation', 'reserved-1'));
    expect([a.status?.phase, a.status?.address]).toEqual(['Allocated', entry?.address]);
  });
});

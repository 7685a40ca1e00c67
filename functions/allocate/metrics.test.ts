import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { memoryPort } from '../../lib/k8s/memory.js';
import { IPPoolSchema } from '../../lib/k8s/schemas.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { ADDRESSES_IN_USE, ADDRESSES_TOTAL, ALLOCATION_FAILURES, ALLOCATIONS_FAILED, createPoolMetrics } from '../../lib/pool-metrics.js';
import { sampleValue } from '../../test/helpers/prom-text.js';
import { createAllocate } from './handler.js';

/**
 * allocate feeds the pool metrics from what it does anyway: a pool's recount sets its gauges,
 * a failed decision counts its reason and the allocation is failing until decided otherwise or
 * gone, a pool that went takes its gauges with it.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const pool = (name: string, addresses: string[]) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name },
  spec: { ipFamily: 'IPv4', addresses, autoAssign: false, avoidBuggyIPs: false, advertise: true },
});
const allocation = (name: string, spec: Record<string, string>) => ({ apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name, uid: `uid-${name}` }, spec });

describe('allocate: pool metrics', () => {
  it('counts a pool after its recount, a failure by pool and reason, and forgets a deleted pool', async () => {
    const kube = memoryPort({ now: NOW, objects: [pool('pair', ['192.0.2.10-192.0.2.11']), pool('other', ['198.51.100.0/30'])] });
    const metrics = createPoolMetrics();
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: memoryLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, metrics });
    const run = async (kind: 'IPPool' | 'IPAllocation', name: string, change: 'add' | 'update' | 'delete' = 'update') =>
      expect((await allocate(objectInvocation(change, { kind, name }))).kind).toBe('done');

    for (const name of ['a', 'b', 'c']) {
      await kube.port.create('IPAllocation', allocation(name, { poolName: 'pair' }));
      await run('IPAllocation', name);
    }
    await run('IPAllocation', 'c'); // decided again, fails again: counted again
    await kube.port.create('IPAllocation', allocation('d', { address: '198.51.100.99' }));
    await run('IPAllocation', 'd');
    let text = metrics.render();
    expect(sampleValue(text, ALLOCATION_FAILURES, { pool: 'pair', reason: 'PoolExhausted' })).toBe(2);
    expect(sampleValue(text, ALLOCATION_FAILURES, { pool: '', reason: 'AddressNotInPool' })).toBe(1);
    expect(sampleValue(text, ADDRESSES_TOTAL, { pool: 'pair' })).toBeUndefined(); // not recounted yet

    // each pool's recount tries the waiting allocations (c, d) again: every failed try counts
    await run('IPPool', 'pair');
    await run('IPPool', 'other');
    text = metrics.render();
    expect(sampleValue(text, ADDRESSES_TOTAL, { pool: 'pair', family: 'IPv4' })).toBe(2);
    expect(sampleValue(text, ADDRESSES_IN_USE, { pool: 'pair', family: 'IPv4' })).toBe(2);
    expect(sampleValue(text, ADDRESSES_TOTAL, { pool: 'other' })).toBe(4);
    expect(sampleValue(text, ADDRESSES_IN_USE, { pool: 'other' })).toBe(0);
    expect(sampleValue(text, ALLOCATION_FAILURES, { pool: 'pair', reason: 'PoolExhausted' })).toBe(4);
    expect(sampleValue(text, ALLOCATION_FAILURES, { pool: '', reason: 'AddressNotInPool' })).toBe(3);
    expect(sampleValue(text, ALLOCATION_FAILURES, { pool: 'other', reason: 'PoolExhausted' })).toBe(0);

    expect(sampleValue(text, ALLOCATIONS_FAILED, { pool: 'pair', reason: 'PoolExhausted' })).toBe(1);
    expect(sampleValue(text, ALLOCATIONS_FAILED, { pool: '', reason: 'AddressNotInPool' })).toBe(1);
    await kube.port.remove('IPAllocation', 'c');
    await run('IPAllocation', 'c', 'delete');
    expect(sampleValue(metrics.render(), ALLOCATIONS_FAILED, { pool: 'pair', reason: 'PoolExhausted' })).toBeUndefined();

    await kube.port.remove('IPPool', 'other');
    const deleting = IPPoolSchema.parse(await kube.port.get('IPPool', 'other'));
    await kube.port.replace('IPPool', { ...deleting, metadata: { ...deleting.metadata, finalizers: [] } }); // as release does
    expect(await kube.port.get('IPPool', 'other')).toBeUndefined();
    await run('IPPool', 'other', 'delete');
    text = metrics.render();
    expect(sampleValue(text, ADDRESSES_TOTAL, { pool: 'other' })).toBeUndefined();
    expect(sampleValue(text, ADDRESSES_TOTAL, { pool: 'pair' })).toBe(2);
  });
});

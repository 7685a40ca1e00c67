import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { IPAllocationSchema, IPPoolSchema } from '../../lib/k8s/schemas.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { ADDRESSES_IN_USE, ADDRESSES_TOTAL, ALLOCATION_FAILURES, ALLOCATIONS_FAILED, createPoolMetrics } from '../../lib/pool-metrics.js';
import { parseSamples, sampleValue } from '../../test/helpers/prom-text.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

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
    const kube = memoryPortAs('allocate', { now: NOW, objects: [pool('pair', ['192.0.2.10-192.0.2.11']), pool('other', ['198.51.100.0/30'])] });
    const metrics = createPoolMetrics();
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: memoryLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, metrics });
    const run = async (kind: 'IPPool' | 'IPAllocation', name: string, change: 'add' | 'update' | 'delete' = 'update') =>
      expect((await allocate(objectInvocation(change, { kind, name }))).kind).toBe('done');

    for (const name of ['a', 'b', 'c']) {
      await kube.admin.create('IPAllocation', allocation(name, { poolName: 'pair' }));
      await run('IPAllocation', name);
    }
    await run('IPAllocation', 'c'); // decided again, fails again: counted again
    await kube.admin.create('IPAllocation', allocation('d', { address: '198.51.100.99' }));
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
    await kube.admin.remove('IPAllocation', 'c');
    await run('IPAllocation', 'c', 'delete');
    expect(sampleValue(metrics.render(), ALLOCATIONS_FAILED, { pool: 'pair', reason: 'PoolExhausted' })).toBeUndefined();

    await kube.admin.remove('IPPool', 'other');
    const deleting = IPPoolSchema.parse(await kube.admin.get('IPPool', 'other'));
    await kube.admin.replace('IPPool', { ...deleting, metadata: { ...deleting.metadata, finalizers: [] } }); // as release does
    expect(await kube.admin.get('IPPool', 'other')).toBeUndefined();
    await run('IPPool', 'other', 'delete');
    text = metrics.render();
    expect(sampleValue(text, ADDRESSES_TOTAL, { pool: 'other' })).toBeUndefined();
    expect(sampleValue(text, ADDRESSES_TOTAL, { pool: 'pair' })).toBe(2);
  });

  it('serves no series of a deleted pool: pools created and deleted for weeks leave /metrics as it was', async () => {
    const kube = memoryPortAs('allocate', { now: NOW, objects: [pool('stays', ['192.0.2.0/30'])] });
    const metrics = createPoolMetrics();
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: memoryLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, metrics });
    const run = async (name: string, change: 'add' | 'update' | 'delete') =>
      expect((await allocate(objectInvocation(change, { kind: 'IPPool', name }))).kind).toBe('done');
    const series = () => parseSamples(metrics.render()).length;
    await run('stays', 'add');
    const baseline = series();

    for (let i = 0; i < 20; i++) {
      const name = `tenant-${i}`;
      await kube.admin.create('IPPool', pool(name, [`198.51.100.${i}`]));
      await run(name, 'add');
      // a failure counted under the pool while it existed: its one address is taken
      for (const a of ['first', 'second']) await kube.admin.create('IPAllocation', allocation(`${a}-${i}`, { poolName: name }));
      await run(name, 'update');
      expect(sampleValue(metrics.render(), ALLOCATION_FAILURES, { pool: name, reason: 'PoolExhausted' })).toBe(1);
      for (const a of ['first', 'second']) {
        await kube.admin.remove('IPAllocation', `${a}-${i}`);
        await allocate(objectInvocation('delete', { kind: 'IPAllocation', name: `${a}-${i}` }));
      }
      await kube.admin.remove('IPPool', name);
      const deleting = IPPoolSchema.parse(await kube.admin.get('IPPool', name));
      await kube.admin.replace('IPPool', { ...deleting, metadata: { ...deleting.metadata, finalizers: [] } }); // as release does
      await run(name, 'delete');
    }
    expect(parseSamples(metrics.render()).filter((s) => s.labels.pool?.startsWith('tenant-'))).toEqual([]);
    expect(series()).toBe(baseline);
  });
});

describe('allocate: the optional family of a PreferDualStack Service', () => {
  const v4 = { ...pool('v4', ['192.0.2.0/28']), spec: { ...pool('v4', ['192.0.2.0/28']).spec, autoAssign: true } };
  const service = (name: string, ipFamilyPolicy: string, ipFamilies: string[]) => ({
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop' },
    spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilyPolicy, ipFamilies, ports: [{ port: 80, protocol: 'TCP' }] },
  });

  /**
   * Without an IPv6 pool, a PreferDualStack Service is ready on IPv4 (SecondaryFamilyUnavailable):
   * its IPv6 allocation fails by design, and counted as failing it fired MikroLBAllocationsFailing
   * for a healthy Service. A RequireDualStack Service without IPv6 is not ready: it counts.
   */
  it('is not counted as failing, nor as a failure; the required second family of RequireDualStack is', async () => {
    const kube = memoryPortAs('allocate', { now: NOW, objects: [v4, service('prefer', 'PreferDualStack', ['IPv4', 'IPv6']), service('v6first', 'PreferDualStack', ['IPv6', 'IPv4']), service('require', 'RequireDualStack', ['IPv4', 'IPv6'])] });
    const metrics = createPoolMetrics();
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: memoryLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, metrics });
    for (const name of ['prefer', 'v6first', 'require']) {
      expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name }))).kind).toBe('done');
    }
    // a pool's recount lists the unsettled allocations and tries the failed ones again; so does a resync
    expect((await allocate(objectInvocation('update', { kind: 'IPPool', name: 'v4' }))).kind).toBe('done');
    expect((await allocate({ type: 'resync', id: 'r1', source: 'test' })).kind).toBe('done');
    const phases = (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o)).map((a) => `${a.metadata.labels?.['mikrolb.de/service-name'] ?? ''}/${a.spec.ipFamily ?? ''}:${a.status?.phase ?? ''}`).sort();
    expect(phases).toEqual(['prefer/IPv4:Allocated', 'prefer/IPv6:Failed', 'require/IPv4:Allocated', 'require/IPv6:Failed', 'v6first/IPv4:Allocated', 'v6first/IPv6:Failed']);
    const text = metrics.render();
    // only require's IPv6 allocation (v6first's IPv6 is its first family: required, and failing too)
    expect(sampleValue(text, ALLOCATIONS_FAILED, { pool: '', reason: 'PoolExhausted' })).toBe(2);
    // require's and v6first's IPv6 allocations, each decided four times (the Service; the pool's
    // recount; the resync, once as its Service and once by the pool's recount)
    expect(sampleValue(text, ALLOCATION_FAILURES, { pool: '', reason: 'PoolExhausted' })).toBe(8);
  });
});

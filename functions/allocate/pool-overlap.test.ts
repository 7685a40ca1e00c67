import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { poolMirror } from '../../lib/k8s/mirror.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { IPPoolSchema, type IPPool } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { ADDRESSES_TOTAL, createPoolMetrics } from '../../lib/pool-metrics.js';
import { sampleValue } from '../../test/helpers/prom-text.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A pool's status depends on the older pools overlapping it (they own the shared addresses):
 * when a pool's spec changes, or the pool goes, the invocation that records it refreshes the
 * other pools too, at once rather than at the next resync — writing only those whose status
 * changed.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const pool = (name: string, created: string, addresses: string[], ipFamily = 'IPv4') => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name, creationTimestamp: created },
  spec: { ipFamily, addresses, autoAssign: false, avoidBuggyIPs: false, advertise: false },
});
const reservation = (name: string, address: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name, uid: `uid-${name}` }, spec: { address },
});
const LAN = pool('lan', '2025-01-01T00:00:00Z', ['192.0.2.0/28']);
const LAN2 = pool('lan2', '2025-02-01T00:00:00Z', ['192.0.2.8/29']);
const V6 = pool('v6', '2025-03-01T00:00:00Z', ['2001:db8::/126'], 'IPv6');

/** The status writes of each pool (by name) the port took, and those it refused. */
function recordingStatusWrites(port: KubePort, into: string[], refused: string[]): KubePort {
  return {
    ...port,
    replaceStatus: async (kind, obj) => {
      const out = await port.replaceStatus(kind, obj).catch((e: unknown) => {
        if (kind === 'IPPool') refused.push(obj.metadata.name);
        throw e;
      });
      if (kind === 'IPPool') into.push(obj.metadata.name);
      return out;
    },
  };
}

async function setup(objects: unknown[]) {
  const kube = memoryPortAs('allocate', { now: NOW, objects });
  const writes: string[] = [];
  const refused: string[] = [];
  const metrics = createPoolMetrics();
  // the pools as a watch in the same process sees them: kept current by the test's `mirror`
  const pools = poolMirror();
  const relist = pools.relist();
  relist.page(await kube.admin.list('IPPool'));
  relist.finish();
  const allocate = createAllocate({
    kube: recordingStatusWrites(kube.port, writes, refused), now: NOW, log: silentLogger(), retry: { attempts: 3, pause: async () => undefined },
    classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, metrics, pools,
  });
  /** The watch catches up with the named pools (all when none is named). */
  const mirror = async (...names: string[]) => {
    const listed = await kube.admin.list('IPPool');
    if (names.length === 0) {
      const again = pools.relist();
      again.page(listed);
      again.finish();
      return;
    }
    for (const p of listed) if (names.includes(IPPoolSchema.parse(p).metadata.name)) pools.seen(p);
  };
  const run = async (kind: 'IPPool' | 'IPAllocation', name: string, change: 'add' | 'update' | 'delete' = 'update') => {
    await mirror();
    expect(await allocate(objectInvocation(change, { kind, name }))).toMatchObject({ kind: 'done' });
  };
  const read = async (name: string): Promise<IPPool> => IPPoolSchema.parse(await kube.admin.get('IPPool', name));
  const condition = async (name: string, type: string) => (await read(name)).status?.conditions?.find((c) => c.type === type);
  const counts = async (name: string) => {
    const s = (await read(name)).status;
    return { total: s?.totalAddresses, allocated: s?.allocatedAddresses, free: s?.freeAddresses };
  };
  const respec = async (name: string, addresses: string[]) => {
    const p = await read(name);
    await kube.admin.replace('IPPool', { ...p, spec: { ...p.spec, addresses } });
  };
  /** Every pool's status recorded, as after a resync: nothing left to refresh. */
  const settle = async (): Promise<string[]> => {
    await mirror();
    await allocate({ type: 'resync', id: 'settle', source: 'test' });
    await mirror();
    refused.length = 0;
    return writes.splice(0).sort();
  };
  const gauge = (name: string) => sampleValue(metrics.render(), ADDRESSES_TOTAL, { pool: name });
  return { kube, writes, refused, allocate, mirror, run, read, condition, counts, respec, settle, gauge };
}

describe('allocate: a pool change refreshes the pools it overlaps', () => {
  it('a younger pool inside an older one that shrank owns its addresses at once: Ready Valid, no overlap, its real counts', async () => {
    const t = await setup([LAN, LAN2, V6]);
    await t.settle();
    expect(await t.condition('lan2', 'Ready')).toMatchObject({ status: 'False', reason: 'NoOwnedAddresses' });
    expect(await t.condition('lan2', 'Overlapping')).toMatchObject({ status: 'True', reason: 'OverlapsOlderPool' });
    expect(await t.counts('lan2')).toEqual({ total: '0', allocated: '0', free: '0' });

    await t.respec('lan', ['192.0.2.0/29']);
    await t.run('IPPool', 'lan');

    expect(await t.condition('lan2', 'Ready')).toMatchObject({ status: 'True', reason: 'Valid' });
    expect(await t.condition('lan2', 'Overlapping')).toMatchObject({ status: 'False', reason: 'NoOverlap' });
    expect(await t.counts('lan2')).toEqual({ total: '8', allocated: '0', free: '8' });
    expect(t.gauge('lan2')).toBe(8);
    expect(await t.counts('lan')).toEqual({ total: '8', allocated: '0', free: '8' });
    // the pool of the other family is not written, nor is anything written twice
    expect(t.writes.sort()).toEqual(['lan', 'lan2']);
  });

  it('a younger pool inside an older one that went owns its addresses at once', async () => {
    const t = await setup([LAN, LAN2, V6]);
    await t.settle();
    await t.kube.admin.remove('IPPool', 'lan');
    // release takes the finalizer off once no allocation holds an address of it
    const deleting = await t.read('lan');
    expect(deleting.metadata.deletionTimestamp).toBeDefined();
    await t.kube.admin.replace('IPPool', { ...deleting, metadata: { ...deleting.metadata, finalizers: [] } });
    expect(await t.kube.admin.get('IPPool', 'lan')).toBeUndefined();
    t.writes.length = 0;

    await t.run('IPPool', 'lan', 'delete');

    expect(await t.condition('lan2', 'Ready')).toMatchObject({ status: 'True', reason: 'Valid' });
    expect(await t.condition('lan2', 'Overlapping')).toMatchObject({ status: 'False', reason: 'NoOverlap' });
    expect(await t.counts('lan2')).toEqual({ total: '8', allocated: '0', free: '8' });
    expect(t.gauge('lan2')).toBe(8);
    expect(t.writes).toEqual(['lan2']);
  });

  it('a younger pool an older one grew over counts fewer addresses at once, and says what overlaps', async () => {
    const t = await setup([pool('lan', '2025-01-01T00:00:00Z', ['192.0.2.0/29']), LAN2, V6, reservation('kept', '192.0.2.14')]);
    await t.run('IPAllocation', 'kept');
    await t.settle();
    expect(await t.counts('lan2')).toEqual({ total: '8', allocated: '1', free: '7' });
    expect(await t.condition('lan2', 'Overlapping')).toMatchObject({ status: 'False' });

    await t.respec('lan', ['192.0.2.0-192.0.2.11']);
    await t.run('IPPool', 'lan');

    expect(await t.counts('lan2')).toEqual({ total: '4', allocated: '1', free: '3' });
    expect(t.gauge('lan2')).toBe(4);
    expect(await t.condition('lan2', 'Overlapping')).toMatchObject({ status: 'True', reason: 'OverlapsOlderPool', message: 'Never hands out 192.0.2.8-192.0.2.11 also in older pool lan.' });
    expect(await t.condition('lan2', 'Ready')).toMatchObject({ status: 'True', reason: 'Valid' });
    expect(t.writes.sort()).toEqual(['lan', 'lan2']);
  });

  it('a claim taken or freed in a pool whose spec is recorded refreshes that pool alone', async () => {
    const t = await setup([LAN, LAN2, V6]);
    await t.settle();
    await t.kube.admin.create('IPAllocation', reservation('r', '192.0.2.3'));
    await t.run('IPAllocation', 'r');
    t.writes.length = 0;
    await t.run('IPPool', 'lan'); // the claim's event, as the bridge sends it
    expect(t.writes).toEqual(['lan']);
    expect(await t.counts('lan')).toEqual({ total: '16', allocated: '1', free: '15' });
  });

  it('a resync after a pool changed writes each pool once, and then nothing', async () => {
    const t = await setup([LAN, LAN2, V6]);
    await t.settle();
    await t.respec('lan', ['192.0.2.0/29']);
    expect(await t.settle()).toEqual(['lan', 'lan2']);
    expect(await t.condition('lan2', 'Ready')).toMatchObject({ status: 'True', reason: 'Valid' });
    expect(await t.settle()).toEqual([]);
    await t.run('IPPool', 'lan');
    await t.run('IPPool', 'lan2');
    await t.run('IPPool', 'v6');
    expect(t.writes).toEqual([]);
  });

  it('a pool whose own new spec is not recorded yet is left to its own run (which checks its holders)', async () => {
    const t = await setup([LAN, LAN2, V6]);
    await t.settle();
    await t.respec('lan2', ['192.0.2.8/30']);
    const before = await t.read('lan2');
    await t.respec('lan', ['192.0.2.0/29']);
    await t.run('IPPool', 'lan');
    expect(t.writes).toEqual(['lan']);
    expect((await t.read('lan2')).status).toEqual(before.status);

    await t.run('IPPool', 'lan2');
    expect(t.writes).toEqual(['lan', 'lan2']);
    expect(await t.condition('lan2', 'Ready')).toMatchObject({ status: 'True', reason: 'Valid' });
    expect(await t.counts('lan2')).toEqual({ total: '4', allocated: '0', free: '4' });
  });

  it('a pool the watch’s copy shows stale is written after reading it again (its resourceVersion is the precondition)', async () => {
    const t = await setup([LAN, LAN2, V6]);
    await t.settle();
    const lan2 = await t.read('lan2');
    await t.kube.admin.replace('IPPool', { ...lan2, metadata: { ...lan2.metadata, labels: { team: 'net' } } });
    await t.respec('lan', ['192.0.2.0/29']);
    await t.mirror('lan'); // the watch has seen lan's change, not yet lan2's
    expect(await t.allocate(objectInvocation('update', { kind: 'IPPool', name: 'lan' }))).toMatchObject({ kind: 'done' });
    expect(t.refused).toEqual(['lan2']);
    expect(t.writes).toEqual(['lan2', 'lan']);

    const now = await t.read('lan2');
    expect(now.metadata.labels).toEqual({ team: 'net' });
    expect(now.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'Valid' });
    expect(await t.counts('lan2')).toEqual({ total: '8', allocated: '0', free: '8' });
  });
});

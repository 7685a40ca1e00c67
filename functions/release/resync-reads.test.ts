import { describe, expect, it } from 'vitest';
import { resyncInvocation } from '../../lib/events/cloudevent.js';
import type { RouterPort } from '../../lib/router/port.js';
import { createRelease } from './handler.js';
import { COMMON, counting, programmedServices, type Cost } from './test-support.js';

/**
 * Services deleted while the controller was down (held by our finalizer), and their pool
 * deleted with them: one resync of release takes them all apart. Each Service costs its own
 * reads and writes; the lists of whole kinds, the reads of the whole router and the looks at the
 * pool are shared (gc-reads.test.ts proves the same for Services gone for good): a look at the
 * pool after each freed allocation listed every allocation (N Services: N lists of N), and each
 * Service's router entries were taken off from a whole read of its own.
 */

/** N Services allocated and programmed, then deleted but the first `live` (and, `poolDeleted`, their pool first). */
async function deleted(n: number, poolDeleted: boolean, live = 0) {
  const { kube, router } = await programmedServices(n);
  if (poolDeleted) await kube.admin.remove('IPPool', 'lan');
  for (let i = live; i < n; i++) await kube.admin.remove('Service', `web-${i}`, 'shop');
  return { kube, router };
}

/** What one resync of release costs after `deleted`. */
async function resync(n: number, poolDeleted: boolean, live = 0): Promise<Cost> {
  const { kube, router } = await deleted(n, poolDeleted, live);
  const counted = counting(kube.port, router);
  const release = createRelease({ ...COMMON, kube: counted.kube, router: counted.router, claimGraceMs: 60_000 });
  expect((await release(resyncInvocation())).kind).toBe('done');

  // everything of the deleted Services went, and the pool with them once nothing held it
  expect(await kube.admin.list('Service')).toHaveLength(live);
  expect(await kube.admin.list('IPAllocation')).toHaveLength(live);
  expect(await kube.admin.list('IPAddressClaim')).toHaveLength(live);
  expect(await kube.admin.list('IPPool')).toHaveLength(poolDeleted && live === 0 ? 0 : 1);
  expect(Object.values(router.state().menus).flat().filter((e) => e.comment?.includes(':svc=') && !e.comment.includes(':svc=uid-web-0'))).toEqual([]);
  return counted.cost;
}

describe('a resync releasing many Services deleted while the controller was down', () => {
  it('looks at their pool being deleted a fixed number of times, whatever the number of Services', async () => {
    const few = await resync(1, true);
    const many = await resync(20, true);
    expect(many.wholeLists).toBe(few.wholeLists);
  });

  it('reads the router whole a fixed number of times, whatever the number of Services', async () => {
    const few = await resync(1, false);
    const many = await resync(20, false);
    expect({ wholeLists: many.wholeLists, routerReads: many.routerReads }).toEqual({ wholeLists: few.wholeLists, routerReads: few.routerReads });
    // per Service: its own reads and writes (the Service, its allocation, its claim, their finalizers), a few each
    expect((many.requests - few.requests) / 19).toBeLessThanOrEqual(8);
  });

  it('keeps the pool (and its finalizer) while a Service that lives on holds one of its addresses', async () => {
    await resync(20, true, 1); // asserts the pool is still there, with the live Service's allocation and claim
  });

  it('keeps every Service, allocation and claim while the router cannot be read', async () => {
    const { kube, router } = await deleted(3, false);
    const down: RouterPort = { ...router, readMany: () => Promise.reject(new Error('connection refused')) };
    const release = createRelease({ ...COMMON, kube: kube.port, router: down, claimGraceMs: 60_000 });
    expect((await release(resyncInvocation())).kind).toBe('retry');
    expect(await kube.admin.list('Service')).toHaveLength(3);
    expect(await kube.admin.list('IPAllocation')).toHaveLength(3);
    expect(await kube.admin.list('IPAddressClaim')).toHaveLength(3);
  });
});

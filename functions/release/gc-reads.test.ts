import { describe, expect, it } from 'vitest';
import { withoutFinalizer } from '../../lib/k8s/finalizer.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { resyncInvocation } from '../../lib/events/cloudevent.js';
import { createRelease } from './handler.js';
import { COMMON, counting, programmedServices, type Cost } from './test-support.js';

/**
 * After a mass deletion that release never saw (the Services' finalizers taken off by hand, or
 * the controller down while they went), one resync collects every allocation left behind, or
 * releases those found being deleted. Each costs its own reads and writes; the lists of whole
 * kinds and of their claims and the reads of the whole router are shared: a list of every
 * Service, allocation and router entry per allocation cost O(N²) (1,000 orphans: 2,000 lists of
 * 1,000 objects and 1,000 reads of 1,000 Services' entries), and each listed its own claims.
 */

/**
 * N Services allocated and programmed, then deleted with their finalizers taken off by hand (and,
 * `allocationsDeleted`, their allocations deleted too, held by our finalizer): what one resync of
 * release costs.
 */
async function collect(n: number, allocationsDeleted = false): Promise<Cost> {
  const { kube, router } = await programmedServices(n);
  expect((router.state().menus['/ip/address'] ?? []).filter((e) => e.comment?.startsWith('mikrolb:'))).toHaveLength(n);
  for (let i = 0; i < n; i++) {
    const svc = ServiceSchema.parse(await kube.admin.get('Service', `web-${i}`, 'shop'));
    await kube.admin.replace('Service', withoutFinalizer(svc));
    await kube.admin.remove('Service', `web-${i}`, 'shop');
  }
  if (allocationsDeleted) for (const a of await kube.admin.list('IPAllocation')) await kube.admin.remove('IPAllocation', IPAllocationSchema.parse(a).metadata.name);

  const counted = counting(kube.port, router);
  const release = createRelease({ ...COMMON, kube: counted.kube, router: counted.router, claimGraceMs: 60_000 });
  const outcome = await release(resyncInvocation());
  expect(outcome.kind).toBe('done');

  // everything of the Services went: allocations, claims, router entries
  expect(await kube.admin.list('IPAllocation')).toEqual([]);
  expect(await kube.admin.list('IPAddressClaim')).toEqual([]);
  const ours = Object.values(router.state().menus).flat().filter((e) => e.comment?.includes(':svc='));
  expect(ours).toEqual([]);
  return counted.cost;
}

describe('a resync collecting many orphaned allocations', () => {
  it.each([
    ['left as they were', false],
    ['being deleted', true],
  ])('lists each kind (the claims too) and reads the router a fixed number of times, whatever the number of orphans (allocations %s)', async (_, deleted) => {
    const few = await collect(5, deleted);
    const many = await collect(50, deleted);
    const shared = (c: Cost): Omit<Cost, 'requests'> => ({ wholeLists: c.wholeLists, routerReads: c.routerReads, selectedClaimLists: c.selectedClaimLists });
    expect(shared(many)).toEqual(shared(few));
    // per orphan: its own reads and writes (the allocation, its claim, its finalizer), a few each
    expect((many.requests - few.requests) / 45).toBeLessThanOrEqual(7);
  });
});

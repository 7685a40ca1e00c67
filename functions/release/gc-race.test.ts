import { describe, expect, it } from 'vitest';
import { resyncInvocation } from '../../lib/events/cloudevent.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import type { RouterPort } from '../../lib/router/port.js';
import type { RouterState } from '../../lib/router/state.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createRelease } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * The resync's garbage collection judges an object gone only by lists taken after the object
 * was read. A Service created while the resync runs (allocated and programmed at once, as a new
 * Service is) keeps its allocation and its router entries (chaos, seed 99991: the Services were
 * listed before the allocations, and a new Service's allocation was collected).
 */
const NOW = () => new Date('2026-01-01T01:00:00Z');
const ADDRESS = '192.0.2.20';
const CLASS = 'mikrolb.de/controller';

const routerSeed = (): RouterState => ({ version: '7.19.1', menus: { '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }], '/ip/address': [] } });

/** A new Service of ours and its allocation, holding ADDRESS, as allocate leaves them. */
async function createService(kube: KubePort): Promise<string> {
  const svc = ServiceSchema.parse(await kube.create('Service', {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default', finalizers: ['mikrolb.de/finalizer'] },
    spec: { type: 'LoadBalancer', loadBalancerClass: CLASS, ports: [{ port: 80, protocol: 'TCP' }] },
  }));
  const uid = svc.metadata.uid ?? '';
  const created = IPAllocationSchema.parse(await kube.create('IPAllocation', {
    apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
    metadata: { name: 'ip-web', finalizers: ['mikrolb.de/finalizer'], labels: { 'mikrolb.de/service-namespace': 'default', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': uid } },
    spec: { ipFamily: 'IPv4' },
  }));
  await kube.replaceStatus('IPAllocation', { ...created, status: { phase: 'Programmed', address: ADDRESS, advertised: true } });
  return uid;
}

async function resync(kube: KubePort, router: RouterPort): Promise<void> {
  const release = createRelease({
    kube, router, classes: { loadBalancerClass: CLASS, defaultClass: false },
    now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, claimGraceMs: 60_000,
  });
  expect((await release(resyncInvocation())).kind).toBe('done');
}

/**
 * Runs a resync that creates the Service (its allocation, its router entry) just before its
 * `at`-th request (a list of the cluster or a read of the router, counted together). Resolves
 * with whether the creation happened (false once `at` is past the resync's last request).
 */
async function raced(at: number): Promise<{ happened: boolean; allocation: unknown; entries: (string | undefined)[]; comment: string }> {
  const kube = memoryPortAs('release', { now: NOW });
  const router = memoryRouter(routerSeed());
  let requests = 0;
  let comment = '';
  const before = async (): Promise<void> => {
    if (requests++ !== at) return;
    const uid = await createService(kube.admin);
    comment = `mikrolb:default:svc=${uid}:adv:${ADDRESS}`;
    router.state().menus['/ip/address']?.push({ '.id': '*20', address: `${ADDRESS}/32`, interface: 'ether1', comment });
  };
  const racingKube: KubePort = { ...kube.port, list: async (kind, opts) => (await before(), kube.port.list(kind, opts)) };
  const racingRouter: RouterPort = { ...router, readMany: async (menus) => (await before(), router.readMany(menus)) };
  await resync(racingKube, racingRouter);
  return { happened: comment !== '', allocation: await kube.admin.get('IPAllocation', 'ip-web'), entries: (router.state().menus['/ip/address'] ?? []).map((e) => e.comment), comment };
}

describe('garbage collection racing a new Service', () => {
  it('keeps the allocation and the router entry of a Service created before any of its requests', async () => {
    let at = 0;
    for (; ; at++) {
      const got = await raced(at);
      if (!got.happened) break;
      const a = got.allocation === undefined ? undefined : IPAllocationSchema.parse(got.allocation);
      expect({ at, present: a !== undefined, deleting: a?.metadata.deletionTimestamp, address: a?.status?.address, entries: got.entries })
        .toEqual({ at, present: true, deleting: undefined, address: ADDRESS, entries: [got.comment] });
    }
    // the resync listed Services, allocations, pools, claims and read the router: every gap was tried
    expect(at).toBeGreaterThan(5);
  });
});

import { describe, expect, it } from 'vitest';
import { resyncInvocation } from '../../lib/events/cloudevent.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import type { RouterState } from '../../lib/router/state.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createRelease } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A Service whose finalizer someone took off by hand (`kubectl edit`) and that then stopped
 * being ours (its type changed to ClusterIP, or another loadBalancerClass) reaches no release:
 * release acts on a Service with our finalizer, and the garbage collection kept the
 * allocations of every Service that exists. Its IPAllocations and their claims stood for as
 * long as the Service lived, their addresses lost to every other Service. The collection now
 * takes the allocations of a Service that is neither ours nor carries our finalizer.
 */
const NOW = () => new Date('2026-01-01T01:00:00Z');
const CLASS = 'mikrolb.de/controller';
const ADDRESS = '192.0.2.20';
const routerSeed = (): RouterState => ({ version: '7.19.1', menus: { '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }], '/ip/address': [] } });

/** A Service as allocate and program left it, then edited by hand: `spec` replaces its spec, `finalizers` its finalizers. */
async function seed(kube: KubePort, spec: Record<string, unknown>, finalizers: string[]): Promise<string> {
  const svc = ServiceSchema.parse(await kube.create('Service', {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default', finalizers },
    spec: { ports: [{ port: 80, protocol: 'TCP' }], ...spec },
  }));
  const uid = svc.metadata.uid ?? '';
  const created = IPAllocationSchema.parse(await kube.create('IPAllocation', {
    apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
    metadata: { name: 'ip-web', finalizers: ['mikrolb.de/finalizer'], labels: { 'mikrolb.de/service-namespace': 'default', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': uid } },
    spec: { ipFamily: 'IPv4' },
  }));
  await kube.replaceStatus('IPAllocation', { ...created, status: { phase: 'Programmed', address: ADDRESS, advertised: true } });
  await kube.create('IPAddressClaim', {
    apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: ADDRESS, labels: { 'mikrolb.de/pool': 'lan', 'mikrolb.de/allocation-uid': created.metadata.uid ?? '' } },
    spec: { address: ADDRESS, poolName: 'lan', allocationName: 'ip-web', allocationUID: created.metadata.uid ?? '' },
  });
  return uid;
}

async function resync(spec: Record<string, unknown>, finalizers: string[] = []) {
  const kube = memoryPortAs('release', { now: NOW });
  const uid = await seed(kube.admin, spec, finalizers);
  const router = memoryRouter(routerSeed());
  router.state().menus['/ip/address']?.push({ '.id': '*20', address: `${ADDRESS}/32`, interface: 'ether1', comment: `mikrolb:default:svc=${uid}:adv:${ADDRESS}` });
  const release = createRelease({
    kube: kube.port, router, classes: { loadBalancerClass: CLASS, defaultClass: false },
    now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, claimGraceMs: 60_000,
  });
  expect((await release(resyncInvocation())).kind).toBe('done');
  return {
    allocation: await kube.admin.get('IPAllocation', 'ip-web'),
    claim: await kube.admin.get('IPAddressClaim', ADDRESS),
    entries: (router.state().menus['/ip/address'] ?? []).length,
  };
}

describe('the resync of a Service whose finalizer was taken off by hand', () => {
  it.each([
    ['changed to ClusterIP', { type: 'ClusterIP' }],
    ['given to another load balancer class', { type: 'LoadBalancer', loadBalancerClass: 'example.com/other' }],
  ])('collects its allocations and frees their addresses once it is no longer ours: %s', async (_what, spec) => {
    expect(await resync(spec)).toEqual({ allocation: undefined, claim: undefined, entries: 0 });
  });

  it('keeps them while it is ours (allocate puts the finalizer back)', async () => {
    const got = await resync({ type: 'LoadBalancer', loadBalancerClass: CLASS });
    expect(got.allocation).toBeDefined();
    expect(got.claim).toBeDefined();
    expect(got.entries).toBe(1);
  });
});

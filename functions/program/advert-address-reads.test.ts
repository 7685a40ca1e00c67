import { describe, expect, it } from 'vitest';
import { prepareGlobals } from '../../lib/core/router-program.js';
import { allocationName } from '../../lib/core/service.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import type { IPFamily } from '../../lib/ip/index.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { advertisementEntry } from '../../lib/router/index.js';
import { client as openClient, sim as startSim } from '../../lib/routeros/client/test-support.js';
import type { RouterEntry, RouterState } from '../../lib/router/state.js';
import { createProgram } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A Service whose pool names no interface is advertised on the interface of its address's
 * network. Finding it once read the whole `/ip/address` (`/ipv6/address`): with every other
 * Service's advertisement in it, one Service's program cost O(N) entries and N Services' O(N²).
 * It reads only the entries that can concern its address: what a program costs the router is
 * the same beside 10 or 1,000 other Services, and the router's own address and another
 * cluster's advertisement of it are still refused.
 */

const UID = '7e5a0000-0000-4000-8000-000000000001';
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const NOW = () => new Date('2026-01-01T00:00:00Z');

const NET = {
  IPv4: { menu: '/ip/address', pool: '192.0.2.0/24', router: '192.0.2.1/24', lb: '192.0.2.15', other: (i: number) => `198.18.${i >> 8}.${i & 255}` },
  IPv6: { menu: '/ipv6/address', pool: '2001:db8:1::/64', router: '2001:db8:1::1/64', lb: '2001:db8:1::15', other: (i: number) => `2001:db8:ff::${(i + 1).toString(16)}` },
} as const;

const otherUid = (i: number): string => `7e5a0000-0000-4000-8000-${String(i + 100).padStart(12, '0')}`;

function objects(family: IPFamily, address: string) {
  const alloc = allocationName(UID, { address });
  return [
    { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', uid: 'pool-uid', resourceVersion: '1', generation: 1 },
      spec: { ipFamily: family, addresses: [NET[family].pool], autoAssign: true, avoidBuggyIPs: true, advertise: true } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'dns', namespace: 'tenant-a', uid: UID, resourceVersion: '2', generation: 1, finalizers: ['mikrolb.de/finalizer'],
      annotations: { 'mikrolb.de/load-balancer-ips': address } },
      spec: { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass, ipFamilies: [family], ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }] } },
    { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: alloc, uid: 'alloc-uid', resourceVersion: '4', generation: 1, finalizers: ['mikrolb.de/finalizer'],
      labels: { 'mikrolb.de/service-namespace': 'tenant-a', 'mikrolb.de/service-name': 'dns', 'mikrolb.de/service-uid': UID } },
      spec: { address }, status: { phase: 'Allocated', address, advertised: false } },
  ];
}

/** The router: its own address on ether1 (the pool's network), `others` other Services' advertisements, and `extra` entries. */
function router(family: IPFamily, others: number, extra: RouterEntry[] = []): RouterState {
  const adverts = Array.from({ length: others }, (_, i) => ({ ...advertisementEntry({ serviceUid: otherUid(i), family, address: NET[family].other(i), interfaceName: 'ether1' }).entry }));
  return {
    version: '7.19.1',
    menus: {
      '/interface': [{ name: 'ether1', type: 'ether' }, { name: 'ether2', type: 'ether' }],
      [NET[family].menu]: [{ address: NET[family].router, interface: 'ether1' }, ...adverts, ...extra],
    },
  };
}

async function setup(family: IPFamily, others: number, opts: { address?: string; extra?: RouterEntry[] } = {}) {
  const address = opts.address ?? NET[family].lb;
  const sim = await startSim({ initialState: router(family, others, opts.extra) });
  const client = openClient(sim, { timeoutMs: 10_000 });
  // the other Services made the global rules long ago
  await prepareGlobals(client, [family]);
  const kube = memoryPortAs('program', { objects: objects(family, address), now: NOW });
  const program = createProgram({ kube: kube.port, router: client, classes: CLASSES, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined } });
  const run = () => program(objectInvocation('update', { kind: 'Service', namespace: 'tenant-a', name: 'dns' }));
  const allocation = async () => IPAllocationSchema.parse(await kube.admin.get('IPAllocation', allocationName(UID, { address })));
  return { sim, run, allocation, address };
}

/** What one program of the Service costs the router: the sentences and bytes it sends back. */
async function cost(family: IPFamily, others: number): Promise<{ sentences: number; bytes: number; advertisedOn: string | undefined }> {
  const c = await setup(family, others);
  const before = c.sim.stats;
  expect((await c.run()).kind).toBe('done');
  const after = c.sim.stats;
  const a = await c.allocation();
  expect(a.status?.phase).toBe('Programmed');
  return { sentences: after.sentencesSent - before.sentencesSent, bytes: after.bytesSent - before.bytesSent, advertisedOn: a.status?.interfaceName };
}

describe('program of a Service whose pool names no interface', () => {
  it.each(['IPv4', 'IPv6'] as const)('%s: costs the router the same beside 10 or 1,000 other Services', async (family) => {
    const few = await cost(family, 10);
    const many = await cost(family, 1_000);
    expect(few.advertisedOn).toBe('ether1');
    expect(many.advertisedOn).toBe('ether1');
    expect(many.sentences).toBe(few.sentences);
    // ids of entries grow by a digit or two among 1,000 others
    expect(many.bytes).toBeLessThan(few.bytes * 1.05);
  }, 30_000);

  it.each(['IPv4', 'IPv6'] as const)("%s: the router's own address is still refused, with 1,000 other Services on the router", async (family) => {
    const c = await setup(family, 1_000, { address: NET[family].router.split('/')[0] });
    expect((await c.run()).kind).toBe('done');
    expect((await c.allocation()).status?.conditions?.find((x) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'AddressInUseByRouter' });
  }, 30_000);

  it.each(['IPv4', 'IPv6'] as const)("%s: another cluster's advertisement of the address is still refused", async (family) => {
    const entry = advertisementEntry({ serviceUid: otherUid(5000), family, address: NET[family].lb, interfaceName: 'ether2' }).entry;
    const theirs: RouterEntry = { ...entry, comment: entry.comment.replace('mikrolb:default:', 'mikrolb:other:') };
    const c = await setup(family, 1_000, { extra: [theirs] });
    expect((await c.run()).kind).toBe('done');
    const ready = (await c.allocation()).status?.conditions?.find((x) => x.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'AddressInUseByRouter' });
    expect(ready?.message).toContain('added by the MikroLB of cluster "other"');
  }, 30_000);
});

import { describe, expect, it } from 'vitest';
import { allocationName } from '../../lib/core/service.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { claimNameOf } from '../../lib/k8s/claims.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { client as openClient, sim as startSim } from '../../lib/routeros/client/test-support.js';
import type { RouterState } from '../../lib/router/state.js';
import { createTracer } from '../../test/tracer/index.js';
import { LAN_ROUTER, lanServiceObjects, memoryPortAs } from '../test-support.js';
import { createProgram } from './handler.js';

/**
 * An allocation whose address changes in place (allocate moved it: a pool's or a namespace's
 * scope changed, or the router holds the address) leaves no entry of the old address behind:
 * program reads the entries of the addresses the Service last published, so they go in the
 * same run, and the address's next holder is not refused (`already have such entry`; chaos,
 * seed 4140000, where such entries stood until the resync).
 */

const UID = '7e5a0000-0000-4000-8000-0000000000bb';
const NOW = () => new Date('2026-01-01T00:00:00Z');
const NAME = allocationName(UID, { ipFamily: 'IPv4' });

const claim = (address: string, uid: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: claimNameOf(address) ?? '' },
  spec: { address, poolName: 'lan', allocationName: NAME, allocationUID: uid },
});

async function setup(interfaceName: string | undefined) {
  const sim = await startSim({ initialState: LAN_ROUTER });
  const client = openClient(sim, { timeoutMs: 5000 });
  const kube = memoryPortAs('program', {
    now: NOW,
    objects: lanServiceObjects({
      uid: UID, namespace: 'shop', name: 'web', port: { name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 },
      pool: { addresses: ['192.0.2.10-192.0.2.20'], ...(interfaceName ? { interfaceName } : {}) },
    }),
  });
  const made = IPAllocationSchema.parse(await kube.admin.create('IPAllocation', {
    apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
    metadata: { name: NAME, finalizers: ['mikrolb.de/finalizer'], labels: { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': UID } },
    spec: { ipFamily: 'IPv4' },
  }));
  const uid = made.metadata.uid ?? '';
  const allocated = async (address: string, formerAddresses?: string[]) => {
    const a = IPAllocationSchema.parse(await kube.admin.get('IPAllocation', NAME));
    await kube.admin.replaceStatus('IPAllocation', { ...a, status: { phase: 'Allocated', address, advertised: false, ...(formerAddresses ? { formerAddresses } : {}), observedGeneration: a.metadata.generation } });
  };
  const status = async () => IPAllocationSchema.parse(await kube.admin.get('IPAllocation', NAME)).status;
  const program = createProgram({ kube: kube.port, router: client, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined } });
  const run = async () => (await program(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind;
  const ingress = async () => ServiceSchema.parse(await kube.admin.get('Service', 'web', 'shop')).status?.loadBalancer?.ingress?.map((i) => i.ip);
  /** Our entries that name the address anywhere (comment or value). */
  const entriesOf = (address: string) => Object.values(sim.state().menus).flat()
    .filter((e) => e.comment?.startsWith('mikrolb:') && Object.values(e).some((v) => v === address || v.startsWith(`${address}/`) || v.endsWith(`:${address}`)));
  /** The allocation holds `address` and program's run for it fails half-way (the NAT stage refused): the fault stays on. */
  const halfFailed = async (address: string) => {
    await kube.admin.create('IPAddressClaim', claim(address, uid));
    await allocated(address);
    sim.faults.trapCommand('/ip/firewall/nat/add', { message: 'failure: out of memory', times: 'always' });
    expect(await run()).toBe('retry');
  };
  /** allocate moves the allocation in place: the new claim made, the old one freed, the status naming the address left. */
  const moved = async (from: string, to: string) => {
    await kube.admin.create('IPAddressClaim', claim(to, uid));
    await kube.admin.remove('IPAddressClaim', claimNameOf(from) ?? '');
    await allocated(to, [from]);
  };
  return { sim, kube, uid, allocated, status, run, ingress, entriesOf, halfFailed, moved };
}

const reach = (state: RouterState, address: string) =>
  createTracer(state).trace({ srcAddress: '203.0.113.7', srcPort: 40000, dstAddress: address, dstPort: 80, protocol: 'tcp', inInterface: 'ether1' });

describe('an allocation moved to another address in place', () => {
  it.each([['ether1'], [undefined]])('leaves no entry of its old address (pool interface %s)', async (interfaceName) => {
    const c = await setup(interfaceName);
    await c.kube.admin.create('IPAddressClaim', claim('192.0.2.12', c.uid));
    await c.allocated('192.0.2.12');
    expect(await c.run()).toBe('done');
    expect(await c.ingress()).toEqual(['192.0.2.12']);
    expect(c.entriesOf('192.0.2.12').length).toBeGreaterThan(1);

    // allocate moves it: the claim of the new address made, the old one freed, the status written
    await c.kube.admin.create('IPAddressClaim', claim('192.0.2.15', c.uid));
    await c.kube.admin.remove('IPAddressClaim', claimNameOf('192.0.2.12') ?? '');
    await c.allocated('192.0.2.15');
    expect(await c.run()).toBe('done');
    expect(await c.ingress()).toEqual(['192.0.2.15']);
    expect(c.entriesOf('192.0.2.12')).toEqual([]);
    const state = c.sim.state();
    expect(reach(state, '192.0.2.15')).toMatchObject({ ok: true, dstAddress: '10.0.0.66', dstPort: 8080 });
    expect(reach(state, '192.0.2.12')).not.toMatchObject({ dstAddress: '10.0.0.66' });
  });

  // chaos, seed 2025120: the first run wrote the address's LB-list entry (and advertisement),
  // then the router refused the NAT rules; no ingress was published, so only the status's
  // former addresses tell program about the entries, and the address's next holder met them
  it.each([['ether1'], [undefined]])('leaves no entry of an address whose programming failed half-way (pool interface %s)', async (interfaceName) => {
    const c = await setup(interfaceName);
    await c.halfFailed('192.0.2.12');
    expect(await c.ingress() ?? []).toEqual([]);
    const halfWritten = c.entriesOf('192.0.2.12');
    expect(halfWritten.length).toBeGreaterThan(0);
    c.sim.faults.clear();

    // allocate moves it, naming the address it leaves
    await c.moved('192.0.2.12', '192.0.2.15');
    expect(await c.run()).toBe('done');
    expect(await c.ingress()).toEqual(['192.0.2.15']);
    expect(c.entriesOf('192.0.2.12')).toEqual([]);
    expect(reach(c.sim.state(), '192.0.2.15')).toMatchObject({ ok: true, dstAddress: '10.0.0.66', dstPort: 8080 });
    // taken off: the status no longer names it, and the next run reads nothing more
    const after = await c.status();
    expect(after?.formerAddresses).toBeUndefined();
    expect(after?.phase).toBe('Programmed');
  });

  it('leaves no entry of an address given back (Failed), and clears the record', async () => {
    const c = await setup('ether1');
    await c.halfFailed('192.0.2.12');
    expect(c.entriesOf('192.0.2.12').length).toBeGreaterThan(0);
    c.sim.faults.clear();
    // allocate gives the address back (the pool's scope no longer serves the Service, say)
    await c.kube.admin.remove('IPAddressClaim', claimNameOf('192.0.2.12') ?? '');
    const a = IPAllocationSchema.parse(await c.kube.admin.get('IPAllocation', NAME));
    await c.kube.admin.replaceStatus('IPAllocation', { ...a, status: { phase: 'Failed', formerAddresses: ['192.0.2.12'], observedGeneration: a.metadata.generation } });
    expect(await c.run()).toBe('done');
    expect(c.entriesOf('192.0.2.12')).toEqual([]);
    expect(await c.status()).toEqual({ phase: 'Failed', observedGeneration: a.metadata.generation });
  });

  it('keeps the former addresses while the router fails, and clears them once it answers', async () => {
    const c = await setup('ether1');
    await c.halfFailed('192.0.2.12');
    await c.moved('192.0.2.12', '192.0.2.15');
    expect(await c.run()).toBe('retry');
    expect((await c.status())?.formerAddresses).toEqual(['192.0.2.12']);
    c.sim.faults.clear();
    expect(await c.run()).toBe('done');
    expect((await c.status())?.formerAddresses).toBeUndefined();
    expect(c.entriesOf('192.0.2.12')).toEqual([]);
  });
});

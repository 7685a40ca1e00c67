import { describe, expect, it } from 'vitest';
import { allocationName } from '../../lib/core/service.js';
import { objectInvocation, resyncInvocation } from '../../lib/events/cloudevent.js';
import { claimNameOf } from '../../lib/k8s/claims.js';
import { EndpointSliceSchema, ServiceSchema } from '../../lib/k8s/core-objects.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { uninstallRouter } from '../../lib/cli/uninstall.js';
import { ownerOf } from '../../lib/router/index.js';
import { client as openClient, sim as startSim } from '../../lib/routeros/client/test-support.js';
import type { RouterState } from '../../lib/router/state.js';
import { createTracer } from '../../test/tracer/index.js';
import { LAN_ROUTER, lanServiceObjects, memoryPortAs } from '../test-support.js';
import { createProgram } from './handler.js';

/**
 * An installation renamed (MIKROLB_CLUSTER_NAME) without uninstalling its old name's entries, or
 * a copy of a cluster sharing its router: the router carries rules of the same Service uid under
 * another cluster name. Chains and lists are named after the uid, not the cluster, so those rules
 * sit in the Service's own chains ahead of any program would add: programmed anyway, the Service
 * reported Ready on its new address while every connection to it went to the endpoints the old
 * rules name (pods long gone). Program writes nothing for it and says why; once the old entries
 * are removed, the next attempt programs it.
 */

const UID = '7e5a0000-0000-4000-8000-0000000000bb';
const NOW = () => new Date('2026-01-01T00:00:00Z');
const NAME = allocationName(UID, { ipFamily: 'IPv4' });
const quiet = { stdout: { write: () => undefined }, stderr: { write: () => undefined } };

async function setup() {
  const sim = await startSim({ initialState: LAN_ROUTER });
  const client = openClient(sim, { timeoutMs: 5000 });
  const kube = memoryPortAs('program', {
    now: NOW,
    objects: lanServiceObjects({ uid: UID, namespace: 'shop', name: 'web', port: { name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }, pool: { addresses: ['192.0.2.10-192.0.2.20'], interfaceName: 'ether1' } }),
  });
  const made = IPAllocationSchema.parse(await kube.admin.create('IPAllocation', {
    apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
    metadata: { name: NAME, finalizers: ['mikrolb.de/finalizer'], labels: { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': UID } },
    spec: { ipFamily: 'IPv4' },
  }));
  /** allocate's decision: the claim of `address` and the allocation's status (the one it leaves freed). */
  const allocated = async (address: string, leaves?: string) => {
    await kube.admin.create('IPAddressClaim', {
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: claimNameOf(address) ?? '' },
      spec: { address, poolName: 'lan', allocationName: NAME, allocationUID: made.metadata.uid },
    });
    if (leaves) await kube.admin.remove('IPAddressClaim', claimNameOf(leaves) ?? '');
    const a = IPAllocationSchema.parse(await kube.admin.get('IPAllocation', NAME));
    await kube.admin.replaceStatus('IPAllocation', { ...a, status: { phase: 'Allocated', address, advertised: false, observedGeneration: a.metadata.generation } });
  };
  const program = (clusterName: string) => createProgram({
    kube: kube.port, router: client, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false, clusterName }, now: NOW, log: silentLogger(),
    retry: { attempts: 5, pause: async () => undefined },
  });
  const service = objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' });
  /** The pods moved: the one endpoint is now `address`. */
  const endpoint = async (address: string) => {
    const slice = EndpointSliceSchema.parse(await kube.admin.get('EndpointSlice', 'web-1', 'shop'));
    await kube.admin.replace('EndpointSlice', { ...slice, endpoints: [{ addresses: [address], conditions: { ready: true } }] });
  };
  const ready = async () => IPAllocationSchema.parse(await kube.admin.get('IPAllocation', NAME)).status?.conditions?.find((c) => c.type === 'Ready');
  const ingress = async () => ServiceSchema.parse(await kube.admin.get('Service', 'web', 'shop')).status?.loadBalancer?.ingress?.map((i) => i.ip);
  return { sim, client, allocated, program, service, endpoint, ready, ingress };
}

const reach = (state: RouterState, address: string) =>
  createTracer(state).trace({ srcAddress: '203.0.113.7', srcPort: 40000, dstAddress: address, dstPort: 80, protocol: 'tcp', inInterface: 'ether1' });

const ofCluster = (state: RouterState, cluster: string) => Object.values(state.menus).flat().filter((e) => ownerOf(e.comment)?.cluster === cluster);

describe('a Service whose rules the router carries under another cluster name (renamed without uninstalling)', () => {
  it.each([['an event', false], ['the resync', true]])('is not programmed by %s, and says why; programmed once the old entries are gone', async (_, resync) => {
    const c = await setup();
    await c.allocated('192.0.2.12');
    expect((await c.program('default')(c.service)).kind).toBe('done');
    expect(reach(c.sim.state(), '192.0.2.12')).toMatchObject({ ok: true, dstAddress: '10.0.0.66' });

    // renamed to "west" without the uninstall; meanwhile the pods moved, and allocate moved the
    // address off 192.0.2.12 (the old name's entries hold it for "another cluster")
    await c.endpoint('10.0.0.77');
    await c.allocated('192.0.2.15', '192.0.2.12');
    const west = c.program('west');
    const run = () => west(resync ? resyncInvocation() : c.service);
    expect((await run()).kind).toBe('retry');
    const state = c.sim.state();
    expect(ofCluster(state, 'west').filter((e) => ownerOf(e.comment)?.kind === 'service')).toEqual([]);
    expect(reach(state, '192.0.2.15')).not.toMatchObject({ ok: true, dstAddress: '10.0.0.66' });
    expect(await c.ready()).toMatchObject({
      status: 'False', reason: 'BackendError',
      message: expect.stringContaining('written by the MikroLB of cluster "default"'),
    });
    expect((await c.ready())?.message).toContain('MIKROLB_CLUSTER_NAME=default');
    expect(await c.ingress() ?? []).not.toContain('192.0.2.15');

    // the old name's entries removed (docs/upgrading.md): the next attempt programs the Service
    expect(await uninstallRouter(c.client, false, quiet, 'default')).toBe(0);
    expect((await run()).kind).toBe('done');
    expect(reach(c.sim.state(), '192.0.2.15')).toMatchObject({ ok: true, dstAddress: '10.0.0.77', dstPort: 8080 });
    expect(await c.ready()).toMatchObject({ status: 'True' });
    expect(await c.ingress()).toEqual(['192.0.2.15']);
  });
});

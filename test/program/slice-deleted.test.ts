import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectRef } from '../../lib/events/invocation.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import { CLASSES } from '../allocate/setup.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { startStack, type Stack } from './setup.js';

/**
 * Against the real API server and the RouterOS simulator, with program served over HTTP as
 * Knative runs it behind an ApiServerSource (Resource mode: the event carries the object). A
 * deleted EndpointSlice cannot be read any more; its event still names its Service (the
 * slice's `kubernetes.io/service-name` label), so its endpoints stop being NAT targets at once,
 * not at the Service's next event or the resync.
 */
const kube = apiServerPort(testCluster().transport);
const make = objects(kube);
const ns = uniq('slice-del');
const pool = uniq('slice-del-v4');
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
  await make.namespace(ns);
  await make.pool(pool, { ipFamily: 'IPv4', addresses: ['198.18.62.10-198.18.62.30'], autoAssign: false, interfaceName: 'ether1' });
});

afterAll(async () => {
  await make.cleanup();
  await stack.close();
});

const slice = (name: string, svc: string, address: string) => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
  metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4', endpoints: [{ addresses: [address], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
});

/** The NAT targets of a Service's rules (by its uid), sorted. */
const targets = (uid: string): string[] => (stack.sim.state().menus['/ip/firewall/nat'] ?? [])
  .filter((e) => (e.comment ?? '').includes(`svc=${uid}:`) && e['to-addresses'] !== undefined)
  .map((e) => e['to-addresses'] ?? '').sort();

/** Sends program an ApiServerSource event in Resource mode (binary encoding), the object as its data. */
async function apiServerSourceEvent(change: 'add' | 'update' | 'delete', object: ReturnType<typeof slice>): Promise<number> {
  const res = await fetch(stack.program.url, {
    method: 'POST',
    headers: {
      'ce-specversion': '1.0', 'ce-id': uniq('evt'), 'ce-source': 'https://kubernetes.default.svc', 'ce-type': `dev.knative.apiserver.resource.${change}`,
      'ce-kind': 'EndpointSlice', 'ce-name': object.metadata.name, 'ce-namespace': ns, 'ce-apiversion': 'discovery.k8s.io/v1', 'content-type': 'application/json',
    },
    body: JSON.stringify(object),
  });
  await res.text();
  return res.status;
}

describe('an EndpointSlice deleted, as an ApiServerSource sends it', () => {
  it('reprograms its Service: the deleted slice\'s endpoints are no longer targets', async () => {
    const name = uniq('web');
    const svc = await make.service(ns, name, { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass }, { 'mikrolb.de/load-balancer-pools': pool });
    const uid = svc?.metadata.uid ?? '';
    const kept = slice(`${name}-a`, name, '10.244.8.11');
    const dropped = slice(`${name}-b`, name, '10.244.8.12');
    await kube.create('EndpointSlice', kept);
    await kube.create('EndpointSlice', dropped);
    const web: ObjectRef = { kind: 'Service', namespace: ns, name };
    expect(await stack.allocate(web)).toBe(200);
    expect((await stack.program.object(web)).status).toBe(200);
    expect(targets(uid).join(' ')).toContain('10.244.8.12');

    await kube.remove('EndpointSlice', dropped.metadata.name, ns);
    expect(await apiServerSourceEvent('delete', dropped)).toBe(200);
    expect(targets(uid).join(' ')).not.toContain('10.244.8.12');
    expect(targets(uid).join(' ')).toContain('10.244.8.11');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { resyncInvocation } from '../../lib/events/cloudevent.js';
import type { ObjectRef } from '../../lib/events/invocation.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import type { Kind } from '../../lib/k8s/resources.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { startStack, type Stack } from './setup.js';

/**
 * Level-triggered and idempotent: once the world has converged, a resync of every function
 * writes nothing, neither to the API server (counted as objects whose resourceVersion moved,
 * events included: a Warning recorded on every run is counted again only after
 * EVENT_HEARTBEAT_MS) nor to the router.
 */
const kube = apiServerPort(testCluster().transport);
const make = objects(kube);
const ns = uniq('quiet');
const silent = uniq('quiet-silent');
const loud = uniq('quiet-loud');
let stack: Stack;

const Meta = z.object({ metadata: z.object({ name: z.string(), namespace: z.string().optional(), resourceVersion: z.string() }) });
const WATCHED: readonly Kind[] = ['Service', 'EndpointSlice', 'IPAllocation', 'IPPool', 'Event'];

/** Every object of the watched kinds, cluster-wide, by kind/namespace/name → resourceVersion. */
async function versions(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const kind of WATCHED) {
    for (const raw of await kube.list(kind)) {
      const { metadata: m } = Meta.parse(raw);
      out.set(`${kind} ${m.namespace ?? ''}/${m.name}`, m.resourceVersion);
    }
  }
  return out;
}

/** The objects created, changed or deleted between two snapshots: each is at least one write. */
function writesBetween(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k)).sort();
}

async function service(name: string, pool: string, annotations: Record<string, string> = {}): Promise<void> {
  await make.service(ns, name, { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' }, { 'mikrolb.de/load-balancer-pools': pool, 'mikrolb.de/snat-ips': 'use-lb-ips', ...annotations });
  await kube.create('EndpointSlice', {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: `${name}-a`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.244.7.11'], conditions: { ready: true } }, { addresses: ['10.244.7.12'], conditions: { ready: true } }],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });
  const ref: ObjectRef = { kind: 'Service', namespace: ns, name };
  expect(await stack.allocate(ref)).toBe(200);
  expect((await stack.program.object(ref)).status).toBe(200);
}

/** A resync of every function, as the bridge sends it; returns program's router changes. */
async function resync(): Promise<number> {
  expect((await stack.functions.allocate(resyncInvocation())).kind).toBe('done');
  const program = await stack.program.resync();
  expect(program.status).toBe(200);
  expect((await stack.functions.release(resyncInvocation())).kind).toBe('done');
  return typeof program.body.routerOps === 'number' ? program.body.routerOps : -1;
}

beforeAll(async () => {
  stack = await startStack();
  await make.namespace(ns);
  await make.pool(silent, { ipFamily: 'IPv4', addresses: ['198.18.62.10-198.18.62.30'], autoAssign: false, advertise: false });
  await make.pool(loud, { ipFamily: 'IPv4', addresses: ['198.18.63.10-198.18.63.30'], autoAssign: false, interfaceName: 'ether1' });
  await service('unadvertised', silent);
  await service('advertised', loud);
  // an AnnotationInvalid Warning on every run of allocate: its repeats wait for the heartbeat
  await service('warned', loud, { 'mikrolb.de/load-balancer-enabled': 'yes' });
});

afterAll(async () => {
  await make.cleanup();
  await stack.close();
});

describe('an unchanged resync', () => {
  it('writes nothing anywhere: no object, no event, no router change', async () => {
    const [unadvertised] = await make.allocationsOf(ns, 'unadvertised');
    expect(unadvertised?.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'AllocatedButNotAdvertised' });
    await resync(); // whatever other tests left in the shared cluster settles here
    const router = JSON.stringify(stack.sim.state());
    const before = await versions();
    const routerOps = await resync();
    const writes = writesBetween(before, await versions());
    console.log(`[quiet resync] ${writes.length} API writes, ${routerOps} router changes`);
    expect(writes).toEqual([]);
    expect(routerOps).toBe(0);
    const warned = (await kube.list('Event', { namespace: ns })).filter((e) => JSON.stringify(e).includes('"AnnotationInvalid"') && JSON.stringify(e).includes('"warned"'));
    expect(warned).toHaveLength(1); // recorded, and recorded again by each resync, but not counted yet
    expect(JSON.stringify(stack.sim.state())).toBe(router);
  });
});

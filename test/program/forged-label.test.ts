import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import type { ObjectRef } from '../../lib/events/invocation.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import { API_VERSION } from '../../lib/k8s/schemas.js';
import { FINALIZER, LABEL_SERVICE_UID } from '../../lib/k8s/keys.js';
import { getAllocation } from '../../lib/k8s/typed.js';
import { CLASSES } from '../allocate/setup.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { startStack, type Stack } from './setup.js';

/**
 * Against the real API server and the RouterOS simulator: an IPAllocation forged with a live
 * Service's `mikrolb.de/service-uid` label (by someone who may create IPAllocations), once
 * deleted, must not take that Service's router entries with it. (Every shape of the forgery:
 * functions/release/forged.test.ts.)
 */
const kube = apiServerPort(testCluster().transport);
const make = objects(kube);
const ns = uniq('forged');
const pool = uniq('forged-v4');
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
  await make.namespace(ns);
  await make.pool(pool, { ipFamily: 'IPv4', addresses: ['198.18.61.10-198.18.61.30'], autoAssign: false, interfaceName: 'ether1' });
});

afterAll(async () => {
  await make.cleanup();
  await stack.close();
});

const entriesOf = (uid: string): string[] => Object.entries(stack.sim.state().menus)
  .flatMap(([menu, list]) => list.filter((e) => (e.comment ?? '').includes(`svc=${uid}:`)).map((e) => `${menu} ${e.comment ?? ''}`)).sort();

describe('release of a forged IPAllocation', () => {
  it('labelled with a live Service\'s uid: that Service keeps every router entry', async () => {
    const name = uniq('web'); // a fresh Service per attempt
    const svc = await make.service(ns, name, { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass }, { 'mikrolb.de/load-balancer-ips': '198.18.61.15' });
    const uid = svc?.metadata.uid ?? '';
    await kube.create('EndpointSlice', {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: `${name}-a`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4', endpoints: [{ addresses: ['10.244.7.11'], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
    const web: ObjectRef = { kind: 'Service', namespace: ns, name };
    expect(await stack.allocate(web)).toBe(200);
    expect((await stack.program.object(web)).status).toBe(200);
    const before = entriesOf(uid);
    expect(before).toContain(`/ip/address mikrolb:default:svc=${uid}:adv:198.18.61.15`);

    const evil = uniq('evil');
    await kube.create('IPAllocation', { apiVersion: API_VERSION, kind: 'IPAllocation', metadata: { name: evil, labels: { [LABEL_SERVICE_UID]: uid }, finalizers: [FINALIZER] }, spec: { address: '198.18.61.27' } });
    expect(await stack.allocate({ kind: 'IPAllocation', name: evil })).toBe(200);
    expect((await getAllocation(kube, evil))?.status?.address).toBe('198.18.61.27');
    await kube.remove('IPAllocation', evil);
    expect((await stack.functions.release(objectInvocation('update', { kind: 'IPAllocation', name: evil }))).kind).toBe('done');

    expect(await getAllocation(kube, evil)).toBeUndefined();
    expect(entriesOf(uid)).toEqual(before);
  });
});

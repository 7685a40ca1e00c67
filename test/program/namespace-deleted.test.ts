import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { answerOf } from '../../lib/events/outcome.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import { FINALIZER } from '../../lib/k8s/keys.js';
import { getService } from '../../lib/k8s/typed.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { startStack, type Stack } from './setup.js';

/**
 * A namespace deleted while the router is down. The namespace controller deletes its Services,
 * which our finalizer keeps until release has taken their entries off the router; meanwhile
 * the API server creates nothing in the namespace (NamespaceLifecycle), the Service's
 * `ReleaseFailed` event included. The release must still say what is wrong: the router, not
 * the ServiceAccount's RBAC. (No controller-manager runs here: the test deletes the Service as
 * the namespace controller would.)
 */
const kube = apiServerPort(testCluster().transport);
const make = objects(kube);
const ns = uniq('ns-del');
const pool = uniq('ns-del-v4');
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
  await make.namespace(ns);
  await make.pool(pool, { ipFamily: 'IPv4', addresses: ['198.18.66.10-198.18.66.20'], autoAssign: false, interfaceName: 'ether1' });
});

afterAll(async () => {
  await stack.sim.faults.comeBack();
  await make.cleanup();
  await stack.close();
});

describe('a namespace deleted while the router is down', () => {
  it('release of its Service reports the router, and completes once the router is back', async () => {
    await make.service(ns, 'web', { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' }, { 'mikrolb.de/load-balancer-pools': pool });
    const ref = { kind: 'Service' as const, namespace: ns, name: 'web' };
    expect(await stack.allocate(ref)).toBe(200);
    expect((await stack.program.object(ref)).status).toBe(200);
    const [held] = await make.allocationsOf(ns, 'web');
    expect(held?.status?.phase).toBe('Programmed');

    await stack.sim.faults.goAway();
    await kube.remove('Namespace', ns);
    await kube.remove('Service', 'web', ns);
    expect((await getService(kube, ns, 'web'))?.metadata.deletionTimestamp).toBeDefined();

    const answer = answerOf(await stack.functions.release(objectInvocation('update', ref)));
    expect(answer.status).toBe(503);
    expect(JSON.stringify(answer.body)).toMatch(/router/i);
    expect(JSON.stringify(answer.body)).not.toMatch(/RBAC/);
    expect((await getService(kube, ns, 'web'))?.metadata.finalizers).toContain(FINALIZER);

    await stack.sim.faults.comeBack();
    expect(answerOf(await stack.functions.release(objectInvocation('update', ref))).status).toBe(200);
    expect(await getService(kube, ns, 'web')).toBeUndefined();
    expect(await make.allocationsOf(ns, 'web')).toEqual([]);
  });
});

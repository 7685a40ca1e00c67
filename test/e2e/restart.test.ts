import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { getService } from '../../lib/k8s/typed.js';
import { uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { SEED } from '../program/setup.js';
import { eventually, startE2E, type E2E } from './stack.js';

/**
 * A Service stops being a LoadBalancer while no controller runs: the next controller's first
 * list shows it with MikroLB's finalizer, and release takes it back at once (not at the first
 * resync, five minutes later): finalizer, allocation and router entries.
 */

let first: E2E;
let second: E2E | undefined;
let make: ReturnType<typeof objects>;
const ns = uniq('restart');
const pool = uniq('restart-pool');

beforeAll(async () => {
  first = await startE2E(SEED);
  make = objects(first.kube);
  await make.namespace(ns);
  await make.pool(pool, { ipFamily: 'IPv4', addresses: ['198.18.54.1-198.18.54.20'], autoAssign: false, interfaceName: 'ether1' });
});

afterAll(async () => {
  await second?.stop();
  await make.cleanup();
  await first.controller.stop().catch(() => undefined);
  await first.router.close();
  await first.sim.close();
});

const ours = (e2e: E2E, uid: string): string[] =>
  Object.values(e2e.sim.state().menus).flat().map((e) => e.comment ?? '').filter((c) => c.includes(`svc=${uid}:`));

describe('a controller started after a Service stopped being a LoadBalancer', () => {
  it('releases it right away: finalizer, allocation and router entries', async () => {
    await make.service(ns, 'web', { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' }, { 'mikrolb.de/load-balancer-pools': pool });
    await first.kube.create('EndpointSlice', {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-x', namespace: ns, labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4', endpoints: [{ addresses: ['10.244.6.1'], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
    await eventually(async () => expect((await make.allocationsOf(ns, 'web'))[0]?.status?.phase).toBe('Programmed'));
    const uid = (await getService(first.kube, ns, 'web'))?.metadata.uid ?? '';
    expect(ours(first, uid).length).toBeGreaterThan(0);

    await first.controller.stop();
    const svc = ServiceSchema.passthrough().parse(await first.kube.get('Service', 'web', ns));
    const { loadBalancerClass: _class, allocateLoadBalancerNodePorts: _nodePorts, ...spec } = svc.spec ?? {};
    await first.kube.replace('Service', { ...svc, spec: { ...spec, type: 'ClusterIP', ports: (svc.spec?.ports ?? []).map(({ nodePort: _port, ...p }) => p) } });

    const started = Date.now();
    second = await startE2E(SEED, { sim: first.sim });
    await eventually(async () => {
      expect((await getService(first.kube, ns, 'web'))?.metadata.finalizers ?? []).not.toContain('mikrolb.de/finalizer');
      expect(await make.allocationsOf(ns, 'web')).toEqual([]);
      expect(ours(first, uid)).toEqual([]);
    }, 60_000);
    // the resync (RESYNC_INTERVAL, 5 minutes here) is not what did it
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});

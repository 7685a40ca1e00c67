/**
 * A Service whose allocation fails shows why on the Service itself (`mikrolb.de/LoadBalancerReady`
 * False, with the allocation's reason), within seconds of allocate's decision — with no
 * EndpointSlice to wake program, and the resync ten minutes away so that it cannot help.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getService } from '../../lib/k8s/typed.js';
import { uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { SEED } from '../program/setup.js';
import { eventually, startE2E, type E2E } from './stack.js';

let e2e: E2E;
let make: ReturnType<typeof objects>;
const ns = uniq('failed');
const LB = { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' };

beforeAll(async () => {
  e2e = await startE2E(SEED, { resyncIntervalMs: 600_000 });
  make = objects(e2e.kube);
  await make.namespace(ns);
});

afterAll(async () => {
  await make.cleanup();
  await e2e.stop();
});

async function readyCondition(name: string): Promise<{ status: string; reason: string } | undefined> {
  const c = (await getService(e2e.kube, ns, name))?.status?.conditions?.find((x) => x.type === 'mikrolb.de/LoadBalancerReady');
  return c ? { status: c.status, reason: c.reason } : undefined;
}

describe('a Service whose allocation fails', () => {
  it.each([
    ['an address of the other family', 'AddressIPFamilyMismatch', { ...LB, ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' }, { 'mikrolb.de/load-balancer-ips': '198.18.61.9' }],
    ['a pool with no address left', 'PoolExhausted', LB, { 'mikrolb.de/load-balancer-pools': 'failed-empty' }],
  ])('%s: says so in its LoadBalancerReady condition within seconds', async (_what, reason, spec, annotations) => {
    await make.pool('failed-empty', { ipFamily: 'IPv4', addresses: ['198.18.61.1'], autoAssign: false, interfaceName: 'ether1' }).catch(() => undefined);
    await make.service(ns, 'holder', LB, { 'mikrolb.de/load-balancer-pools': 'failed-empty' }).catch(() => undefined);
    const name = uniq('svc');
    const t = performance.now();
    await make.service(ns, name, spec, annotations);
    await eventually(async () => {
      const [a] = await make.allocationsOf(ns, name);
      expect(a?.status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe(reason);
    }, 30_000);
    await eventually(async () => expect(await readyCondition(name)).toEqual({ status: 'False', reason }), 30_000);
    console.log(`[failed] ${reason}: the Service's condition said so ${((performance.now() - t) / 1000).toFixed(1)} s after its creation`);
  });
});

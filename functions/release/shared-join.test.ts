import { describe, expect, it } from 'vitest';
import { createProgram } from '../program/handler.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import type { ObjectRef } from '../../lib/events/invocation.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { IPAddressClaimSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import type { RouterPort } from '../../lib/router/port.js';
import type { RouterState } from '../../lib/router/state.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createTracer } from '../../test/tracer/index.js';
import { createRelease } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * The last holder of a shared address takes the address's own router entries (its
 * advertisement, its LB list entry) off before it gives the claim up. Whether it is the last is
 * decided from the claim as read: another Service of the key may join the claim before the leave
 * (which then finds the claim changed and leaves it to the joiner), its program having run before
 * the removal, found the entries standing and written none. The joiner kept the address,
 * Programmed, neither advertised nor in the LB list, until program's next run for it: a holder
 * joining or leaving wakes no program. Release now puts the entries back for the holders that
 * stay, and takes them off again if those go while it writes.
 */
const NOW = () => new Date('2026-01-01T01:00:00Z');
const OLD = '2026-01-01T00:00:00Z';
const ADDRESS = '192.0.2.10';
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const F = ['mikrolb.de/finalizer'];
const A: ObjectRef = { kind: 'Service', namespace: 'shop', name: 'a' };
const B: ObjectRef = { kind: 'Service', namespace: 'shop', name: 'b' };

const service = (name: string, port: number) => ({
  apiVersion: 'v1', kind: 'Service',
  metadata: { name, namespace: 'shop', uid: `svc-${name}`, finalizers: F, annotations: { 'mikrolb.de/allow-shared-ip': 'k' } },
  spec: { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass, ipFamilies: ['IPv4'], ports: [{ name: 'p', port, protocol: 'TCP', targetPort: port + 8000 }] },
});
const slice = (name: string, endpoint: string, port: number) => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-1`, namespace: 'shop', labels: { 'kubernetes.io/service-name': name } },
  addressType: 'IPv4', endpoints: [{ addresses: [endpoint], conditions: { ready: true } }], ports: [{ name: 'p', port: port + 8000, protocol: 'TCP' }],
});
const allocation = (name: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
  metadata: { name, uid: `uid-${name}`, finalizers: F, labels: { 'mikrolb.de/service-uid': `svc-${name}`, 'mikrolb.de/service-name': name, 'mikrolb.de/service-namespace': 'shop' } },
  spec: { ipFamily: 'IPv4' }, status: { phase: 'Programmed', address: ADDRESS, advertised: true },
});
const holder = (name: string, port: number) => ({ allocationName: name, allocationUID: `uid-${name}`, ports: [{ protocol: 'TCP', port }], joinedAt: OLD });
const pool = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', uid: 'pool-uid', finalizers: F },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.10-192.0.2.20'], autoAssign: true, advertise: true, interfaceName: 'ether1' }, status: { claimsAdopted: true },
};
const SEED: RouterState = {
  version: '7.19.1',
  menus: {
    '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }, { '.id': '*2', name: 'bridge', type: 'bridge' }],
    '/ip/address': [{ '.id': '*10', address: '192.0.2.1/24', interface: 'ether1' }, { '.id': '*11', address: '10.0.0.1/24', interface: 'bridge' }],
  },
};

const reach = (state: RouterState, port: number) =>
  createTracer(state).trace({ srcAddress: '203.0.113.7', srcPort: 40000, dstAddress: ADDRESS, dstPort: port, protocol: 'tcp', inInterface: 'ether1' });

/**
 * Service a holds ADDRESS alone (its claim shared under key k, a's port 80), programmed; b (key
 * k, port 443) has its allocation and slice but no claim yet. Then a is deleted.
 */
async function setup(gone: 'Service' | 'IPAllocation' = 'Service') {
  const kube = memoryPortAs('release', {
    now: NOW,
    objects: [
      pool, service('a', 80), slice('a', '10.0.0.11', 80), allocation('a'), service('b', 443), slice('b', '10.0.0.22', 443), allocation('b'),
      {
        apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim',
        metadata: { name: ADDRESS, creationTimestamp: OLD, labels: { 'mikrolb.de/pool': 'lan', 'mikrolb.de/allocation-uid': 'uid-a', 'mikrolb.de/service-uid': 'svc-a' } },
        spec: { address: ADDRESS, poolName: 'lan', allocationName: 'a', allocationUID: 'uid-a', sharingKey: 'k', holders: [holder('a', 80)] },
      },
    ],
  });
  const router = memoryRouter(SEED);
  const common = { classes: CLASSES, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, router };
  const program = async (ref: ObjectRef) => expect((await createProgram({ ...common, kube: kube.as('program') })(objectInvocation('update', ref))).kind).toBe('done');
  const release = async (port: KubePort, ref: ObjectRef, routerPort: RouterPort = router) =>
    expect((await createRelease({ ...common, router: routerPort, kube: port, claimGraceMs: 60_000 })(objectInvocation('update', ref))).kind).toBe('done');
  await program(A);
  expect(reach(router.state(), 80)).toMatchObject({ ok: true, dstAddress: '10.0.0.11', dstPort: 8080 });
  // pending on our finalizer: the Service deleted, or only its allocation (a moved to other pools, say)
  if (gone === 'Service') await kube.admin.remove('Service', 'a', 'shop');
  else await kube.admin.remove('IPAllocation', 'a');
  const released: ObjectRef = gone === 'Service' ? A : { kind: 'IPAllocation', name: 'a' };
  /** allocate joins b to the claim; program b then finds the address's entries standing. */
  const join = async () => {
    const c = IPAddressClaimSchema.parse(await kube.admin.get('IPAddressClaim', ADDRESS));
    await kube.admin.replace('IPAddressClaim', { ...c, spec: { ...c.spec, holders: [...(c.spec.holders ?? []), holder('b', 443)] } });
    await program(B);
  };
  const holders = async () => {
    const c = await kube.admin.get('IPAddressClaim', ADDRESS);
    return c === undefined ? undefined : (IPAddressClaimSchema.parse(c).spec.holders ?? []).map((h) => h.allocationName);
  };
  const addressEntries = () => Object.values(router.state().menus).flat().filter((e) => (e.comment ?? '').includes(`svc=ip-${ADDRESS}:`)).map((e) => e.comment).sort();
  return { kube, router, program, release, released, join, holders, addressEntries };
}

/** The port, calling `then` once right after release lists a's claims (it has read the claim that makes a the last holder). */
function afterClaimsOfA(port: KubePort, then: () => Promise<void>): KubePort {
  let done = false;
  return {
    ...port,
    list: async (kind, opts) => {
      const out = await port.list(kind, opts);
      if (!done && kind === 'IPAddressClaim' && opts?.labelSelector === 'mikrolb.de/allocation-uid=uid-a') {
        done = true;
        await then();
      }
      return out;
    },
  };
}

describe('the last holder of a shared address released while another Service joins it', () => {
  it.each([['Service'], ['IPAllocation']] as const)('leaves the joiner its address advertised and in the LB list, reachable, exactly as its own program writes it (%s of the last holder deleted)', async (gone) => {
    const c = await setup(gone);
    const before = c.addressEntries();
    expect(before).toHaveLength(2);

    await c.release(afterClaimsOfA(c.kube.port, c.join), c.released);

    expect(await c.holders()).toEqual(['b']);
    expect(c.addressEntries()).toEqual(before);
    const state = c.router.state();
    expect(reach(state, 443)).toMatchObject({ ok: true, dstAddress: '10.0.0.22', dstPort: 8443 });
    expect(reach(state, 80)).not.toMatchObject({ dstAddress: '10.0.0.11' });
    // what release put back is what b's program plans: its next run changes nothing
    const written = structuredClone(state);
    await c.program(B);
    expect(c.router.state()).toEqual(written);
  });

  it('takes the entries off again when the joiner is released while they are put back', async () => {
    const c = await setup();
    let releasedB = false;
    // b joins as above; then, once a has left the claim to b and reads the router to put the
    // address's entries back, b goes too: its release finds them off and frees the claim
    const racing: RouterPort = {
      ...c.router,
      readMany: async (menus) => {
        if (!releasedB && (await c.holders())?.join() === 'b') {
          releasedB = true;
          await c.kube.admin.remove('Service', 'b', 'shop');
          await c.release(c.kube.port, B);
        }
        return c.router.readMany(menus);
      },
    };
    await c.release(afterClaimsOfA(c.kube.port, c.join), A, racing);

    expect(releasedB).toBe(true);
    expect(await c.holders()).toBeUndefined();
    expect(c.addressEntries()).toEqual([]);
    expect(reach(c.router.state(), 443)).not.toMatchObject({ dstAddress: '10.0.0.22' });
  });
});

describe('the entries of a shared address put back for a joiner, the router failing meanwhile', () => {
  it.each([['Service'], ['IPAllocation']] as const)('fails the release, and its retry puts them back (%s of the last holder deleted)', async (gone) => {
    const c = await setup(gone);
    const before = c.addressEntries();
    let failed = false;
    // the router drops the connection on the write that puts the address's entries back
    const failing: RouterPort = {
      ...c.router,
      execute: async (ops) => {
        if (!failed && ops.some((op) => op.op === 'add' && (op.entry.comment ?? '').includes(`svc=ip-${ADDRESS}:`))) {
          failed = true;
          throw new Error('connection closed');
        }
        return c.router.execute(ops);
      },
    };
    const releaseWith = (port: KubePort, router: RouterPort) =>
      createRelease({ classes: CLASSES, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, router, kube: port, claimGraceMs: 60_000 })(objectInvocation('update', c.released));

    const first = await releaseWith(afterClaimsOfA(c.kube.port, c.join), failing);
    expect(failed).toBe(true);
    expect(first.kind).toBe('retry');
    expect(await c.holders()).toEqual(['b']);

    // the bridge retries the release
    expect((await releaseWith(c.kube.port, c.router)).kind).toBe('done');
    expect(c.addressEntries()).toEqual(before);
    expect(reach(c.router.state(), 443)).toMatchObject({ ok: true, dstAddress: '10.0.0.22', dstPort: 8443 });
  });
});

import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { EndpointSliceSchema, ServiceSchema } from '../../lib/k8s/core-objects.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { IPAddressClaimSchema, IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { memoryLogger, silentLogger, type Logger } from '../../lib/log/logger.js';
import type { RouterState } from '../../lib/router/state.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { poolMirror, sliceMirror } from '../../lib/k8s/mirror.js';
import { FUNCTIONS } from '../registry.js';
import { recordingReads } from '../../test/helpers/recording-port.js';
import { memoryPortAs } from '../test-support.js';

/**
 * In the all-in-one controller allocate hands a new Service to program in the same invocation:
 * the allocation's status is written once (Programmed), the Service's ingress follows, and the
 * status writes carry the resourceVersions allocate read, so nothing is read twice. When one of
 * those writes meets a change (here: the Service being deleted meanwhile) or the router fails,
 * everything falls back to the usual way and nothing of the Service stays on the router.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const UID = '0a1b2c3d-0000-4000-8000-00000000c0de';

const objects = (annotations: Record<string, string> = {}) => [
  { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan' },
    spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true, interfaceName: 'ether1' }, status: { claimsAdopted: true } },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', uid: UID, annotations },
    spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] } },
  { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-abc', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.11'], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
];

const ROUTER: RouterState = { version: '7.19.1', menus: { '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }] } };

/** The router's entries that belong to the Service (their comment names its uid). */
const entriesOf = (state: RouterState): string[] =>
  Object.entries(state.menus).flatMap(([menu, rows]) => rows.filter((r) => (r.comment ?? '').includes(UID)).map((r) => `${menu} ${r.action ?? ''}`));

/** Where the Service's dst-nat rules send traffic. */
const natTargets = (state: RouterState): string[] =>
  (state.menus['/ip/firewall/nat'] ?? []).filter((r) => r.action === 'dst-nat' && (r.comment ?? '').includes(UID)).map((r) => r['to-addresses'] ?? '').sort();

interface SetupOptions {
  beforeServiceStatus?: (kube: KubePort) => Promise<void>;
  routerFails?: boolean;
  /** The controller's watch copies, filled from the seeded objects. */
  mirrored?: boolean;
  programAgain?: (namespace: string, name: string) => void;
  /** The Service's annotations. */
  annotations?: Record<string, string>;
  /** Where the function logs (silent unless given). */
  log?: Logger;
}

function setup(opts: SetupOptions = {}) {
  const kube = memoryPortAs('controller', { objects: objects(opts.annotations), now: NOW });
  const requests: string[] = [];
  let hook = opts.beforeServiceStatus;
  const port: KubePort = {
    ...recordingReads(kube.port, requests),
    replaceStatus: async (kind, obj) => {
      requests.push(`status ${kind}`);
      const once = kind === 'Service' ? hook : undefined;
      if (once) {
        hook = undefined;
        await once(kube.admin);
      }
      return kube.port.replaceStatus(kind, obj);
    },
  };
  const router = memoryRouter(structuredClone(ROUTER), { fail: () => (opts.routerFails ? new Error('connection refused') : undefined) });
  const pools = poolMirror();
  const slices = sliceMirror();
  const allocate = FUNCTIONS.allocate.handler({
    kube: port, router, programInProcess: true, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, now: NOW, log: opts.log ?? silentLogger(),
    retry: { attempts: 5, pause: async () => undefined },
    ...(opts.mirrored ? { pools, slices } : {}), ...(opts.programAgain ? { programAgain: opts.programAgain } : {}),
  });
  const listed = async (): Promise<void> => {
    for (const [kind, mirror] of [['IPPool', pools], ['EndpointSlice', slices]] as const) {
      const run = mirror.relist();
      run.page(await kube.admin.list(kind));
      run.finish();
    }
  };
  return { kube, router, allocate, requests, listed, slices };
}

const web = { kind: 'Service', namespace: 'shop', name: 'web' } as const;
const allocations = async (kube: KubePort) => (await kube.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o));

/** The allocation Programmed, its address the Service's ingress, and the Service's dst-nat on the router. */
async function expectServed(kube: KubePort, state: RouterState): Promise<void> {
  const [a] = await allocations(kube);
  expect(a?.status?.phase).toBe('Programmed');
  const svc = ServiceSchema.parse(await kube.get('Service', 'web', 'shop'));
  expect(svc.status?.loadBalancer?.ingress).toEqual([{ ip: a?.status?.address, ipMode: 'Proxy' }]);
  expect(entriesOf(state)).toContain('/ip/firewall/nat dst-nat');
}

describe('allocate hands a new Service to program in the same invocation', () => {
  it('programs it and writes each status once, reading nothing twice', async () => {
    const { kube, router, allocate, requests } = setup();
    expect((await allocate(objectInvocation('add', web))).kind).toBe('done');
    await expectServed(kube.port, router.state());
    expect(requests.filter((r) => r === 'get Service')).toHaveLength(1);
    expect(requests.filter((r) => r === 'status IPAllocation')).toHaveLength(1);
    expect(requests).not.toContain('list IPAllocation');
    // one event says both: the address allocated, and where the router advertises it
    const [a] = await allocations(kube.port);
    expect(kube.events.map((e) => [e.type, e.reason, e.note])).toEqual([
      ['Normal', 'IPAllocated', `Allocated address ${a?.status?.address} from pool lan; advertised on interface ether1.`],
    ]);
  });

  it('a Service deleted while it was programmed keeps nothing on the router, and its allocation goes', async () => {
    const { kube, router, allocate } = setup({
      beforeServiceStatus: async (k) => {
        await k.remove('Service', 'web', 'shop'); // its finalizer keeps it, deleting
      },
    });
    await allocate(objectInvocation('add', web));
    const svc = ServiceSchema.parse(await kube.admin.get('Service', 'web', 'shop'));
    expect(svc.metadata.deletionTimestamp).toBeDefined();
    expect(entriesOf(router.state())).toEqual([]);
    expect((await allocations(kube.port)).every((a) => a.metadata.deletionTimestamp !== undefined)).toBe(true);
  });

  it('a Service changed meanwhile (its status write conflicts) still gets its ingress', async () => {
    const { kube, router, allocate } = setup({
      beforeServiceStatus: async (k) => {
        const svc = ServiceSchema.parse(await k.get('Service', 'web', 'shop'));
        await k.replace('Service', { ...svc, metadata: { ...svc.metadata, labels: { touched: 'yes' } } });
      },
    });
    expect((await allocate(objectInvocation('add', web))).kind).toBe('done');
    await expectServed(kube.port, router.state());
    // the allocation's status took its write (with the event) before the Service's met the change
    const [a] = await allocations(kube.port);
    expect(kube.events.map((e) => [e.reason, e.note])).toEqual([['IPAllocated', `Allocated address ${a?.status?.address} from pool lan; advertised on interface ether1.`]]);
  });

  it('a router that fails leaves the address recorded (Allocated) for program to retry', async () => {
    const { kube, router, allocate } = setup({ routerFails: true });
    await allocate(objectInvocation('add', web));
    const [a] = await allocations(kube.port);
    expect(a?.status?.phase).toBe('Allocated');
    expect(a?.status?.address).toMatch(/^192\.0\.2\./);
    expect(entriesOf(router.state())).toEqual([]);
    // allocated all the same (program, retrying, records the router's failure)
    expect(kube.events.map((e) => [e.type, e.reason, e.note])).toEqual([['Normal', 'IPAllocated', `Allocated address ${a?.status?.address} from pool lan.`]]);
  });

  it('a router that refuses the write (no such interface) records the allocation once, and nothing was released', async () => {
    // what the router refuses is the address's advertisement, as RouterOS refuses an interface it does not have
    const log = memoryLogger();
    const { kube, router, allocate } = setup({ log });
    const execute = router.execute.bind(router);
    let refused = 0;
    router.execute = async (ops) => {
      if (ops.some((op) => op.menu === '/ip/address')) {
        refused++;
        throw new Error('input does not match any value of interface');
      }
      return execute(ops);
    };
    await allocate(objectInvocation('add', web));
    expect(refused).toBeGreaterThan(0);
    const [a] = await allocations(kube.port);
    expect(a?.status?.phase).toBe('Allocated');
    // one IPAllocated, observed once (a repeat would be counted on it: count 2)
    expect(kube.events.map((e) => [e.reason, e.note, e.count])).toEqual([['IPAllocated', `Allocated address ${a?.status?.address} from pool lan.`, undefined]]);
    expect(log.entries.filter((e) => e.msg === 'Allocated an address')).toHaveLength(1);
    // its entries came off again until program runs on the status allocate wrote; nothing was released
    expect(log.entries.map((e) => e.msg)).not.toContain('Took back router entries released while program wrote them');
    expect(log.entries.filter((e) => e.msg.startsWith('Took back')).map((e) => [e.msg, e.fields.why])).toEqual([['Took back router entries of addresses not recorded yet', 'their statuses are not written yet']]);
    expect(entriesOf(router.state())).toEqual([]);
  });

  it('reads the pools and the slices from the watch copies when the controller keeps them', async () => {
    const { kube, router, allocate, requests, listed } = setup({ mirrored: true });
    await listed();
    expect((await allocate(objectInvocation('add', web))).kind).toBe('done');
    await expectServed(kube.port, router.state());
    expect(requests.filter((r) => r === 'list IPPool' || r === 'list EndpointSlice')).toEqual([]);
  });
});

describe('a slice that changes while the statuses are unwritten', () => {
  // program, woken by that change, found no address to act on; the Programmed address that
  // follows wakes nobody: the hand-off itself sees the slices moved and programs them
  const grow = async (k: KubePort): Promise<void> => {
    const [slice] = await k.list('EndpointSlice', { namespace: 'shop' });
    const s = EndpointSliceSchema.parse(slice);
    await k.replace('EndpointSlice', { ...s, endpoints: [...s.endpoints, { addresses: ['10.0.0.12'], conditions: { ready: true } }] });
  };

  it('is programmed in the same invocation when no bridge runs in the process', async () => {
    const { kube, router, allocate } = setup({ beforeServiceStatus: grow });
    expect((await allocate(objectInvocation('add', web))).kind).toBe('done');
    await expectServed(kube.port, router.state());
    expect(natTargets(router.state())).toEqual(['10.0.0.11', '10.0.0.12']);
  });

  it('is handed to the bridge in the controller (program runs for the Service again)', async () => {
    const again: string[] = [];
    const { router, allocate, listed, slices } = setup({
      mirrored: true, programAgain: (namespace, name) => again.push(`${namespace}/${name}`),
      beforeServiceStatus: async (k) => {
        await grow(k);
        const [slice] = await k.list('EndpointSlice', { namespace: 'shop' });
        slices.seen(slice); // the watch event, before the bridge routes it to program
      },
    });
    await listed();
    expect((await allocate(objectInvocation('add', web))).kind).toBe('done');
    expect(again).toEqual(['shop/web']);
    expect(natTargets(router.state())).toEqual(['10.0.0.11']); // until that program runs
  });

  it('costs nothing when the slices did not move', async () => {
    const again: string[] = [];
    const { allocate, listed } = setup({ mirrored: true, programAgain: (namespace, name) => again.push(`${namespace}/${name}`) });
    await listed();
    await allocate(objectInvocation('add', web));
    expect(again).toEqual([]);
  });
});

describe('a claim whose sharing changes while the statuses are unwritten', () => {
  // program, woken by that change to program the claim's holders, leaves alone a Service
  // allocate is still recording (decisionUnrecorded): the hand-off sees the sharing moved
  const shared = { 'mikrolb.de/allow-shared-ip': 'web' };
  const unshare = async (k: KubePort): Promise<void> => {
    const [c] = await k.list('IPAddressClaim');
    const claim = IPAddressClaimSchema.parse(c);
    expect(claim.spec.sharingKey).toBe('web');
    const { sharingKey: _key, holders: _holders, ...spec } = claim.spec;
    await k.replace('IPAddressClaim', { ...claim, spec });
  };

  it('is handed to the bridge in the controller (program runs for the Service again)', async () => {
    const again: string[] = [];
    const { allocate, listed } = setup({ annotations: shared, mirrored: true, programAgain: (namespace, name) => again.push(`${namespace}/${name}`), beforeServiceStatus: unshare });
    await listed();
    expect((await allocate(objectInvocation('add', web))).kind).toBe('done');
    expect(again).toEqual(['shop/web']);
  });

  it('costs nothing when it did not move', async () => {
    const again: string[] = [];
    const { allocate, listed, router } = setup({ annotations: shared, mirrored: true, programAgain: (namespace, name) => again.push(`${namespace}/${name}`) });
    await listed();
    expect((await allocate(objectInvocation('add', web))).kind).toBe('done');
    expect(again).toEqual([]);
    expect(Object.values(router.state().menus).flat().filter((e) => /svc=ip-/.test(e.comment ?? ''))).toHaveLength(2);
  });
});

describe('an allocation of a sharing Service released while the hand-off writes the router', () => {
  // Its release (the claim's last holder) took the address's own entries off and freed the claim
  // before the hand-off's write put them back; the hand-off's status write then met the
  // allocation gone and settled the Service without it, but the address's entries are not the
  // Service's: the freed address stayed advertised and in the LB list until the resync.
  it('leaves neither the Service\'s entries of the address nor the address\'s own', async () => {
    const { kube, router, allocate } = setup({ annotations: { 'mikrolb.de/allow-shared-ip': 'web' } });
    const release = FUNCTIONS.release.handler({
      kube: kube.as('release'), router, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, now: NOW, log: silentLogger(),
      retry: { attempts: 5, pause: async () => undefined }, claimGraceMs: 60_000,
    });
    let released = false;
    const execute = router.execute.bind(router);
    router.execute = async (ops) => {
      if (!released) {
        released = true;
        // the Service asks for another address at once: allocate (another run) deletes the allocation
        const svc = ServiceSchema.parse(await kube.admin.get('Service', 'web', 'shop'));
        await kube.admin.replace('Service', { ...svc, metadata: { ...svc.metadata, annotations: { ...svc.metadata.annotations, 'mikrolb.de/load-balancer-ips': '192.0.2.99' } } });
        const [a] = await allocations(kube.port);
        if (!a) throw new Error('no allocation');
        await kube.admin.remove('IPAllocation', a.metadata.name);
        expect((await release(objectInvocation('update', { kind: 'IPAllocation', name: a.metadata.name }))).kind).toBe('done');
        expect(await kube.admin.list('IPAddressClaim')).toEqual([]);
      }
      return execute(ops);
    };
    await allocate(objectInvocation('add', web));
    expect(released).toBe(true);
    // no address is held: nothing advertises one or lists it
    expect(await kube.admin.list('IPAddressClaim')).toEqual([]);
    const comments = Object.values(router.state().menus).flat().map((e) => e.comment ?? '');
    expect(comments.filter((c) => /:(adv|lb-list|lb-jump):/.test(c))).toEqual([]);
  });
});

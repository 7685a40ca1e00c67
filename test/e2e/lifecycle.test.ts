import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { claimsOfPool, LABEL_SERVICE_NAME, LABEL_SERVICE_NAMESPACE } from '../../lib/k8s/keys.js';
import { getAllocation, getPool, getService, listAllocations, listClaims, listServices } from '../../lib/k8s/typed.js';
import type { RouterState } from '../../lib/router/state.js';
import { uninstallRouter } from '../../lib/cli/uninstall.js';
import { prepareGlobals } from '../../lib/core/router-program.js';
import { ownerOf } from '../../lib/router/index.js';
import { uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { SEED } from '../program/setup.js';
import { eventually, startE2E, type E2E } from './stack.js';

const ManagedSchema = z.object({ metadata: z.object({ managedFields: z.array(z.object({ manager: z.string(), subresource: z.string().optional() })) }) });

let e2e: E2E;
let make: ReturnType<typeof objects>;
const ns = uniq('life');
const pool = uniq('life-pool');
let foreignBefore = '';
const LB = { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' };

const ours = (s: RouterState, kind: 'service' | 'global' | 'any' = 'any') => Object.values(s.menus).flat()
  .filter((e) => {
    const owner = ownerOf(e.comment);
    return owner !== undefined && (kind === 'any' || owner.kind === kind);
  });
/** The families whose global rules are on the router. */
const globalFamilies = (s: RouterState): string[] => [...new Set(Object.entries(s.menus)
  .filter(([, es]) => es.some((e) => ownerOf(e.comment)?.kind === 'global')).map(([menu]) => (menu.startsWith('/ipv6/') ? 'IPv6' : 'IPv4')))].sort();
/** The router entries of one Service (by its uid). */
const entriesOf = (s: RouterState, uid: string | undefined) => ours(s, 'service').filter((e) => (e.comment ?? '').includes(`svc=${uid ?? '?'}:`));
const foreign = (s: RouterState): string => JSON.stringify(Object.entries(s.menus)
  .map(([m, es]) => [m, es.filter((e) => !(e.comment ?? '').startsWith('mikrolb:'))] as const).filter(([, es]) => es.length > 0));

async function service(name: string, annotations: Record<string, string> = { 'mikrolb.de/load-balancer-pools': pool }): Promise<void> {
  await make.service(ns, name, LB, annotations);
  await e2e.kube.create('EndpointSlice', {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-x`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.244.3.1'], conditions: { ready: true } }, { addresses: ['10.244.3.2'], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });
}

async function programmedIngress(name: string): Promise<string> {
  return eventually(async () => {
    const svc = await getService(e2e.kube, ns, name);
    const ip = svc?.status?.loadBalancer?.ingress?.[0]?.ip;
    if (!ip) throw new Error(`${name} has no ingress yet`);
    return ip;
  });
}

/** Deletes every Service of the namespace (what other tests left) and waits until each is released. */
async function releaseAll(): Promise<void> {
  const names = (await listServices(e2e.kube, ns)).items.map((svc) => svc.metadata.name);
  await Promise.all(names.map((n) => e2e.kube.remove('Service', n, ns)));
  for (const n of names) await gone(n);
}

async function gone(name: string): Promise<void> {
  await eventually(async () => {
    if (await e2e.kube.get('Service', name, ns)) throw new Error(`Service ${name} still exists`);
    const left = await listAllocations(e2e.kube, `${LABEL_SERVICE_NAMESPACE}=${ns},${LABEL_SERVICE_NAME}=${name}`);
    if (left.items.length > 0) throw new Error(`${left.items.length} allocation(s) of ${name} left`);
  });
}

beforeAll(async () => {
  e2e = await startE2E(SEED, { resyncIntervalMs: 4000 });
  foreignBefore = foreign(e2e.sim.state());
  make = objects(e2e.kube);
  await make.namespace(ns);
  await make.pool(pool, { ipFamily: 'IPv4', addresses: ['198.18.50.1-198.18.50.250'], autoAssign: false, interfaceName: 'ether1' });
});

afterAll(async () => {
  await make.cleanup();
  await e2e.stop();
});

describe('the whole lifecycle through the all-in-one controller (real API server, RouterOS simulator)', () => {
  it('a pool and a LoadBalancer Service: Programmed, ingress, router rules; deleting the Service releases everything', async () => {
    await service('web');
    const ip = await programmedIngress('web');
    const uid = (await getService(e2e.kube, ns, 'web'))?.metadata.uid;
    // the ingress is published once the address is allocated; Programmed follows the router
    await eventually(async () => {
      const [a] = await make.allocationsOf(ns, 'web');
      expect([a?.status?.phase, a?.status?.address]).toEqual(['Programmed', ip]);
    });
    expect(entriesOf(e2e.sim.state(), uid).some((x) => x.address === `${ip}/32`)).toBe(true);
    // each function's writes carry its name (User-Agent), which the API server records as their
    // field manager: allocate adds the finalizer; the status is allocate's (its hand-off) or program's
    const { metadata } = ManagedSchema.parse(await e2e.kube.get('Service', 'web', ns));
    expect(metadata.managedFields.filter((f) => f.subresource === undefined && f.manager.startsWith('mikrolb-')).map((f) => f.manager)).toEqual(['mikrolb-allocate']);
    expect(['mikrolb-allocate', 'mikrolb-program']).toContain(metadata.managedFields.find((f) => f.subresource === 'status')?.manager);
    await e2e.kube.remove('Service', 'web', ns);
    await gone('web');
    await eventually(async () => expect((await listClaims(e2e.kube, claimsOfPool(pool))).items.filter((c) => c.spec.address === ip)).toEqual([]));
    await eventually(async () => expect(entriesOf(e2e.sim.state(), uid)).toEqual([]));
  });

  it('deleting a Service while its allocation is still being programmed', async () => {
    e2e.sim.faults.delayReplies(400);
    let uid: string | undefined;
    try {
      await service('hasty');
      uid = (await getService(e2e.kube, ns, 'hasty'))?.metadata.uid;
      await eventually(async () => expect((await make.allocationsOf(ns, 'hasty')).length).toBe(1));
      await e2e.kube.remove('Service', 'hasty', ns);
      await gone('hasty');
    } finally {
      e2e.sim.faults.delayReplies(0);
    }
    await eventually(async () => expect(entriesOf(e2e.sim.state(), uid)).toEqual([]));
  });

  it('deleting and re-creating a Service with the same name quickly: only the new uid remains, with its old address', async () => {
    await service('again');
    const firstIp = await programmedIngress('again');
    const first = await getService(e2e.kube, ns, 'again');
    await e2e.kube.remove('Service', 'again', ns);
    await e2e.kube.remove('EndpointSlice', 'again-x', ns);
    await eventually(async () => expect(await e2e.kube.get('Service', 'again', ns)).toBeUndefined());
    await service('again');
    // the search starts from a hash of namespace/name/family, not of the uid: the address comes back
    expect(await programmedIngress('again')).toBe(firstIp);
    const second = await getService(e2e.kube, ns, 'again');
    expect(second?.metadata.uid).not.toBe(first?.metadata.uid);
    await eventually(async () => {
      expect(entriesOf(e2e.sim.state(), first?.metadata.uid)).toEqual([]);
      expect(entriesOf(e2e.sim.state(), second?.metadata.uid)).not.toEqual([]);
      const allocs = await make.allocationsOf(ns, 'again');
      expect(allocs.map((x) => x.metadata.labels?.['mikrolb.de/service-uid'])).toEqual([second?.metadata.uid]);
    });
  });

  it('changing annotations replaces one allocation by another, releasing the old address', async () => {
    const other = uniq('life-other');
    await make.pool(other, { ipFamily: 'IPv4', addresses: ['198.18.51.10-198.18.51.20'], autoAssign: false, interfaceName: 'ether1' });
    await service('moving');
    const before = await programmedIngress('moving');
    const svc = await getService(e2e.kube, ns, 'moving');
    if (!svc) throw new Error('gone');
    await e2e.kube.replace('Service', { ...svc, metadata: { ...svc.metadata, annotations: { 'mikrolb.de/load-balancer-pools': other } } });
    await eventually(async () => {
      const ip = (await getService(e2e.kube, ns, 'moving'))?.status?.loadBalancer?.ingress?.map((i) => i.ip);
      expect(ip).toEqual([expect.stringMatching(/^198\.18\.51\./)]);
      expect((await listClaims(e2e.kube, claimsOfPool(pool))).items.some((c) => c.spec.address === before)).toBe(false);
      expect(ours(e2e.sim.state(), 'service').some((x) => x.address === `${before}/32`)).toBe(false);
    });
  });

  it('deleting a pool in use waits (with a condition naming the holders), then goes once it is free', async () => {
    const p = uniq('life-held');
    await make.pool(p, { ipFamily: 'IPv4', addresses: ['198.18.52.10-198.18.52.11'], autoAssign: false, interfaceName: 'ether1' });
    await eventually(async () => expect((await getPool(e2e.kube, p))?.metadata.finalizers).toContain('mikrolb.de/finalizer'));
    await service('holder', { 'mikrolb.de/load-balancer-pools': p });
    await programmedIngress('holder');
    await e2e.kube.remove('IPPool', p);
    await eventually(async () => {
      const status = (await getPool(e2e.kube, p))?.status;
      expect(status?.conditions?.find((x) => x.type === 'DeletionBlocked')).toMatchObject({ status: 'True', reason: 'AddressesInUse', message: expect.stringContaining('1 IPAllocation(s) still hold addresses') });
      // it hands out nothing meanwhile, and says so
      expect(status?.conditions?.find((x) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Deleting' });
      expect(status).toMatchObject({ totalAddresses: '2', allocatedAddresses: '1', freeAddresses: '0' });
    });
    await e2e.kube.remove('Service', 'holder', ns);
    await gone('holder');
    await eventually(async () => expect(await e2e.kube.get('IPPool', p)).toBeUndefined());
  });

  it('uninstalling as docs/installation.md says: a reservation holds its pool until the selector of step 1 deletes it; then nothing of either is left', async () => {
    const p = uniq('life-reserved');
    const reservation = uniq('life-reservation');
    await make.pool(p, { ipFamily: 'IPv4', addresses: ['198.18.53.10-198.18.53.11'], autoAssign: false, interfaceName: 'ether1' });
    await make.allocation(reservation, { address: '198.18.53.10' });
    await eventually(async () => {
      expect((await getAllocation(e2e.kube, reservation))?.metadata.finalizers).toContain('mikrolb.de/finalizer');
      expect(ours(e2e.sim.state(), 'service').some((e) => e.address === '198.18.53.10/32')).toBe(true);
    });
    // deleting the Services releases their allocations, not a reservation: the pool waits for it
    await e2e.kube.remove('IPPool', p);
    await eventually(async () => {
      expect((await getPool(e2e.kube, p))?.status?.conditions?.find((x) => x.type === 'DeletionBlocked')).toMatchObject({ status: 'True', message: expect.stringContaining(reservation) });
    });
    // step 1's `kubectl delete ipallocations -l '!mikrolb.de/service-uid'` finds exactly the reservations
    const selected = (await listAllocations(e2e.kube, '!mikrolb.de/service-uid')).items.map((a) => a.metadata.name);
    expect(selected).toContain(reservation);
    expect((await listAllocations(e2e.kube)).items.filter((a) => !selected.includes(a.metadata.name)).every((a) => a.metadata.labels?.['mikrolb.de/service-uid'])).toBe(true);
    await e2e.kube.remove('IPAllocation', reservation);
    await eventually(async () => {
      expect(await e2e.kube.get('IPAllocation', reservation)).toBeUndefined();
      expect(await e2e.kube.get('IPPool', p)).toBeUndefined();
      expect((await listClaims(e2e.kube, claimsOfPool(p))).items).toEqual([]);
      expect(ours(e2e.sim.state(), 'service').filter((e) => e.address === '198.18.53.10/32')).toEqual([]);
    });
  });

  it('a router that is down during deletions: finalizers stay, Warning events say why, and everything completes after it returns', async () => {
    await service('outage');
    await programmedIngress('outage');
    e2e.sim.faults.goAway();
    try {
      await e2e.kube.remove('Service', 'outage', ns);
      await eventually(async () => {
        const svc = await getService(e2e.kube, ns, 'outage');
        expect(svc?.metadata.deletionTimestamp).toBeDefined();
        expect(svc?.metadata.finalizers).toContain('mikrolb.de/finalizer');
        const events = await e2e.kube.list('Event', { namespace: ns });
        expect(events.some((ev) => JSON.stringify(ev).includes('ReleaseFailed'))).toBe(true);
      });
    } finally {
      e2e.sim.faults.comeBack();
    }
    await gone('outage');
  });

  it('200 Services created and deleted leave no mikrolb: entry but the globals of the pools\' family, empty ledgers, no finalizers', async () => {
    await releaseAll(); // a router with nothing of this file's Services on it
    const names = Array.from({ length: Number(process.env.MIKROLB_E2E_BULK ?? 200) }, (_, i) => `bulk-${i}`);
    for (let i = 0; i < names.length; i += 20) await Promise.all(names.slice(i, i + 20).map((n) => service(n)));
    await eventually(async () => {
      const allocs = (await listAllocations(e2e.kube)).items.filter((a) => a.metadata.labels?.[LABEL_SERVICE_NAMESPACE] === ns && a.status?.phase === 'Programmed');
      expect(allocs.length).toBeGreaterThanOrEqual(names.length);
    }, 180_000, 1000);
    for (let i = 0; i < names.length; i += 20) await Promise.all(names.slice(i, i + 20).map((n) => e2e.kube.remove('Service', n, ns)));
    await eventually(async () => {
      expect((await listAllocations(e2e.kube)).items.filter((a) => a.metadata.labels?.[LABEL_SERVICE_NAMESPACE] === ns && a.metadata.labels?.[LABEL_SERVICE_NAME]?.startsWith('bulk-'))).toEqual([]);
      expect(ours(e2e.sim.state(), 'service').map((e) => e.comment)).toEqual([]);
    }, 180_000, 1000);
    expect((await listClaims(e2e.kube, claimsOfPool(pool))).items.map((c) => c.spec.address)).toEqual([]);
    for (const n of names) expect(await e2e.kube.get('Service', n, ns)).toBeUndefined();
    // the garbage collector (release on resync) keeps the global rules of a family a pool
    // serves (this file's pools are IPv4) and removes those of a family nothing uses: IPv6's,
    // written here as the controller's start would write them for an IPv6 pool
    expect(await prepareGlobals(e2e.router, ['IPv6'])).not.toEqual([]);
    await eventually(async () => expect(globalFamilies(e2e.sim.state())).toEqual(['IPv4']), 60_000, 1000);
    expect(ours(e2e.sim.state(), 'service')).toEqual([]);
    expect(foreign(e2e.sim.state())).toBe(foreignBefore);
    const metrics = await (await fetch(`http://127.0.0.1:${e2e.controller.bridge.port}/metrics`)).text();
    expect(metrics).toMatch(/^mikrolb_gc_collected_total\{what="globalRules"\} [1-9]\d*$/m);
  }, 400_000);

  // Stops the file's controller: it stays the last test (it needs nothing an earlier one made).
  it('mikrolb uninstall --router removes every mikrolb: entry and leaves the foreign ones byte-identical', async () => {
    await service('last');
    await programmedIngress('last');
    await e2e.controller.stop();
    expect(ours(e2e.sim.state()).length).toBeGreaterThan(0);
    let out = '';
    expect(await uninstallRouter(e2e.router, false, { stdout: { write: (t: string) => (out += t) }, stderr: { write: () => undefined } })).toBe(0);
    expect(out).toMatch(/removed \d+ entries/);
    expect(ours(e2e.sim.state())).toEqual([]);
    expect(foreign(e2e.sim.state())).toBe(foreignBefore);
  });
});

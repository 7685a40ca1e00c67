import { describe, expect, it } from 'vitest';
import { sharedSeedOf } from '../../lib/core/assign.js';
import { viewPools } from '../../lib/core/pools.js';
import { holdersOf } from '../../lib/core/sharing.js';
import { formatAddress, startFor } from '../../lib/ip/index.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { IPAddressClaimSchema, IPAllocationSchema, IPPoolSchema } from '../../lib/k8s/schemas.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { silentLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * allocate with shared addresses: Services with one key join one address on ports that do not
 * overlap; a Service whose ports change so that they clash with another holder's leaves the
 * address (its explicit address then fails AddressAlreadyUsed) and the other keeps it; a
 * Service that gains a key while it holds its address alone keeps it, now shared.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const ADDRESS = '192.0.2.53';
const POOL = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan' },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true },
};

function service(name: string, protocol: string, port: number, annotations: Record<string, string> = { 'mikrolb.de/allow-shared-ip': 'dns' }) {
  return {
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop', annotations: { 'mikrolb.de/load-balancer-ips': ADDRESS, ...annotations } },
    spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port, protocol }] },
  };
}

function setup(objects: unknown[]) {
  const kube = memoryPortAs('allocate', { objects: [POOL, ...objects], now: NOW });
  const allocate = createAllocate({
    kube: kube.port, now: NOW, log: silentLogger(), retry: { attempts: 10, pause: async () => undefined },
    classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
  });
  const run = async (name: string): Promise<void> => {
    expect((await allocate(objectInvocation('update', { kind: 'Service', namespace: 'shop', name }))).kind).toBe('done');
  };
  const allocationOf = async (name: string) => {
    const all = (await kube.admin.list('IPAllocation')).map((a) => IPAllocationSchema.parse(a));
    return all.find((a) => a.metadata.labels?.['mikrolb.de/service-name'] === name);
  };
  const state = async (name: string): Promise<string> => {
    const s = (await allocationOf(name))?.status;
    return `${s?.phase ?? '-'} ${s?.address ?? s?.conditions?.find((c) => c.type === 'Ready')?.reason ?? '-'}`;
  };
  const ports = async (): Promise<Record<string, string[]>> => {
    const raw = await kube.admin.get('IPAddressClaim', ADDRESS);
    const names = new Map<string, string>();
    for (const n of ['tcp', 'udp', 'web']) names.set((await allocationOf(n))?.metadata.uid ?? '', n);
    return Object.fromEntries((raw ? holdersOf(IPAddressClaimSchema.parse(raw).spec) : []).map((h) => [names.get(h.allocationUID) ?? h.allocationName, h.ports.map((p) => `${p.protocol}/${p.port}`)]));
  };
  const holders = async (): Promise<string[]> => Object.keys(await ports());
  const edit = async (name: string, change: (svc: ReturnType<typeof ServiceSchema.parse>) => ReturnType<typeof ServiceSchema.parse>): Promise<void> => {
    await kube.admin.replace('Service', change(ServiceSchema.parse(await kube.admin.get('Service', name, 'shop'))));
  };
  const claimLabels = async (): Promise<Record<string, string>> => {
    const raw = await kube.admin.get('IPAddressClaim', ADDRESS);
    return raw ? IPAddressClaimSchema.parse(raw).metadata.labels ?? {} : {};
  };
  const remove = async (name: string): Promise<void> => {
    const a = await allocationOf(name);
    await kube.admin.remove('Service', name, 'shop');
    if (a) await kube.admin.remove('IPAllocation', a.metadata.name);
  };
  return { run, state, holders, ports, edit, claimLabels, allocationOf, remove, kube };
}

describe('allocate and shared addresses', () => {
  it('DNS over TCP and UDP share one address; a port change that clashes makes the changed Service leave it', async () => {
    const s = setup([service('tcp', 'TCP', 53), service('udp', 'UDP', 53)]);
    await s.run('tcp');
    await s.run('udp');
    expect([await s.state('tcp'), await s.state('udp')]).toEqual([`Allocated ${ADDRESS}`, `Allocated ${ADDRESS}`]);
    expect(await s.holders()).toEqual(['tcp', 'udp']);

    await s.edit('udp', (svc) => ({ ...svc, spec: { ...svc.spec, ports: [{ port: 53, protocol: 'TCP' }] } }));
    await s.run('udp');
    expect([await s.state('tcp'), await s.state('udp')]).toEqual([`Allocated ${ADDRESS}`, 'Failed AddressAlreadyUsed']);
    expect(await s.holders()).toEqual(['tcp']);
  });

  it('a port change that still fits is recorded on the claim', async () => {
    const s = setup([service('tcp', 'TCP', 53), service('udp', 'UDP', 53)]);
    await s.run('tcp');
    await s.run('udp');
    await s.edit('udp', (svc) => ({ ...svc, spec: { ...svc.spec, ports: [{ port: 5353, protocol: 'UDP' }] } }));
    await s.run('udp');
    expect(await s.state('udp')).toBe(`Allocated ${ADDRESS}`);
    expect(await s.ports()).toEqual({ tcp: ['TCP/53'], udp: ['UDP/5353'] });
  });

  it('a Service alone on a shared address it did not create that drops its key (an update of the Service) keeps it as its own, labelled with it', async () => {
    // found by the chaos suite (seed 1823417966): the claim kept its creator's service-uid label
    const s = setup([
      { ...service('tcp', 'TCP', 53), metadata: { ...service('tcp', 'TCP', 53).metadata, uid: 'svc-tcp' } },
      { ...service('udp', 'UDP', 53), metadata: { ...service('udp', 'UDP', 53).metadata, uid: 'svc-udp' } },
    ]);
    await s.run('tcp');
    await s.run('udp');
    expect((await s.claimLabels())['mikrolb.de/service-uid']).toBe('svc-tcp');
    // tcp goes (its claim left as release leaves it: udp holds the shared address alone)
    const tcp = await s.allocationOf('tcp');
    const raw = IPAddressClaimSchema.parse(await s.kube.admin.get('IPAddressClaim', ADDRESS));
    const rest = holdersOf(raw.spec).filter((h) => h.allocationUID !== tcp?.metadata.uid);
    await s.kube.admin.replace('IPAddressClaim', { ...raw, spec: { ...raw.spec, allocationName: rest[0]?.allocationName, allocationUID: rest[0]?.allocationUID, holders: rest } });
    await s.remove('tcp');
    await s.edit('udp', (svc) => ({ ...svc, metadata: { ...svc.metadata, annotations: { 'mikrolb.de/load-balancer-ips': ADDRESS } } }));
    await s.run('udp');
    expect(await s.state('udp')).toBe(`Allocated ${ADDRESS}`);
    const after = IPAddressClaimSchema.parse(await s.kube.admin.get('IPAddressClaim', ADDRESS));
    expect(after.spec.sharingKey).toBeUndefined();
    expect(after.metadata.labels?.['mikrolb.de/service-uid']).toBe('svc-udp');
  });

  it('a Service alone on the shared address it created that drops its key keeps it, no longer shared', async () => {
    // a claim left shared would keep the address's shared router entries, which the Service's
    // own (planned as not shared once it has no key) would clash with on the router
    const s = setup([service('web', 'TCP', 443)]);
    await s.run('web');
    expect(IPAddressClaimSchema.parse(await s.kube.admin.get('IPAddressClaim', ADDRESS)).spec.sharingKey).toBe('dns');
    await s.edit('web', (svc) => ({ ...svc, metadata: { ...svc.metadata, annotations: { 'mikrolb.de/load-balancer-ips': ADDRESS } } }));
    await s.run('web');
    expect(await s.state('web')).toBe(`Allocated ${ADDRESS}`);
    const after = IPAddressClaimSchema.parse(await s.kube.admin.get('IPAddressClaim', ADDRESS));
    expect({ key: after.spec.sharingKey, holders: after.spec.holders }).toEqual({ key: undefined, holders: undefined });
  });

  it('a Service that gains a key while it holds its address alone keeps it, and others may join', async () => {
    const s = setup([service('web', 'TCP', 443, {}), service('tcp', 'TCP', 53)]);
    await s.run('web');
    await s.run('tcp');
    expect([await s.state('web'), await s.state('tcp')]).toEqual([`Allocated ${ADDRESS}`, 'Failed AddressAlreadyUsed']);
    await s.edit('web', (svc) => ({ ...svc, metadata: { ...svc.metadata, annotations: { ...svc.metadata.annotations, 'mikrolb.de/allow-shared-ip': 'dns' } } }));
    await s.run('web');
    await s.run('tcp');
    expect([await s.state('web'), await s.state('tcp')]).toEqual([`Allocated ${ADDRESS}`, `Allocated ${ADDRESS}`]);
    expect(await s.holders()).toEqual(['web', 'tcp']);
  });
});

describe('Services with one key and no explicit address, created together', () => {
  // seen on `kubectl apply` of DNS over TCP and UDP with only a key: two instances deciding at
  // once each took a fresh address from its own Service's start, so the two never shared
  function keyed(name: string, protocol: string, namespace = 'shop') {
    return {
      apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, annotations: { 'metallb.io/allow-shared-ip': 'dns' } },
      spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 53, protocol }] },
    };
  }

  async function allocateTogether(services: ReturnType<typeof keyed>[], held: object[] = []): Promise<Map<string, string | undefined>> {
    const kube = memoryPortAs('allocate', { objects: [POOL, ...held, ...services], now: NOW });
    // one allocate instance per Service, as the bridge's concurrent invocations may be
    const instances = services.map(() => createAllocate({
      kube: kube.port, now: NOW, log: silentLogger(), retry: { attempts: 10, pause: async () => undefined },
      classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
    }));
    const outcomes = await Promise.all(services.map((s, i) => instances[i]?.(objectInvocation('add', { kind: 'Service', namespace: s.metadata.namespace, name: s.metadata.name }))));
    expect(outcomes.map((o) => o?.kind)).toEqual(services.map(() => 'done'));
    const all = (await kube.admin.list('IPAllocation')).map((a) => IPAllocationSchema.parse(a));
    return new Map(all.filter((a) => a.metadata.labels?.['mikrolb.de/service-name'] !== undefined).map((a) => [`${a.metadata.labels?.['mikrolb.de/service-namespace']}/${a.metadata.labels?.['mikrolb.de/service-name']}`, a.status?.address]));
  }

  it('land on one address, whichever namespace each is in', async () => {
    for (const pair of [[keyed('dns-tcp', 'TCP'), keyed('dns-udp', 'UDP')], [keyed('dns', 'TCP', 'a'), keyed('dns', 'UDP', 'b')], [keyed('x', 'UDP'), keyed('y', 'TCP')]]) {
      const got = await allocateTogether(pair);
      const addresses = [...got.values()];
      expect(addresses).toHaveLength(2);
      expect(addresses[0]).toMatch(/^192\.0\.2\.\d+$/);
      expect(addresses[1]).toBe(addresses[0]);
    }
  });

  it("land on one address when another Service holds the key's first try", async () => {
    // the address the key tries first, as a first pair of keyed Services gets it
    const first = [...(await allocateTogether([keyed('dns-tcp', 'TCP'), keyed('dns-udp', 'UDP')])).values()][0] ?? '';
    const unkeyed = {
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: first },
      spec: { address: first, poolName: 'lan', allocationName: 'ip-other', allocationUID: 'uid-other' },
    };
    // its holder lives (a claim whose allocation is gone is freed by the first to meet it)
    const holder = { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'ip-other', uid: 'uid-other' }, spec: { address: first } };
    for (const pair of [[keyed('dns-tcp', 'TCP'), keyed('dns-udp', 'UDP')], [keyed('x', 'UDP'), keyed('y', 'TCP')]]) {
      const addresses = [...(await allocateTogether(pair, [unkeyed, holder])).values()];
      expect(addresses).toHaveLength(2);
      expect(addresses[0]).toMatch(/^192\.0\.2\.\d+$/);
      expect(addresses[0]).not.toBe(first);
      expect(addresses[1]).toBe(addresses[0]);
    }
  });

  it('whose ports clash still get different addresses', async () => {
    const got = await allocateTogether([keyed('one', 'TCP'), keyed('two', 'TCP')]);
    const addresses = [...got.values()];
    expect(addresses.every((a) => a !== undefined)).toBe(true);
    expect(new Set(addresses).size).toBe(2);
  });
});

describe('Services with one key created again while the instance remembers the old ones', () => {
  // seen with `kubectl delete -f dns.yaml && kubectl apply -f dns.yaml`: the instance's hint
  // still showed the old TCP Service's address shared under the key (joinable for the new UDP
  // one) and the old UDP Service's (joinable for the new TCP one); each took the other's
  // former address, and the two never shared
  it('join one address', async () => {
    const keyed = (name: string, protocol: string) => ({
      apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop', annotations: { 'mikrolb.de/allow-shared-ip': 'dns' } },
      spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 53, protocol }] },
    });
    const claim = (address: string, holder: string, protocol: string) => ({
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: address },
      spec: { address, poolName: 'lan', allocationName: holder, allocationUID: `uid-${holder}`, sharingKey: 'dns', holders: [{ allocationName: holder, allocationUID: `uid-${holder}`, ports: [{ protocol, port: 53 }] }] },
    });
    const kube = memoryPortAs('allocate', { objects: [POOL, claim('192.0.2.11', 'old-tcp', 'TCP'), claim('192.0.2.20', 'old-udp', 'UDP'), keyed('first', 'TCP')], now: NOW });
    const allocate = createAllocate({
      kube: kube.port, now: NOW, log: silentLogger(), retry: { attempts: 10, pause: async () => undefined },
      classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
    });
    // a Service of another key makes the instance read the claims
    const other = { ...keyed('other', 'TCP'), metadata: { name: 'other', namespace: 'shop', annotations: { 'mikrolb.de/allow-shared-ip': 'web' } } };
    await kube.admin.create('Service', other);
    expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'other' }))).kind).toBe('done');
    // the old Services are released, their claims freed by another instance
    await kube.admin.remove('IPAddressClaim', '192.0.2.11');
    await kube.admin.remove('IPAddressClaim', '192.0.2.20');
    await kube.admin.remove('Service', 'first', 'shop');
    await kube.admin.create('Service', keyed('dns-tcp', 'TCP'));
    await kube.admin.create('Service', keyed('dns-udp', 'UDP'));
    const outcomes = await Promise.all(['dns-tcp', 'dns-udp'].map((name) => allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name }))));
    expect(outcomes.map((o) => o.kind)).toEqual(['done', 'done']);
    const all = (await kube.admin.list('IPAllocation')).map((a) => IPAllocationSchema.parse(a));
    const addressOf = (name: string) => all.find((a) => a.metadata.labels?.['mikrolb.de/service-name'] === name)?.status?.address;
    expect(addressOf('dns-tcp')).toMatch(/^192\.0\.2\.\d+$/);
    expect(addressOf('dns-udp')).toBe(addressOf('dns-tcp'));
  });
});

describe('Services with one key deleted and created again, twice, in one instance', () => {
  // seen the same way, the second time: the hint showed the old address shared with both
  // ports (joinable for neither); one new Service found it freed and took it, the other found
  // it held again (by the first) and took the next free address without looking at its holders
  it('stay on one address each time', async () => {
    const keyed = (name: string, protocol: string) => ({
      apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop', annotations: { 'mikrolb.de/allow-shared-ip': 'dns' } },
      spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 53, protocol }] },
    });
    const kube = memoryPortAs('allocate', { objects: [POOL], now: NOW });
    const allocate = createAllocate({
      kube: kube.port, now: NOW, log: silentLogger(), retry: { attempts: 10, pause: async () => undefined },
      classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
    });
    const addresses: (string | undefined)[][] = [];
    for (let round = 0; round < 3; round++) {
      // new names each round (the old Services are gone but for our finalizer): the key matters
      const names = [`tcp-${round}`, `udp-${round}`];
      await kube.admin.create('Service', keyed(`tcp-${round}`, 'TCP'));
      await kube.admin.create('Service', keyed(`udp-${round}`, 'UDP'));
      // the TCP Service decides first; the UDP one starts while the first claim is being made
      const tcp = allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: names[0] ?? '' }));
      await new Promise((r) => setTimeout(r, round));
      const udp = allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: names[1] ?? '' }));
      expect([(await tcp).kind, (await udp).kind]).toEqual(['done', 'done']);
      const all = (await kube.admin.list('IPAllocation')).map((a) => IPAllocationSchema.parse(a));
      addresses.push(names.map((n) => all.find((a) => a.metadata.labels?.['mikrolb.de/service-name'] === n)?.status?.address));
      // released by another instance: allocations and claims gone
      for (const a of all) await kube.admin.remove('IPAllocation', a.metadata.name);
      for (const c of await kube.admin.list('IPAddressClaim')) await kube.admin.remove('IPAddressClaim', IPAddressClaimSchema.parse(c).metadata.name);
    }
    for (const [tcp, udp] of addresses) {
      expect(tcp).toMatch(/^192\.0\.2\.\d+$/);
      expect(udp).toBe(tcp);
    }
  });
});

describe('many Services of one key whose ports clash, created together', () => {
  const keyStart = (): string => {
    const view = viewPools([IPPoolSchema.parse(POOL)])[0];
    const v = view ? startFor(sharedSeedOf('everything', 'IPv4'), view.owned) : undefined;
    return v === undefined ? '' : formatAddress('IPv4', v);
  };
  // with the key's first try free, and held by another Service (they then walk on from it
  // together until one claim shows the clash)
  it.each([['free', false], ['held by another Service', true]])('each gets an address of its own without queueing on one another (first try %s)', async (_what, held) => {
    const n = 16;
    const services = Array.from({ length: n }, (_, i) => ({
      apiVersion: 'v1', kind: 'Service', metadata: { name: `app-${i}`, namespace: 'shop', annotations: { 'mikrolb.de/allow-shared-ip': 'everything' } },
      spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 443, protocol: 'TCP' }] },
    }));
    let claimCreates = 0;
    const other = { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: keyStart() }, spec: { address: keyStart(), poolName: 'lan', allocationName: 'ip-other', allocationUID: 'uid-other' } };
    const holder = { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'ip-other', uid: 'uid-other' }, spec: { address: keyStart() } };
    const kube = memoryPortAs('allocate', { objects: [POOL, ...(held ? [other, holder] : []), ...services], now: NOW, beforeWrite: (w) => { if (w.verb === 'create' && w.kind === 'IPAddressClaim') claimCreates++; } });
    const allocate = createAllocate({
      kube: kube.port, now: NOW, log: silentLogger(), retry: { attempts: 10, pause: async () => undefined },
      classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
    });
    const outcomes = await Promise.all(services.map((s) => allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: s.metadata.name }))));
    expect(outcomes.every((o) => o.kind === 'done')).toBe(true);
    const addresses = (await kube.admin.list('IPAllocation')).map((a) => IPAllocationSchema.parse(a)).filter((a) => a.metadata.name !== 'ip-other').map((a) => a.status?.address);
    expect(addresses.every((a) => a !== undefined)).toBe(true);
    expect(new Set(addresses).size).toBe(n);
    expect(addresses).not.toContain(held ? keyStart() : '');
    // all want the key's address (or the first free one after it) first, one gets it; the
    // others each walk from their own start
    expect(claimCreates).toBeLessThanOrEqual(2 * n);
  });
});

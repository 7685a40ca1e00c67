import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { IPAddressClaimSchema, IPAllocationSchema, IPPoolSchema, type IPPool } from '../../lib/k8s/schemas.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A Service that held an address of a scoped pool and no longer matches its scope (its
 * namespace's labels changed) gives the address back at the resync and is allocated again from
 * a pool that serves it; the Namespace is read only because a pool selects namespaces by label.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const pool = (name: string, cidr: string, created: string, serviceAllocation?: unknown) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name, creationTimestamp: created },
  spec: { ipFamily: 'IPv4', addresses: [cidr], ...(serviceAllocation ? { serviceAllocation } : {}) },
  status: { claimsAdopted: true },
});
const namespace = (tenant: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { tenant } } });

describe('allocate: a Service leaving a pool scope', () => {
  it('keeps its scoped address while it matches, and moves at the resync once it no longer does', async () => {
    const kube = memoryPortAs('allocate', {
      now: NOW,
      objects: [
        pool('shared', '192.0.2.0/28', '2026-01-01T00:00:00Z'),
        pool('tenant-a', '10.1.0.0/28', '2026-01-02T00:00:00Z', { namespaceSelectors: [{ matchLabels: { tenant: 'a' } }] }),
        namespace('a'),
        {
          apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', uid: 'svc-uid' },
          spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP' }] },
        },
      ],
    });
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: memoryLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false } });
    const addresses = async () => (await kube.admin.list('IPAllocation')).map((a) => IPAllocationSchema.parse(a).status?.address);
    const claims = async () => (await kube.admin.list('IPAddressClaim')).map((c) => IPAddressClaimSchema.parse(c).spec.poolName);

    expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    expect(await addresses()).toEqual([expect.stringMatching(/^10\.1\.0\./)]);
    expect((await allocate({ type: 'resync', id: 'r1', source: 'test' })).kind).toBe('done');
    expect(await claims()).toEqual(['tenant-a']);

    await kube.admin.replace('Namespace', namespace('b'));
    expect((await allocate({ type: 'resync', id: 'r2', source: 'test' })).kind).toBe('done');
    expect(await addresses()).toEqual([expect.stringMatching(/^192\.0\.2\./)]);
    expect(await claims()).toEqual(['shared']);
  });
});

describe("allocate: a Namespace's labels change (its update event)", () => {
  const setup = (pools: unknown[]) => {
    const kube = memoryPortAs('allocate', {
      now: NOW,
      objects: [
        ...pools, namespace('a'),
        {
          apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', uid: 'svc-uid' },
          spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP' }] },
        },
      ],
    });
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: memoryLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false } });
    const addresses = async () => (await kube.admin.list('IPAllocation')).map((a) => IPAllocationSchema.parse(a).status?.address);
    return { kube, allocate, addresses };
  };

  it('moves a Service a scoped pool no longer serves at once, not at the resync, and back when it is served again', async () => {
    const c = setup([
      pool('shared', '192.0.2.0/28', '2026-01-01T00:00:00Z'),
      pool('tenant-a', '10.1.0.0/28', '2026-01-02T00:00:00Z', { namespaceSelectors: [{ matchLabels: { tenant: 'a' } }] }),
    ]);
    expect((await c.allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    expect(await c.addresses()).toEqual([expect.stringMatching(/^10\.1\.0\./)]);

    await c.kube.admin.replace('Namespace', namespace('b'));
    expect((await c.allocate(objectInvocation('update', { kind: 'Namespace', name: 'shop' }))).kind).toBe('done');
    expect(await c.addresses()).toEqual([expect.stringMatching(/^192\.0\.2\./)]);

    // served by the scoped pool again: an unscoped address it holds is kept (it still fits)
    await c.kube.admin.replace('Namespace', namespace('a'));
    const writes = c.kube.writes.length;
    expect((await c.allocate(objectInvocation('update', { kind: 'Namespace', name: 'shop' }))).kind).toBe('done');
    expect(await c.addresses()).toEqual([expect.stringMatching(/^192\.0\.2\./)]);
    expect(c.kube.writes.length).toBe(writes);
  });

  it('with no pool selecting namespaces by label, checks no Service and writes nothing', async () => {
    const c = setup([pool('shared', '192.0.2.0/28', '2026-01-01T00:00:00Z'), pool('named', '10.1.0.0/28', '2026-01-02T00:00:00Z', { namespaces: ['shop'] })]);
    expect((await c.allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    const writes = c.kube.writes.length;
    const res = await c.allocate(objectInvocation('update', { kind: 'Namespace', name: 'shop' }));
    expect(res).toMatchObject({ kind: 'done', body: { actions: ['nothing to check for Namespace shop: no pool selects namespaces by label'] } });
    expect(c.kube.writes.length).toBe(writes);
  });
});

describe('allocate: a pool whose scope changes', () => {
  // found using the product: a Service labelled out of a pool's scope moved at once (its update
  // reaches allocate), but the pool's own scope changed moved nobody until the resync
  it('moves the Services it no longer serves at once (its update reaches allocate), and no other', async () => {
    const service = (name: string, tier: string) => ({
      apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop', uid: `uid-${name}`, labels: { tier } },
      spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP' }] },
    });
    const kube = memoryPortAs('allocate', {
      now: NOW,
      objects: [
        pool('shared', '192.0.2.0/28', '2026-01-01T00:00:00Z'),
        pool('premium', '10.1.0.0/28', '2026-01-02T00:00:00Z', { priority: 1, serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold', 'platinum'] }] }] }),
        service('gold', 'gold'), service('platinum', 'platinum'),
      ],
    });
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: memoryLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false } });
    const poolOf = async (name: string) => {
      const a = (await kube.admin.list('IPAllocation')).map((x) => IPAllocationSchema.parse(x)).find((x) => x.metadata.labels?.['mikrolb.de/service-name'] === name);
      return a?.status?.address?.startsWith('10.1.0.') ? 'premium' : a?.status?.address?.startsWith('192.0.2.') ? 'shared' : a?.status?.address;
    };
    for (const name of ['gold', 'platinum']) expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name }))).kind).toBe('done');
    expect((await allocate(objectInvocation('add', { kind: 'IPPool', name: 'premium' }))).kind).toBe('done');
    expect([await poolOf('gold'), await poolOf('platinum')]).toEqual(['premium', 'premium']);

    const premium = await kube.admin.get('IPPool', 'premium');
    if (typeof premium !== 'object' || premium === null) throw new Error('no pool');
    await kube.admin.replace('IPPool', { ...pool('premium', '10.1.0.0/28', '2026-01-02T00:00:00Z', { priority: 1, serviceSelectors: [{ matchLabels: { tier: 'platinum' } }] }), metadata: { ...IPPoolSchema.parse(premium).metadata } });
    const writes = kube.writes.length;
    expect((await allocate(objectInvocation('update', { kind: 'IPPool', name: 'premium' }))).kind).toBe('done');
    expect([await poolOf('gold'), await poolOf('platinum')]).toEqual(['shared', 'premium']);
    // the pool's next recount (a claim freed, say) checks nobody again
    const after = kube.writes.length;
    expect(after).toBeGreaterThan(writes);
    expect((await allocate(objectInvocation('update', { kind: 'IPPool', name: 'premium' }))).kind).toBe('done');
    expect(kube.writes.slice(after).filter((w) => w.kind !== 'IPPool')).toEqual([]);
  });
});

describe('allocate: a Service that shares an address leaves a pool scope', () => {
  const keyed = (name: string, protocol: string, tier: string) => ({
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop', uid: `uid-${name}`, labels: { tier }, annotations: { 'mikrolb.de/allow-shared-ip': 'dns' } },
    spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 53, protocol }] },
  });

  /** DNS over TCP and UDP sharing an address of the gold tier's pool. */
  async function sharing() {
    const kube = memoryPortAs('allocate', {
      now: NOW,
      objects: [
        pool('shared', '192.0.2.0/28', '2026-01-01T00:00:00Z'),
        pool('gold', '10.1.0.0/28', '2026-01-02T00:00:00Z', { priority: 1, serviceSelectors: [{ matchLabels: { tier: 'gold' } }] }),
        keyed('tcp', 'TCP', 'gold'), keyed('udp', 'UDP', 'gold'),
      ],
    });
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: memoryLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false } });
    const run = async (name: string) => expect((await allocate(objectInvocation('update', { kind: 'Service', namespace: 'shop', name }))).kind).toBe('done');
    const allocations = async () => new Map((await kube.admin.list('IPAllocation')).map((raw) => {
      const a = IPAllocationSchema.parse(raw);
      return [a.metadata.labels?.['mikrolb.de/service-name'] ?? '', a] as const;
    }));
    await run('tcp');
    await run('udp');
    const before = await allocations();
    const address = before.get('tcp')?.status?.address ?? '';
    expect(address).toMatch(/^10\.1\.0\./);
    expect(before.get('udp')?.status?.address).toBe(address);
    /** The UDP Service leaves the gold tier: it moves to the shared pool. */
    const udpLeaves = async () => {
      await kube.admin.replace('Service', keyed('udp', 'UDP', 'silver'));
      await run('udp');
      expect((await allocations()).get('udp')?.status?.address).toMatch(/^192\.0\.2\./);
    };
    return { kube, address, allocations, udpLeaves };
  }

  // chaos, seed 2025120: the holder that moved took the claim's first holder off it and stayed
  // on it itself, so the address's shared entries outlived both (and the first holder's address
  // was left to be handed out again once the garbage collection freed the claim)
  it('leaves the shared claim itself; the other holder keeps the address', async () => {
    const c = await sharing();
    await c.udpLeaves();
    const tcp = (await c.allocations()).get('tcp');
    expect(tcp?.status?.address).toBe(c.address);
    const claim = IPAddressClaimSchema.parse(await c.kube.admin.get('IPAddressClaim', c.address));
    expect((claim.spec.holders ?? [{ allocationUID: claim.spec.allocationUID }]).map((h) => h.allocationUID)).toEqual([tcp?.metadata.uid]);
    expect(claim.spec.allocationUID).toBe(tcp?.metadata.uid);
  });

  // chaos, seed 6061006: a holder whose allocation is gone (a run claimed for an allocation
  // released meanwhile, and died before freeing the claim) kept the address, and the entries
  // its last live holder's program wrote, until the resync
  it('frees the claim when the holders left have no allocation any more', async () => {
    const c = await sharing();
    const tcp = (await c.allocations()).get('tcp');
    if (!tcp) throw new Error('no tcp allocation');
    await c.kube.admin.replace('IPAllocation', { ...tcp, metadata: { ...tcp.metadata, finalizers: [] } });
    await c.kube.admin.remove('IPAllocation', tcp.metadata.name);
    await c.udpLeaves();
    expect(await c.kube.admin.get('IPAddressClaim', c.address)).toBeUndefined();
  });
});

describe('allocate: a pool changed to the other family', () => {
  // found using the product: its holders gave their addresses back only at the resync
  it('moves its holders at once (their addresses no longer fit it); growing a pool of the same family moves nobody', async () => {
    const v6 = (metadata: IPPool['metadata']) => ({ ...pool('old', '192.0.2.0/28', '2026-01-01T00:00:00Z'), metadata, spec: { ipFamily: 'IPv6', addresses: ['2001:db8::/124'] } });
    const kube = memoryPortAs('allocate', {
      now: NOW,
      objects: [
        pool('old', '192.0.2.0/28', '2026-01-01T00:00:00Z'),
        pool('other', '10.1.0.0/28', '2026-01-02T00:00:00Z'),
        {
          apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', uid: 'svc-uid' },
          spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP' }] },
        },
      ],
    });
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: memoryLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false } });
    const addresses = async () => (await kube.admin.list('IPAllocation')).map((a) => IPAllocationSchema.parse(a).status?.address);
    expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    expect((await allocate(objectInvocation('add', { kind: 'IPPool', name: 'old' }))).kind).toBe('done');
    expect(await addresses()).toEqual([expect.stringMatching(/^192\.0\.2\./)]);

    const old = IPPoolSchema.parse(await kube.admin.get('IPPool', 'old'));
    await kube.admin.replace('IPPool', v6(old.metadata));
    expect((await allocate(objectInvocation('update', { kind: 'IPPool', name: 'old' }))).kind).toBe('done');
    expect(await addresses()).toEqual([expect.stringMatching(/^10\.1\.0\./)]);

    // the pool holding it grows: same family, nobody is checked (only pool statuses are written)
    const other = IPPoolSchema.parse(await kube.admin.get('IPPool', 'other'));
    await kube.admin.replace('IPPool', { ...pool('other', '10.1.0.0/27', '2026-01-02T00:00:00Z'), metadata: other.metadata });
    const writes = kube.writes.length;
    expect((await allocate(objectInvocation('update', { kind: 'IPPool', name: 'other' }))).kind).toBe('done');
    expect(kube.writes.length).toBeGreaterThan(writes);
    expect(kube.writes.slice(writes).filter((w) => w.kind !== 'IPPool')).toEqual([]);
    expect(await addresses()).toEqual([expect.stringMatching(/^10\.1\.0\./)]);
  });
});

import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import type { WriteRecord } from '../../lib/k8s/memory.js';
import { LABEL_SERVICE_NAME } from '../../lib/k8s/keys.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { IPAddressClaimSchema, IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs, type AccountPort } from '../test-support.js';

/**
 * allocate reads a claim's pool again after creating the claim (a pool being deleted hands out
 * nothing). Concurrent runs of one instance share that read, but only a read that started after
 * their claim: a read already in flight may have seen the pool before the deletion.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const RETRY = { attempts: 5, pause: async () => undefined };

const pool = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true }, status: { claimsAdopted: true },
};

const service = (name: string) => ({
  apiVersion: 'v1', kind: 'Service',
  metadata: { name, namespace: 'shop', finalizers: ['mikrolb.de/finalizer'], annotations: { 'mikrolb.de/load-balancer-pools': 'lan' } },
  spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP' }] },
});

const add = (name: string) => objectInvocation('add', { kind: 'Service', namespace: 'shop', name });

/** A port counting the gets of pools; `hold` (when set) delays the answer of the next one, read at once. */
function counting(inner: KubePort) {
  const gate: { hold?: Promise<void>; started?: () => void } = {};
  let poolGets = 0;
  const port: KubePort = {
    ...inner,
    get: async (kind, name, namespace) => {
      if (kind !== 'IPPool') return inner.get(kind, name, namespace);
      poolGets++;
      const read = await inner.get(kind, name, namespace);
      const hold = gate.hold;
      gate.hold = undefined;
      if (hold) {
        gate.started?.();
        await hold;
      }
      return read;
    },
  };
  return { port, gate, poolGets: () => poolGets };
}

function setup(objects: unknown[], beforeWrite?: (w: WriteRecord, kube: AccountPort) => Promise<void>) {
  const ref: { kube?: AccountPort } = {};
  const kube = memoryPortAs('allocate', { objects, now: NOW, beforeWrite: async (w) => (ref.kube ? beforeWrite?.(w, ref.kube) : undefined) });
  ref.kube = kube;
  const counted = counting(kube.port);
  const allocate = createAllocate({ kube: counted.port, now: NOW, log: silentLogger(), retry: RETRY, classes: CLASSES });
  const allocations = async () => new Map((await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o)).map((a) => [a.metadata.labels?.[LABEL_SERVICE_NAME] ?? a.metadata.name, a]));
  const claims = async () => (await kube.admin.list('IPAddressClaim')).map((o) => IPAddressClaimSchema.parse(o).spec);
  return { kube, allocate, allocations, claims, ...counted };
}

describe('the pool read that follows a claim', () => {
  it('is shared by runs that claimed while another read was in flight', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `web-${i}`);
    const c = setup([pool, ...names.map(service)]);
    const results = await Promise.all(names.map((n) => c.allocate(add(n))));
    expect(results.map((r) => r.kind)).toEqual(names.map(() => 'done'));
    const addresses = new Set((await c.kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o).status?.address));
    expect(addresses.size).toBe(names.length);
    expect(addresses.has(undefined)).toBe(false);
    // one read each would be 12; the runs claim one after another within a read's flight
    expect(c.poolGets()).toBeGreaterThan(0);
    expect(c.poolGets()).toBeLessThan(names.length / 2);
  });

  it('never hands a run a read that started before its claim (the pool deleted in between)', async () => {
    let claims = 0;
    const c = setup([pool, service('a'), service('b')], async (w, kube) => {
      if (w.verb !== 'create' || w.kind !== 'IPAddressClaim' || ++claims !== 2) return;
      // b's claim: the pool is deleted first (its finalizer keeps it while a's claim holds it)
      await kube.admin.remove('IPPool', 'lan');
    });
    // a's read after its claim sees the pool alive and answers only once b has claimed
    let open = (): void => undefined;
    c.gate.hold = new Promise<void>((resolve) => { open = resolve; });
    const aReading = new Promise<void>((resolve) => { c.gate.started = resolve; });
    const a = c.allocate(add('a'));
    await aReading;
    const b = c.allocate(add('b'));
    // b's run goes as far as its own read, which it must not share with a's
    await new Promise((resolve) => setTimeout(resolve, 50));
    open();
    expect((await a).kind).toBe('done');
    expect((await b).kind).toBe('done');
    const all = await c.allocations();
    expect(all.get('a')?.status).toMatchObject({ phase: 'Allocated' });
    expect(all.get('b')?.status?.address).toBeUndefined();
    expect(all.get('b')?.status?.conditions?.find((x) => x.type === 'Ready')?.reason).toBe('PoolNotFound');
    expect((await c.claims()).map((x) => x.allocationName)).toEqual([all.get('a')?.metadata.name]);
  });
});

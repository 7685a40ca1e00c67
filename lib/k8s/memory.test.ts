import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { isAlreadyExists, isConflict, isInvalid, isNotFound, KubeError } from './errors.js';
import { memoryPort, type MemoryPortOptions } from './memory.js';

const NOW = new Date('2026-02-01T10:00:00.123Z');
const Obj = z.object({
  metadata: z.object({
    name: z.string(), namespace: z.string().optional(), uid: z.string(), resourceVersion: z.string(),
    generation: z.number().optional(), creationTimestamp: z.string(), deletionTimestamp: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(), finalizers: z.array(z.string()).optional(),
  }).loose(),
}).loose();
const read = (v: unknown) => Obj.parse(v);

const pool = (name: string, meta: Record<string, unknown> = {}) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool',
  metadata: { name, ...meta }, spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/28'] },
});
const allocation = (name: string, meta: Record<string, unknown> = {}) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
  metadata: { name, labels: { 'mikrolb.de/service-name': 'web' }, ...meta },
  spec: { ipFamily: 'IPv4' }, status: { phase: 'Allocated', address: '192.0.2.1' },
});
const service = (name: string, namespace = 'shop') => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }] },
});

function setup(objects: unknown[] = [], opts: MemoryPortOptions = {}) {
  return memoryPort({ objects, now: () => NOW, ...opts });
}

async function stored(m: ReturnType<typeof setup>, kind: 'IPPool' | 'IPAllocation', name: string) {
  return read(await m.port.get(kind, name));
}

describe('memoryPort: state', () => {
  it('fills what the API server would have set and continues the resourceVersion sequence', async () => {
    const m = setup([pool('a', { uid: 'u-a', resourceVersion: '41' }), pool('b')]);
    const [a, b] = [await stored(m, 'IPPool', 'a'), await stored(m, 'IPPool', 'b')];
    expect(a.metadata).toMatchObject({ uid: 'u-a', resourceVersion: '41', generation: 1, creationTimestamp: '2026-02-01T10:00:00Z' });
    expect(b.metadata.uid).toBe('00000000-0000-4000-8000-000000000001');
    expect(b.metadata.resourceVersion).toBe('42');
    const created = read(await m.port.create('IPPool', pool('c')));
    expect(created.metadata.resourceVersion).toBe('43');
  });

  it('lists the final state by kind, namespace and name, and hands out copies', async () => {
    const input = service('web', 'b');
    const m = setup([input, service('api', 'b'), service('web', 'a'), pool('z'), allocation('x')]);
    input.metadata.name = 'changed';
    const names = m.objects().map((o) => { const { metadata } = read(o); return `${metadata.namespace ?? '-'}/${metadata.name}`; });
    expect(names).toEqual(['-/x', '-/z', 'a/web', 'b/api', 'b/web']);
    const got = read(await m.port.get('Service', 'web', 'a'));
    got.metadata.name = 'mutated';
    expect(read(await m.port.get('Service', 'web', 'a')).metadata.name).toBe('web');
  });

  it('answers undefined for a missing object, or a namespaced one asked without namespace', async () => {
    const m = setup([service('web')]);
    expect(await m.port.get('IPPool', 'nope')).toBeUndefined();
    expect(await m.port.get('Service', 'web')).toBeUndefined();
    expect(await m.port.get('Service', 'web', 'shop')).toBeDefined();
  });

  it('refuses an initial state it cannot hold', () => {
    expect(() => setup([{ kind: 'Pod', metadata: { name: 'p' } }])).toThrow(/kind Pod/);
    expect(() => setup([pool('a'), pool('a')])).toThrow(/given twice/);
  });
});

describe('memoryPort: create', () => {
  it('assigns uid, resourceVersion, creationTimestamp and generation', async () => {
    const m = setup([], { uid: () => 'fixed-uid' });
    const out = read(await m.port.create('IPPool', pool('p', { namespace: 'ignored', uid: 'mine', generation: 7 })));
    expect(out).toMatchObject({ apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool' });
    expect(out.metadata).toEqual({ name: 'p', uid: 'fixed-uid', resourceVersion: '1', generation: 1, creationTimestamp: '2026-02-01T10:00:00Z' });
    expect(m.writes).toEqual([{ verb: 'create', kind: 'IPPool', name: 'p' }]);
  });

  it('never hands out a uid a seeded object holds, so a state chained from an earlier run stays consistent', async () => {
    // an earlier run's output: objects that already carry the uids that run handed out
    const seeded = [pool('a', { uid: '00000000-0000-4000-8000-000000000001' }), allocation('x', { uid: '00000000-0000-4000-8000-000000000002' }), pool('b')];
    const repeat = async () => {
      const m = setup(seeded);
      const created = [];
      for (const name of ['y', 'z']) created.push(read(await m.port.create('IPAllocation', allocation(name))).metadata.uid);
      return { m, created };
    };
    const { m, created } = await repeat();
    const uids = [...['a', 'b'].map(async (n) => (await stored(m, 'IPPool', n)).metadata.uid), ...['x', 'y', 'z'].map(async (n) => (await stored(m, 'IPAllocation', n)).metadata.uid)];
    const all = await Promise.all(uids);
    expect(new Set(all).size).toBe(5);
    expect(all.slice(0, 2)).toEqual(['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000003']);
    expect(created.every((u) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u))).toBe(true);
    expect((await repeat()).created).toEqual(created);
  });

  it('gives up on a uid source that only repeats a taken uid', async () => {
    const m = setup([pool('a', { uid: 'same' })], { uid: () => 'same' });
    await expect(m.port.create('IPPool', pool('b'))).rejects.toThrow(/no unused uid/);
  });

  it('answers AlreadyExists (not a conflict) for a name that is taken', async () => {
    const m = setup([pool('p')]);
    const err = await m.port.create('IPPool', pool('p')).catch((e: unknown) => e);
    expect(isAlreadyExists(err)).toBe(true);
    expect(isConflict(err)).toBe(false);
    expect(m.failedWrites).toEqual([{ verb: 'create', kind: 'IPPool', name: 'p', status: 409, reason: 'AlreadyExists' }]);
  });

  it('generates distinct, repeatable names from generateName', async () => {
    const names = async () => {
      const m = setup();
      const made = [];
      for (let i = 0; i < 3; i++) made.push(read(await m.port.create('IPAllocation', allocation('', { generateName: 'web-' }))).metadata.name);
      return made;
    };
    const first = await names();
    expect(new Set(first).size).toBe(3);
    expect(first.every((n) => /^web-[a-z0-9]{5}$/.test(n))).toBe(true);
    expect(await names()).toEqual(first);
  });

  it('drops a status that belongs to the status subresource', async () => {
    const m = setup();
    expect(read(await m.port.create('IPAllocation', allocation('a')))).not.toHaveProperty('status');
    expect(read(await m.port.create('Service', service('web')))).toMatchObject({ status: { loadBalancer: {} } });
  });

  it('validates the CRD spec and needs a namespace for namespaced kinds', async () => {
    const m = setup();
    const twoOfThree = { ...allocation('a'), spec: { ipFamily: 'IPv4', poolName: 'p' } };
    expect(isInvalid(await m.port.create('IPAllocation', twoOfThree).catch((e: unknown) => e))).toBe(true);
    const noNamespace = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' } };
    expect(isInvalid(await m.port.create('Service', noNamespace).catch((e: unknown) => e))).toBe(true);
    expect(m.objects()).toEqual([]);
  });
});

describe('memoryPort: replace', () => {
  it('answers NotFound for a missing object', async () => {
    const err = await setup().port.replace('IPPool', pool('p')).catch((e: unknown) => e);
    expect(isNotFound(err)).toBe(true);
  });

  it('answers 409 Conflict to a stale resourceVersion and leaves the object alone', async () => {
    const m = setup([pool('p', { resourceVersion: '5' })]);
    await m.port.replace('IPPool', pool('p', { resourceVersion: '5', labels: { a: '1' } }));
    const err = await m.port.replace('IPPool', pool('p', { resourceVersion: '5', labels: { a: '2' } })).catch((e: unknown) => e);
    expect(isConflict(err)).toBe(true);
    expect(err).toBeInstanceOf(KubeError);
    expect((await stored(m, 'IPPool', 'p')).metadata.labels).toEqual({ a: '1' });
  });

  it('ignores the status, keeps uid and creationTimestamp, and counts spec changes in generation', async () => {
    const m = setup([allocation('a')]);
    const before = await stored(m, 'IPAllocation', 'a');
    const relabelled = read(await m.port.replace('IPAllocation', {
      ...allocation('a', { labels: { x: 'y' }, creationTimestamp: '1999-01-01T00:00:00Z' }), status: { phase: 'Failed' },
    }));
    expect(relabelled).toMatchObject({ status: { phase: 'Allocated', address: '192.0.2.1' } });
    expect(relabelled.metadata).toMatchObject({ uid: before.metadata.uid, creationTimestamp: before.metadata.creationTimestamp, generation: 1 });
    const respecced = read(await m.port.replace('IPAllocation', { ...allocation('a'), spec: { poolName: 'other' } }));
    expect(respecced.metadata.generation).toBe(2);
    expect(Number(respecced.metadata.resourceVersion)).toBeGreaterThan(Number(relabelled.metadata.resourceVersion));
  });

  it('answers Conflict when the body names another uid', async () => {
    const m = setup([pool('p', { uid: 'one' })]);
    expect(isConflict(await m.port.replace('IPPool', pool('p', { uid: 'two' })).catch((e: unknown) => e))).toBe(true);
  });

  it('keeps the resourceVersion when the write changes nothing', async () => {
    const m = setup([pool('p', { resourceVersion: '3' })]);
    const out = read(await m.port.replace('IPPool', pool('p', { resourceVersion: '3' })));
    expect(out.metadata.resourceVersion).toBe('3');
  });

  it('takes the whole body for a kind without status subresource', async () => {
    const slice = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 's', namespace: 'shop' }, addressType: 'IPv4', endpoints: [] };
    const m = setup([slice]);
    const out = read(await m.port.replace('EndpointSlice', { ...slice, endpoints: [{ addresses: ['10.0.0.1'] }] }));
    expect(out).toMatchObject({ endpoints: [{ addresses: ['10.0.0.1'] }], metadata: { generation: 2 } });
  });

  it('drops the ingress and the unchanged class of a Service that stops being a LoadBalancer, as the API server does', async () => {
    const lb = { ...service('web'), spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ports: [{ port: 80 }] } };
    const m = setup([lb, { ...service('kept'), spec: lb.spec }]);
    for (const name of ['web', 'kept']) {
      const svc = read(await m.port.get('Service', name, 'shop'));
      await m.port.replaceStatus('Service', { ...svc, status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } });
    }
    const web = read(await m.port.get('Service', 'web', 'shop'));
    const clusterIP = read(await m.port.replace('Service', { ...web, spec: { type: 'ClusterIP', loadBalancerClass: 'mikrolb.de/controller', ports: [{ port: 80 }] } }));
    expect(clusterIP).toMatchObject({ spec: { type: 'ClusterIP' }, status: { loadBalancer: {} } });
    expect(clusterIP['spec']).not.toHaveProperty('loadBalancerClass');
    // still a LoadBalancer: the ingress stays
    const kept = read(await m.port.get('Service', 'kept', 'shop'));
    const relabelled = read(await m.port.replace('Service', { ...kept, metadata: { ...kept.metadata, labels: { a: 'b' } } }));
    expect(relabelled).toMatchObject({ status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } });
  });

  it('deletes a deleting object once its last finalizer is removed, and refuses new finalizers', async () => {
    const m = setup([allocation('a', { finalizers: ['mikrolb.de/finalizer'] })]);
    await m.port.remove('IPAllocation', 'a');
    const deleting = await stored(m, 'IPAllocation', 'a');
    const adding = { ...allocation('a', { finalizers: ['mikrolb.de/finalizer', 'other'] }) };
    expect(isInvalid(await m.port.replace('IPAllocation', adding).catch((e: unknown) => e))).toBe(true);
    await m.port.replace('IPAllocation', allocation('a', { finalizers: [], resourceVersion: deleting.metadata.resourceVersion }));
    expect(await m.port.get('IPAllocation', 'a')).toBeUndefined();
    expect(m.writes.map((w) => w.verb)).toEqual(['delete', 'update']);
  });
});

describe('memoryPort: replaceStatus', () => {
  it('takes only the status and keeps the generation', async () => {
    const m = setup([allocation('a')]);
    const out = read(await m.port.replaceStatus('IPAllocation', {
      ...allocation('a', { labels: { changed: 'yes' } }), spec: { poolName: 'other' }, status: { phase: 'Programmed', address: '192.0.2.1' },
    }));
    expect(out).toMatchObject({ spec: { ipFamily: 'IPv4' }, status: { phase: 'Programmed' }, metadata: { generation: 1, labels: { 'mikrolb.de/service-name': 'web' } } });
    expect(m.writes).toEqual([{ verb: 'update', kind: 'IPAllocation', name: 'a', subresource: 'status' }]);
  });

  it('answers 409 Conflict to a stale resourceVersion', async () => {
    const m = setup([pool('p', { resourceVersion: '9' })]);
    await m.port.replaceStatus('IPPool', { ...pool('p', { resourceVersion: '9' }), status: { allocations: [] } });
    const err = await m.port.replaceStatus('IPPool', { ...pool('p', { resourceVersion: '9' }), status: {} }).catch((e: unknown) => e);
    expect(isConflict(err)).toBe(true);
    expect(m.failedWrites).toEqual([{ verb: 'update', kind: 'IPPool', name: 'p', subresource: 'status', status: 409, reason: 'Conflict' }]);
  });

  it('clears the status when the body has none, and validates CRD status', async () => {
    const m = setup([allocation('a')]);
    expect(read(await m.port.replaceStatus('IPAllocation', { ...allocation('a'), status: undefined }))).not.toHaveProperty('status');
    const bad = { ...allocation('a'), status: { phase: 'Sleeping' } };
    expect(isInvalid(await m.port.replaceStatus('IPAllocation', bad).catch((e: unknown) => e))).toBe(true);
  });

  it('answers NotFound for a kind without status subresource', async () => {
    const slice = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 's', namespace: 'shop' } };
    expect(isNotFound(await setup([slice]).port.replaceStatus('EndpointSlice', slice).catch((e: unknown) => e))).toBe(true);
  });
});

describe('memoryPort: remove', () => {
  it('treats a missing object as already deleted', async () => {
    const m = setup();
    await expect(m.port.remove('IPPool', 'gone')).resolves.toBeUndefined();
    expect(m.writes).toEqual([]);
    expect(m.failedWrites).toEqual([{ verb: 'delete', kind: 'IPPool', name: 'gone', status: 404, reason: 'NotFound' }]);
  });

  it('marks an object with finalizers as deleting, once', async () => {
    const m = setup([allocation('a', { finalizers: ['mikrolb.de/finalizer'], resourceVersion: '4' })]);
    await m.port.remove('IPAllocation', 'a');
    const deleting = await stored(m, 'IPAllocation', 'a');
    expect(deleting.metadata).toMatchObject({ deletionTimestamp: '2026-02-01T10:00:00Z', generation: 2, resourceVersion: '5' });
    await m.port.remove('IPAllocation', 'a');
    expect(await stored(m, 'IPAllocation', 'a')).toEqual(deleting);
  });

  it('checks uid and resourceVersion preconditions', async () => {
    const m = setup([pool('p', { uid: 'u1', resourceVersion: '2' })]);
    for (const pre of [{ uid: 'u0' }, { resourceVersion: '1' }]) {
      expect(isConflict(await m.port.remove('IPPool', 'p', undefined, pre).catch((e: unknown) => e))).toBe(true);
    }
    await m.port.remove('IPPool', 'p', undefined, { uid: 'u1', resourceVersion: '2' });
    expect(m.objects()).toEqual([]);
  });
});

describe('memoryPort: list', () => {
  it('filters by namespace and label selector, in name order', async () => {
    const m = setup([allocation('b'), allocation('a', { labels: { 'mikrolb.de/service-name': 'api' } }), allocation('c', { labels: {} }), service('x', 'one'), service('y', 'two')]);
    const names = async (kind: 'IPAllocation' | 'Service', opts = {}) => (await m.port.list(kind, opts)).map((o) => read(o).metadata.name);
    expect(await names('IPAllocation')).toEqual(['a', 'b', 'c']);
    expect(await names('IPAllocation', { labelSelector: 'mikrolb.de/service-name=web' })).toEqual(['b']);
    expect(await names('IPAllocation', { labelSelector: 'mikrolb.de/service-name!=web' })).toEqual(['a', 'c']);
    expect(await names('IPAllocation', { labelSelector: '!mikrolb.de/service-name' })).toEqual(['c']);
    expect(await names('IPAllocation', { namespace: 'ignored' })).toEqual(['a', 'b', 'c']);
    expect(await names('Service', { namespace: 'two' })).toEqual(['y']);
  });

  it('answers 400 to a selector it cannot parse', async () => {
    const err = await setup().port.list('IPPool', { labelSelector: 'a=,,' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, reason: 'BadRequest' });
  });
});

describe('memoryPort: events', () => {
  const event = (note: string) => ({ regarding: { kind: 'IPAllocation' as const, name: 'a', uid: 'u' }, type: 'Warning' as const, reason: 'PoolExhausted', note, action: 'Allocate' });

  it('records an event once per subject, reason and note', async () => {
    const m = setup();
    await m.port.recordEvent(event('pool p is full'));
    await m.port.recordEvent(event('pool p is full'));
    await m.port.recordEvent(event('pool q is full'));
    expect(m.events).toEqual([
      { type: 'Warning', reason: 'PoolExhausted', note: 'pool p is full', regarding: { kind: 'IPAllocation', name: 'a' } },
      { type: 'Warning', reason: 'PoolExhausted', note: 'pool q is full', regarding: { kind: 'IPAllocation', name: 'a' } },
    ]);
    expect(m.writes).toEqual([]);
  });
});

describe('memoryPort: fault hook', () => {
  it('refuses a write the hook throws for, and records it', async () => {
    const m = setup([pool('p')], { beforeWrite: () => { throw new KubeError('etcd is down', 503, 'ServiceUnavailable'); } });
    await expect(m.port.replaceStatus('IPPool', { ...pool('p'), status: {} })).rejects.toMatchObject({ status: 503 });
    expect(m.writes).toEqual([]);
    expect(m.failedWrites).toMatchObject([{ verb: 'update', subresource: 'status', status: 503 }]);
    expect(await stored(m, 'IPPool', 'p')).not.toHaveProperty('status');
  });

  it('lets a test stage a concurrent writer that wins the race', async () => {
    let raced = false;
    const m = setup([pool('p', { resourceVersion: '1' })], {
      beforeWrite: async () => {
        if (raced) return;
        raced = true;
        await m.port.replaceStatus('IPPool', { ...pool('p'), status: { allocations: [] } });
      },
    });
    const err = await m.port.replaceStatus('IPPool', { ...pool('p', { resourceVersion: '1' }), status: {} }).catch((e: unknown) => e);
    expect(isConflict(err)).toBe(true);
    expect((await stored(m, 'IPPool', 'p')).status).toEqual({ allocations: [] });
  });
});

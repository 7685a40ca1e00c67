import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { EndpointSliceSchema, ServiceSchema } from '../../lib/k8s/core-objects.js';
import { ANNOTATION_LB_IPS } from '../../lib/k8s/keys.js';
import type { EventRecord, KubePort } from '../../lib/k8s/port.js';
import { IPAllocationSchema, IPPoolSchema, type IPAllocation } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { client as openClient, sim as startSim } from '../../lib/routeros/client/test-support.js';
import { createAllocate } from '../allocate/handler.js';
import { LAN_ROUTER, lanServiceObjects, memoryPortAs } from '../test-support.js';
import { createProgram } from './handler.js';

/**
 * A Service pinning the address it holds has allocate rewrite its allocation's spec (a new
 * metadata.generation) while the address stays. Every condition then says it holds for that
 * generation — program's Programmed and Ready too, as nothing program judged changed — and
 * program's next run (a resync) writes nothing and records no event. Before, allocate left
 * program's conditions at the old generation, and the next program run, changing nothing on
 * the router, wrote the status and recorded a `Programmed` event for an address advertised all
 * along. An outcome that does change is still announced.
 */
const UID = '7e5a0000-0000-4000-8000-0000000000dd';
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };

async function setup() {
  const sim = await startSim({ initialState: LAN_ROUTER });
  const kube = memoryPortAs('program', { now: NOW, objects: lanServiceObjects({ uid: UID, namespace: 'shop', name: 'web', port: { name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }, pool: { addresses: ['192.0.2.10-192.0.2.20'] } }) });
  // every event asked for: the API server (as the memory port) refuses an event named as one it
  // holds, but one expired meanwhile (an hour by default) is recorded again
  const asked: EventRecord[] = [];
  const asking = (inner: KubePort): KubePort => ({ ...inner, recordEvent: async (e) => { asked.push(e); await inner.recordEvent(e); } });
  const deps = { kube: asking(kube.port), now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, classes: CLASSES };
  const allocateFn = createAllocate({ ...deps, kube: asking(kube.as('allocate')) });
  const programFn = createProgram({ ...deps, router: openClient(sim, { timeoutMs: 5000 }) });
  const serviceUpdate = objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' });
  const allocations = async (): Promise<IPAllocation[]> => (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o));
  const only = async (): Promise<IPAllocation> => {
    const [a, ...more] = await allocations();
    if (!a || more.length > 0) throw new Error(`expected one allocation, found ${more.length + (a ? 1 : 0)}`);
    return a;
  };
  const pin = async (address: string): Promise<void> => {
    const svc = ServiceSchema.parse(await kube.admin.get('Service', 'web', 'shop'));
    await kube.admin.replace('Service', { ...svc, metadata: { ...svc.metadata, annotations: { [ANNOTATION_LB_IPS]: address } } });
  };
  return {
    sim, kube, asked, only, pin,
    allocate: async () => (await allocateFn(serviceUpdate)).kind,
    program: async () => (await programFn(serviceUpdate)).kind,
  };
}

/** Each condition's type with the generation it says it judged. */
const judged = (a: IPAllocation) => (a.status?.conditions ?? []).map((c) => [c.type, c.observedGeneration]);

/** Allocated and programmed, then pinned and taken up by allocate (the spec rewritten). */
async function pinned() {
  const s = await setup();
  expect(await s.allocate()).toBe('done');
  expect(await s.program()).toBe('done');
  const before = await s.only();
  const address = before.status?.address ?? '';
  expect([before.status?.phase, before.metadata.generation]).toEqual(['Programmed', 1]);
  await s.pin(address);
  // the Service's annotation wakes program too; here it runs before allocate has taken the pin up
  expect(await s.program()).toBe('done');
  expect(await s.allocate()).toBe('done');
  return { ...s, address };
}

describe('a Service pinning the address it holds', () => {
  it('has every condition of its allocation judge the new generation', async () => {
    const s = await pinned();
    const a = await s.only();
    expect(a.spec).toEqual({ address: s.address });
    expect(a.metadata.generation).toBe(2);
    expect(a.status?.observedGeneration).toBe(2);
    expect(judged(a)).toEqual([['Allocated', 2], ['Programmed', 2], ['Ready', 2]]);
    // restated, not changed: the same words, the same transition times
    expect(a.status?.phase).toBe('Programmed');
    expect(a.status?.conditions?.find((c) => c.type === 'Programmed')).toMatchObject({ status: 'True', reason: 'Programmed', lastTransitionTime: '2026-01-01T00:00:00Z' });
  });

  it("leaves program's next run nothing to write and nothing to announce", async () => {
    const s = await pinned();
    const [writes, events, menus] = [s.kube.writes.length, s.asked.length, JSON.stringify(s.sim.state().menus)];
    expect(await s.program()).toBe('done');
    expect(s.kube.writes.slice(writes)).toEqual([]);
    expect(s.asked.slice(events).map((e) => [e.type, e.reason, e.note, e.regarding.name])).toEqual([]);
    expect(JSON.stringify(s.sim.state().menus)).toBe(menus);
  });

  it('still announces an outcome that changes (the pool moves the address to another interface)', async () => {
    const s = await pinned();
    const pool = IPPoolSchema.parse(await s.kube.admin.get('IPPool', 'lan'));
    await s.kube.admin.replace('IPPool', { ...pool, spec: { ...pool.spec, interfaceName: 'bridge' } });
    const events = s.asked.length;
    expect(await s.program()).toBe('done');
    expect(s.asked.slice(events).map((e) => [e.type, e.reason, e.note, e.regarding.name])).toEqual([
      ['Normal', 'Programmed', `Address ${s.address} is advertised on interface bridge.`, (await s.only()).metadata.name],
    ]);
    expect(judged(await s.only())).toEqual([['Allocated', 2], ['Programmed', 2], ['Ready', 2]]);
  });
});

/** Programmed, then pinned as allocate did before: program's word left at generation 1 under a spec of generation 2. */
async function leftBehind() {
  const s = await setup();
  expect(await s.allocate()).toBe('done');
  expect(await s.program()).toBe('done');
  const a = await s.only();
  const respecced = IPAllocationSchema.parse(await s.kube.admin.replace('IPAllocation', { ...a, spec: { address: a.status?.address ?? '' } }));
  expect(respecced.metadata.generation).toBe(2);
  await s.kube.admin.replaceStatus('IPAllocation', { ...respecced, status: { ...respecced.status, observedGeneration: 2 } });
  return s;
}

describe("program's events", () => {
  it('are not recorded for a status write that only moves the generation the outcome was judged on', async () => {
    const s = await leftBehind();
    const [writes, events] = [s.kube.writes.length, s.asked.length];
    expect(await s.program()).toBe('done');
    // the conditions are brought to the generation (a write), with no event: nothing happened
    expect(s.kube.writes.slice(writes).map((w) => `${w.verb} ${w.kind} ${w.subresource ?? ''}`.trim())).toEqual(['update IPAllocation status']);
    expect(s.asked.slice(events).map((e) => [e.type, e.reason, e.note, e.regarding.name])).toEqual([]);
    expect(judged(await s.only())).toEqual([['Allocated', 1], ['Programmed', 2], ['Ready', 2]]);
  });

  it('nor when that write goes with a router write and an ingress (the statuses written at once)', async () => {
    const s = await leftBehind();
    // the endpoint moved (the router's rules change, not the address's advertisement) and the ingress was lost
    const slice = EndpointSliceSchema.parse(await s.kube.admin.get('EndpointSlice', 'web-1', 'shop'));
    await s.kube.admin.replace('EndpointSlice', { ...slice, endpoints: [{ addresses: ['10.0.0.67'], conditions: { ready: true } }] });
    const svc = ServiceSchema.parse(await s.kube.admin.get('Service', 'web', 'shop'));
    await s.kube.admin.replaceStatus('Service', { ...svc, status: {} });
    const [writes, events] = [s.kube.writes.length, s.asked.length];
    expect(await s.program()).toBe('done');
    expect(s.kube.writes.slice(writes).map((w) => `${w.verb} ${w.kind} ${w.subresource ?? ''}`.trim()).sort()).toEqual(['update IPAllocation status', 'update Service status']);
    expect(s.asked.slice(events)).toEqual([]);
    expect(judged(await s.only())).toEqual([['Allocated', 1], ['Programmed', 2], ['Ready', 2]]);
    expect(ServiceSchema.parse(await s.kube.admin.get('Service', 'web', 'shop')).status?.loadBalancer?.ingress?.map((i) => i.ip)).toEqual([(await s.only()).status?.address]);
  });
});

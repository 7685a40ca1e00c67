import { describe, expect, it } from 'vitest';
import type { ServiceLimits } from '../../lib/core/service.js';
import { objectInvocation, resyncInvocation } from '../../lib/events/cloudevent.js';
import type { EventRecord } from '../../lib/k8s/port.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * Annotations are written by anyone who may edit a Service: only Services MikroLB manages get
 * an AnnotationInvalid Warning, at most one per Service and invocation, and no annotation makes
 * allocate create more IPAllocations than MAX_ALLOCATIONS_PER_SERVICE allows.
 */

const NOW = () => new Date('2026-01-01T00:00:00Z');
const LB = { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP' }] };
const CLUSTER_IP = { type: 'ClusterIP', ports: [{ port: 80, protocol: 'TCP' }] };
const list = (n: number, item: (i: number) => string): string => Array.from({ length: n }, (_, i) => item(i)).join(',');

const POOL = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan' },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true },
};

function service(name: string, spec: Record<string, unknown>, annotations: Record<string, string>) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop', annotations }, spec };
}

/** allocate on the in-memory API, every recordEvent call counted (the memory API dedups by name, as the API server does). */
function setup(objects: unknown[], limits?: ServiceLimits) {
  const kube = memoryPortAs('allocate', { objects: [POOL, ...objects], now: NOW });
  const calls: EventRecord[] = [];
  const port = { ...kube.port, recordEvent: async (e: EventRecord) => { calls.push(e); await kube.port.recordEvent(e); } };
  const log = memoryLogger();
  const allocate = createAllocate({
    kube: port, now: NOW, log, retry: { attempts: 10, pause: async () => undefined },
    classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false, ...(limits ? { limits } : {}) },
  });
  const created = (kind: string): number => kube.writes.filter((w) => w.verb === 'create' && w.kind === kind).length;
  return { kube, calls, log, allocate, created };
}

const warnings = (calls: readonly EventRecord[]): EventRecord[] => calls.filter((e) => e.reason === 'AnnotationInvalid');

describe('AnnotationInvalid: only for Services MikroLB manages, one per Service and invocation', () => {
  it.each([
    ['20,000 bad snat-ips items', { 'mikrolb.de/snat-ips': list(20_000, (i) => `x${i}`) }],
    ['use-lb-ips', { 'mikrolb.de/snat-ips': 'use-lb-ips' }],
    ['bad booleans and pools', { 'mikrolb.de/load-balancer-enabled': 'yes', 'mikrolb.de/load-balancer-pools': 'Bad_Pool' }],
  ])('a plain ClusterIP Service with %s: no event, no write, no warning in the log', async (_story, annotations) => {
    const s = setup([service('plain', CLUSTER_IP, annotations)]);
    const res = await s.allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'plain' }));
    expect(res.kind).toBe('done');
    expect(s.calls).toEqual([]);
    expect(s.kube.writes).toEqual([]);
    expect(s.log.entries.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('a LoadBalancer Service with 5,000 bad addresses: one Warning with the count and the first problems', async () => {
    const s = setup([service('web', LB, { 'mikrolb.de/load-balancer-ips': list(5_000, (i) => `x${i}`) })]);
    expect((await s.allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    expect(warnings(s.calls)).toEqual([expect.objectContaining({
      type: 'Warning', regarding: expect.objectContaining({ kind: 'Service', name: 'web', namespace: 'shop' }),
      note: expect.stringMatching(/^17 invalid annotation values: mikrolb\.de\/load-balancer-ips has 5000 items, more than the 16 allowed; only the first 16 are used; mikrolb\.de\/load-balancer-ips: "x0" is not a valid IP address; ignoring it; .*"x3" .*; and 12 more$/),
    })]);
    expect(s.log.entries.filter((l) => l.msg === 'Invalid annotation value').map((l) => l.fields)).toEqual([expect.objectContaining({ service: 'shop/web', problems: 17 })]);
    expect(s.created('IPAllocation')).toBe(0);
  });

  it('a resync: one Warning per managed Service, none for the others', async () => {
    const bad = { 'mikrolb.de/load-balancer-ips': 'nope,nah', 'mikrolb.de/snat-enabled': '1' };
    const s = setup([service('a', LB, bad), service('b', LB, bad), service('c', CLUSTER_IP, { 'mikrolb.de/snat-ips': 'x,y,z' })]);
    expect((await s.allocate(resyncInvocation())).kind).toBe('done');
    expect(warnings(s.calls).map((e) => `${e.regarding.name}: ${e.note}`)).toEqual([
      'a: 3 invalid annotation values: mikrolb.de/snat-enabled: "1" is not "true" or "false"; using "true"; mikrolb.de/load-balancer-ips: "nope" is not a valid IP address; ignoring it; mikrolb.de/load-balancer-ips: "nah" is not a valid IP address; ignoring it',
      'b: 3 invalid annotation values: mikrolb.de/snat-enabled: "1" is not "true" or "false"; using "true"; mikrolb.de/load-balancer-ips: "nope" is not a valid IP address; ignoring it; mikrolb.de/load-balancer-ips: "nah" is not a valid IP address; ignoring it',
    ]);
  });
});

describe('IPAllocations per Service are capped', () => {
  it('254 addresses of the pool: 16 allocations and 16 claims (the default), and a Warning naming the cap', async () => {
    const s = setup([service('greedy', LB, { 'mikrolb.de/load-balancer-ips': list(254, (i) => `192.0.2.${i + 1}`) })]);
    expect((await s.allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'greedy' }))).kind).toBe('done');
    expect(s.created('IPAllocation')).toBe(16);
    expect(await s.kube.admin.list('IPAddressClaim')).toHaveLength(16);
    expect(warnings(s.calls)).toEqual([expect.objectContaining({ note: expect.stringContaining('254 items, more than the 16 allowed') })]);
  });

  it('2,000 addresses outside every pool with MAX_ALLOCATIONS_PER_SERVICE=4: 4 allocations, however many items the list may have', async () => {
    const s = setup([service('far', LB, { 'mikrolb.de/load-balancer-ips': list(2_000, (i) => `203.0.${Math.floor(i / 256)}.${i % 256}`) })], { maxAnnotationItems: 1024, maxAllocations: 4 });
    expect((await s.allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'far' }))).kind).toBe('done');
    expect(s.created('IPAllocation')).toBe(4);
    expect(warnings(s.calls).map((e) => e.note)).toEqual([
      '2 invalid annotation values: mikrolb.de/load-balancer-ips has 2000 items, more than the 1024 allowed; only the first 1024 are used; '
      + 'mikrolb.de/load-balancer-ips: the Service asks for 1024 addresses, more than the 4 allowed per Service; only the first 4 are allocated, ignoring 203.0.0.4, 203.0.0.5, 203.0.0.6 and 1017 more',
    ]);
    // each allocation failed AddressNotInPool: one event each, nothing past the cap
    expect(s.calls.filter((e) => e.reason === 'AddressNotInPool')).toHaveLength(4);
  });
});

describe('a Service that asks for no address that can be allocated', () => {
  // found using the product: a Service without a selector (no EndpointSlice, so nothing wakes
  // program for it) showed no condition at all until the resync, only the event, which expires
  const condition = async (s: ReturnType<typeof setup>, name: string) => {
    const svc = ServiceSchema.parse(await s.kube.admin.get('Service', name, 'shop'));
    return svc.status?.conditions?.find((c) => c.type === 'mikrolb.de/LoadBalancerReady');
  };

  it('gets its AnnotationInvalid condition from allocate, once', async () => {
    const s = setup([{ ...service('typo', LB, { 'mikrolb.de/load-balancer-ips': '300.1.1.1' }), metadata: { name: 'typo', namespace: 'shop', generation: 3, annotations: { 'mikrolb.de/load-balancer-ips': '300.1.1.1' } } }]);
    expect((await s.allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'typo' }))).kind).toBe('done');
    expect(await condition(s, 'typo')).toMatchObject({
      status: 'False', reason: 'AnnotationInvalid', observedGeneration: 3,
      message: 'The Service asks for no address that can be allocated: mikrolb.de/load-balancer-ips: "300.1.1.1" is not a valid IP address; ignoring it',
    });
    expect(s.created('IPAllocation')).toBe(0);
    const writes = s.kube.writes.length;
    expect((await s.allocate(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'typo' }))).kind).toBe('done');
    expect(s.kube.writes.length).toBe(writes); // nothing changed: nothing written
  });

  it('a Service that asks for an address gets no condition from allocate (program writes it)', async () => {
    const s = setup([service('web', LB, {})]);
    expect((await s.allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    expect(await condition(s, 'web')).toBeUndefined();
    expect(s.created('IPAllocation')).toBe(1);
  });

  it('a Service whose annotation turns invalid loses its allocation; its deletion wakes program, which writes the condition', async () => {
    const s = setup([service('web', LB, { 'mikrolb.de/load-balancer-ips': '192.0.2.7' })]);
    expect((await s.allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    const svc = ServiceSchema.parse(await s.kube.admin.get('Service', 'web', 'shop'));
    await s.kube.admin.replace('Service', { ...svc, metadata: { ...svc.metadata, annotations: { 'mikrolb.de/load-balancer-ips': '192.0.2.300' } } });
    expect((await s.allocate(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    expect(s.kube.writes.filter((w) => w.verb === 'delete' && w.kind === 'IPAllocation')).toHaveLength(1);
    expect(await condition(s, 'web')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import type { ObjectKind } from '../lib/events/invocation.js';
import { memoryLogger } from '../lib/log/logger.js';
import { fakeKube } from '../test/helpers/fake-kube.js';
import { createBridgeMetrics } from './metrics.js';
import type { Emission } from './routing.js';
import { listHint, startSource } from './source.js';
import type { KubeStream } from './kube-stream.js';
import { KubeError } from '../lib/k8s/errors.js';
import { fakeClock } from './test-support.js';
import { createTracker } from './tracker.js';
import { serviceConcernsUs } from './filters.js';

const pool = (name: string) => ({ metadata: { name }, spec: { ipFamily: 'IPv4', addresses: ['10.0.0.0/24'] } });

async function setup(kind: ObjectKind = 'IPPool', names = ['a', 'b', 'c', 'd', 'e']) {
  const clock = fakeClock();
  const kube = fakeKube();
  for (const name of names) kube.apply(kind, pool(name));
  const log = memoryLogger();
  const metrics = createBridgeMetrics();
  const emitted: Emission[] = [];
  const source = startSource({
    kind, stream: kube.stream, tracker: createTracker(kind), emit: (e) => emitted.push(e), clock, random: () => 0.5, log,
    pageSize: 2, backoff: { baseMs: 200, maxMs: 2_000 }, observer: metrics.source,
  });
  await source.listed;
  const changes = () => emitted.map((e) => `${e.change} ${e.ref.name}`);
  const relistLogs = () => log.entries.filter((e) => e.msg === `Re-listed ${kind}`);
  return { clock, kube, log, metrics, source, emitted, changes, relistLogs };
}

describe('list then watch', () => {
  it('lists in pages, emits an add per object, then watches from the list', async () => {
    const { kube, log, changes, source } = await setup();
    expect(changes()).toEqual(['add a', 'add b', 'add c', 'add d', 'add e']);
    expect(log.entries).toContainEqual(expect.objectContaining({ msg: 'Listed IPPool', fields: expect.objectContaining({ count: 5, reason: 'initial' }) }));
    expect(kube.watches).toEqual([{ kind: 'IPPool', resourceVersion: '105' }]);
    await source.stop();
  });

  it('turns watch events into changes', async () => {
    const { kube, changes, source, clock } = await setup('IPPool', []);
    await clock.flush();
    kube.apply('IPPool', pool('x'));
    kube.apply('IPPool', { ...pool('x'), spec: { advertise: false } });
    kube.remove('IPPool', 'x');
    expect(changes()).toEqual(['add x', 'update x', 'delete x']);
    await source.stop();
  });

  it('tells of every deletion the watch sees, before its emission, also of an object the tracker does not track', async () => {
    const clock = fakeClock();
    const kube = fakeKube();
    const heard: string[] = [];
    const lb = (name: string, type: string) => ({ metadata: { name, namespace: 'shop' }, spec: { type } });
    const source = startSource({
      kind: 'Service', stream: kube.stream, tracker: createTracker('Service', serviceConcernsUs), emit: (e) => heard.push(`emit ${e.change} ${e.ref.name}`),
      deleted: (key) => heard.push(`deleted ${key}`), clock, random: () => 0.5, log: memoryLogger(), pageSize: 2, backoff: { baseMs: 200, maxMs: 2_000 },
    });
    await source.listed;
    await clock.flush();
    kube.apply('Service', lb('web', 'LoadBalancer'));
    kube.apply('Service', lb('internal', 'ClusterIP'));
    kube.remove('Service', 'web', 'shop');
    kube.remove('Service', 'internal', 'shop');
    expect(heard).toEqual(['emit add web', 'deleted Service/shop/web', 'emit delete web', 'deleted Service/shop/internal']);
    await source.stop();
  });

  it('resumes from the last bookmark when the server ends the stream, without re-listing', async () => {
    const { kube, clock, metrics, source } = await setup();
    await clock.flush();
    const bookmark = kube.bookmark('IPPool');
    kube.endWatches();
    await clock.advance(2_000);
    expect(kube.watches.at(-1)).toEqual({ kind: 'IPPool', resourceVersion: bookmark });
    expect(kube.lists).toHaveLength(1);
    expect(metrics.count('watchRestarts', { kind: 'IPPool' })).toBe(1);
    await source.stop();
  });
});

describe('re-list', () => {
  it('on 410 Gone, emitting what changed meanwhile', async () => {
    const { kube, clock, changes, relistLogs, source } = await setup();
    await clock.flush();
    kube.expire();
    await clock.advance(1_000);
    expect(kube.lists).toHaveLength(2);
    expect(relistLogs()).toEqual([expect.objectContaining({ fields: expect.objectContaining({ reason: 'resourceVersion expired (410 Gone)', count: 5 }) })]);
    expect(changes()).toHaveLength(5);
    await source.stop();
  });

  it('after an outage: retries with backoff, re-lists once, and notices deletions it never saw', async () => {
    const { kube, clock, emitted, changes, relistLogs, metrics, log, source } = await setup();
    await clock.flush();
    kube.setOffline(true);
    await clock.advance(20_000);
    const failures = log.entries.filter((e) => e.msg === 'Listing IPPool failed').length;
    expect(failures).toBeGreaterThan(3);
    expect(failures).toBeLessThan(20);
    expect(metrics.count('listFailures', { kind: 'IPPool' })).toBe(failures);
    kube.setOffline(false);
    kube.remove('IPPool', 'b'); // no watch is open: only a re-list can tell
    kube.apply('IPPool', { ...pool('c'), spec: { advertise: false } });
    kube.apply('IPPool', pool('f'));
    emitted.length = 0;
    await clock.advance(3_000);
    expect(changes().sort()).toEqual(['add f', 'delete b', 'update c']);
    expect(relistLogs()).toHaveLength(1);
    expect(relistLogs()[0]?.fields.reason).toMatch(/^watch broke/);
    expect(metrics.count('relists', { kind: 'IPPool' })).toBe(1);
    expect(kube.watching('IPPool')).toBe(1);
    await source.stop();
  });

  it('stops promptly, even while backing off', async () => {
    const { kube, clock, source } = await setup();
    kube.setOffline(true);
    await clock.advance(500);
    await source.stop();
    expect(kube.watching('IPPool')).toBe(0);
  });
});

describe('a mirror of the kind', () => {
  it('hears of each list and event before the tracker emits it', async () => {
    const clock = fakeClock();
    const kube = fakeKube();
    kube.apply('IPPool', pool('a'));
    const heard: string[] = [];
    const mirror = {
      seen: (obj: unknown) => heard.push(`seen ${JSON.stringify(obj).includes('"x"') ? 'x' : '?'}`),
      gone: () => heard.push('gone'),
      relist: () => {
        heard.push('relist');
        return { page: (items: readonly unknown[]) => heard.push(`page ${items.length}`), finish: () => heard.push('finish') };
      },
    };
    const source = startSource({
      kind: 'IPPool', stream: kube.stream, tracker: createTracker('IPPool'), emit: (e) => heard.push(`emit ${e.change}`), mirror, clock, random: () => 0.5,
      log: memoryLogger(), pageSize: 2, backoff: { baseMs: 200, maxMs: 2_000 },
    });
    await source.listed;
    await clock.flush();
    kube.apply('IPPool', pool('x'));
    kube.remove('IPPool', 'x');
    expect(heard).toEqual(['relist', 'page 1', 'emit add', 'finish', 'seen x', 'emit add', 'gone', 'emit delete']);
    await source.stop();
  });
});

describe('a list that will not pass by itself', () => {
  const failing = (err: Error): KubeStream => ({
    list: async () => { throw err; },
    watch: async () => undefined,
  });

  it.each([
    ['IPPool', new KubeError('404 page not found\n', 404, 'NotFound'), "the API server does not serve ippools.mikrolb.de: install MikroLB's CustomResourceDefinitions"],
    ['Service', new KubeError('services is forbidden: User "x" cannot list resource "services"', 403, 'Forbidden'), 'this replica may not list or watch services: grant it'],
    ['EndpointSlice', new KubeError('forbidden', 403, 'Forbidden'), 'this replica may not list or watch endpointslices.discovery.k8s.io'],
  ] as const)('%s refused with %s says what to do', async (kind, err, hint) => {
    const clock = fakeClock();
    const log = memoryLogger();
    const source = startSource({ kind, stream: failing(err), tracker: createTracker(kind), emit: () => undefined, clock, random: () => 0.5, log, pageSize: 2, backoff: { baseMs: 200, maxMs: 2_000 } });
    await clock.advance(1_000);
    const [line] = log.entries.filter((e) => e.msg === `Listing ${kind} failed`);
    expect(line?.fields).toMatchObject({ kind, error: err.message.trim(), hint: expect.stringContaining(hint) });
    await source.stop();
  });

  it('a failure that passes by itself (the API server away) carries no hint', () => {
    expect(listHint('IPPool', new KubeError('connect ECONNREFUSED', 0, 'NetworkError'))).toEqual({});
    expect(listHint('Service', new KubeError('not found', 404, 'NotFound'))).toEqual({});
  });
});

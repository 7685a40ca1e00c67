import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Invocation } from '../lib/events/invocation.js';
import { KubeError } from '../lib/k8s/errors.js';
import { memoryLogger } from '../lib/log/logger.js';
import { startBridge, type BridgeHandle } from './bridge.js';
import type { BridgeConfigInput } from './config.js';
import { fakeKube } from '../test/helpers/fake-kube.js';
import type { DispatchResult } from './invoker.js';
import { BATCH_DELAY_MS, COUNT_DELAY_MS, FUNCTION_NAMES, type FunctionName } from './routing.js';
import { fakeClock } from './test-support.js';

const offlineTransport = () => Promise.reject(new KubeError('no API server in unit tests', 0, 'NetworkError'));
const lb = (name: string) => ({ metadata: { name, namespace: 'shop' }, spec: { type: 'LoadBalancer' } });
const slice = (name: string, svc: string) => ({ metadata: { name, namespace: 'shop', labels: { 'kubernetes.io/service-name': svc } }, addressType: 'IPv4' });

const running: BridgeHandle[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((b) => b.stop()));
});

async function setup(config: BridgeConfigInput = {}) {
  const clock = fakeClock();
  const kube = fakeKube();
  const log = memoryLogger();
  const seen: { fn: FunctionName; invocation: Invocation }[] = [];
  const answer = (fn: FunctionName) => async (invocation: Invocation): Promise<DispatchResult> => {
    seen.push({ fn, invocation });
    return { status: 200 };
  };
  const dispatch = Object.fromEntries(FUNCTION_NAMES.map((fn) => [fn, answer(fn)]));
  const bridge = await startBridge(
    { port: 0, hostname: '127.0.0.1', lease: { enabled: false }, perObjectIntervalMs: 0, ...config },
    { transport: offlineTransport, stream: kube.stream, log, clock, random: () => 0.5, dispatch },
  );
  running.push(bridge);
  const url = (path: string) => `http://127.0.0.1:${bridge.port}${path}`;
  const calls = () => seen.map(({ fn, invocation: i }) => (i.type === 'resync' ? `${fn} resync` : `${fn} ${i.change} ${i.ref.kind}/${i.ref.name}`)).sort();
  // work starts with release's garbage collection (see 'collects garbage as soon as work starts')
  await bridge.ready;
  await clock.advance(0);
  const startUp = calls();
  seen.length = 0;
  return { clock, kube, log, bridge, seen, calls, url, startUp };
}

describe('the bridge, in process', () => {
  it('invokes the functions the routing table names for each change', async () => {
    const { clock, kube, bridge, calls, seen } = await setup();
    await bridge.ready;
    kube.apply('Service', lb('web'));
    kube.apply('Service', { metadata: { name: 'internal', namespace: 'shop' }, spec: { type: 'ClusterIP' } });
    await clock.advance(100);
    kube.apply('EndpointSlice', slice('web-1', 'web'));
    kube.apply('EndpointSlice', slice('internal-1', 'internal'));
    await clock.advance(100);
    kube.remove('EndpointSlice', 'web-1', 'shop');
    await clock.advance(100);
    expect(calls()).toEqual([
      'allocate add Service/web',
      'program update Service/web',
      'program update Service/web',
    ]);
    seen.length = 0;
    kube.apply('IPPool', { metadata: { name: 'lan' } });
    await clock.advance(100);
    kube.remove('IPPool', 'lan');
    await clock.advance(100);
    expect(calls()).toEqual(['allocate add IPPool/lan', 'allocate delete IPPool/lan', 'program delete IPPool/lan', 'release delete IPPool/lan']);
  });

  it('a Service being deleted concerns release alone, and what goes with it wakes nobody', async () => {
    const { clock, kube, bridge, calls, seen } = await setup();
    await bridge.ready;
    const finalizers = ['mikrolb.de/finalizer'];
    const owned = (name: string, svc: string, extra: Record<string, unknown> = {}) => ({
      metadata: { name, labels: { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': svc, 'mikrolb.de/service-uid': `uid-${svc}` }, finalizers, ...extra },
      spec: { ipFamily: 'IPv4' },
    });
    const ours = (name: string, meta: Record<string, unknown> = {}) => ({ ...lb(name), metadata: { ...lb(name).metadata, finalizers, ...meta } });
    for (const svc of ['web', 'api']) {
      kube.apply('Service', ours(svc));
      kube.apply('EndpointSlice', slice(`${svc}-1`, svc));
      kube.apply('IPAllocation', owned(`${svc}-v4`, svc));
    }
    await clock.advance(100);
    seen.length = 0;
    // web is deleted: release takes it apart, nobody else is woken by it or by what goes with it
    kube.apply('Service', ours('web', { deletionTimestamp: '2026-12-05T00:00:00Z' }));
    await clock.advance(100);
    kube.apply('IPAllocation', owned('web-v4', 'web', { deletionTimestamp: '2026-12-05T00:00:01Z' }));
    await clock.advance(100);
    kube.remove('IPAllocation', 'web-v4');
    kube.remove('EndpointSlice', 'web-1', 'shop');
    kube.remove('Service', 'web', 'shop');
    await clock.advance(100);
    expect(calls()).toEqual(['release update IPAllocation/web-v4', 'release update Service/web']);
    seen.length = 0;
    // api lives on: its allocation deleted by hand is made again, and program writes its status
    // without it and programs its slice gone (the second change arrives while the first
    // invocation runs: one follow-up)
    kube.remove('IPAllocation', 'api-v4');
    kube.remove('EndpointSlice', 'api-1', 'shop');
    await clock.advance(100);
    expect(calls()).toEqual(['allocate update Service/api', 'program update Service/api', 'program update Service/api']);
  });

  it('a slice that moves to another Service, or loses its Service label, programs the Service it left', async () => {
    const { clock, kube, bridge, calls, seen } = await setup();
    await bridge.ready;
    for (const svc of ['web', 'api']) kube.apply('Service', lb(svc));
    kube.apply('EndpointSlice', slice('manual-1', 'web'));
    await clock.advance(100);
    seen.length = 0;
    // relabelled by hand (a Service without a selector whose slices someone manages): web must
    // no longer balance onto these endpoints, api now must
    kube.apply('EndpointSlice', slice('manual-1', 'api'));
    await clock.advance(100);
    expect(calls()).toEqual(['program update Service/api', 'program update Service/web']);
    seen.length = 0;
    // the label taken off: the slice is nobody's, and api must drop its endpoints
    const unlabelled = { metadata: { name: 'manual-1', namespace: 'shop' }, addressType: 'IPv4' };
    kube.apply('EndpointSlice', unlabelled);
    await clock.advance(100);
    expect(calls()).toEqual(['program update Service/api']);
  });

  it('programs a Service once for a burst of changes to its slices and allocation, never as a slice', async () => {
    const { clock, kube, bridge, calls, seen } = await setup({ perObjectIntervalMs: 250 });
    await bridge.ready;
    const ours = { ...lb('web'), metadata: { ...lb('web').metadata, finalizers: ['mikrolb.de/finalizer'] } };
    kube.apply('Service', ours);
    await clock.advance(100);
    seen.length = 0;
    // a Deployment scales: its three slices change at once, and the address arrives meanwhile
    const scaled = (name: string) => ({ ...slice(name, 'web'), endpoints: [{ addresses: ['10.0.0.9'] }] });
    for (const name of ['web-1', 'web-2', 'web-3']) kube.apply('EndpointSlice', scaled(name));
    const allocated = {
      metadata: { name: 'web-v4', labels: { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': 'uid-web' } },
      spec: { ipFamily: 'IPv4' },
      status: { phase: 'Allocated', address: '192.0.2.7' },
    };
    kube.apply('IPAllocation', allocated);
    await clock.advance(1000);
    const programs = calls().filter((c) => c.startsWith('program'));
    // the first change, then one follow-up for the rest (one invocation per slice before)
    expect(programs.length).toBeGreaterThan(0);
    expect(programs.length).toBeLessThanOrEqual(2);
    expect(new Set(programs)).toEqual(new Set(['program update Service/web']));
  });

  it('turns a burst of claims into a few invocations of their pools, and ignores claim updates', async () => {
    const { clock, kube, bridge, calls, seen } = await setup({ perObjectIntervalMs: 250 });
    await bridge.ready;
    const claim = (i: number, pool: string, annotations: Record<string, string> = {}) => ({
      metadata: { name: `192.0.2.${i}`, labels: { 'mikrolb.de/pool': pool }, annotations }, spec: { address: `192.0.2.${i}`, poolName: pool },
    });
    for (let i = 1; i <= 200; i++) kube.apply('IPAddressClaim', claim(i, i % 2 ? 'lan' : 'dmz'));
    // taken claims only change counts: their pools hear of them COUNT_DELAY_MS later
    await clock.advance(COUNT_DELAY_MS - 100);
    expect(calls()).toEqual([]);
    await clock.advance(200);
    const burst = calls();
    expect(new Set(burst)).toEqual(new Set(['allocate update IPPool/dmz', 'allocate update IPPool/lan', 'release update IPPool/dmz', 'release update IPPool/lan']));
    expect(burst.length).toBeLessThanOrEqual(8); // the first event of each pool, then one follow-up for the rest
    seen.length = 0;
    kube.apply('IPAddressClaim', claim(1, 'lan', { note: 'edited' }));
    await clock.advance(COUNT_DELAY_MS);
    expect(calls()).toEqual([]);
    // a freed claim reaches its pool within BATCH_DELAY_MS, also while a count waits
    kube.apply('IPAddressClaim', claim(201, 'lan'));
    await clock.advance(100);
    kube.remove('IPAddressClaim', '192.0.2.1');
    await clock.advance(BATCH_DELAY_MS);
    expect(calls()).toEqual(['allocate update IPPool/lan', 'release update IPPool/lan']);
  });

  it("sends an allocation deleted while its claim stands (its finalizer taken off by hand) to release as that claim, and one released first to nobody", async () => {
    const { clock, kube, bridge, calls, seen } = await setup();
    await bridge.ready;
    const reservation = (name: string, address: string) => ({ metadata: { name }, spec: { address }, status: { phase: 'Programmed', address } });
    const claim = (address: string) => ({ metadata: { name: address, labels: { 'mikrolb.de/pool': 'lan' } }, spec: { address, poolName: 'lan' } });
    for (const [name, address] of [['by-hand', '192.0.2.7'], ['released', '192.0.2.8']] as const) {
      kube.apply('IPAllocation', reservation(name, address));
      kube.apply('IPAddressClaim', claim(address));
    }
    await clock.advance(COUNT_DELAY_MS + 100);
    seen.length = 0;
    // gone without its release: the claim holds its address for nobody
    kube.remove('IPAllocation', 'by-hand');
    await clock.advance(100);
    expect(calls()).toEqual(['release update IPAddressClaim/192.0.2.7']);
    seen.length = 0;
    // released at its deletionTimestamp: the claim went first, and its pool heard of that
    kube.remove('IPAddressClaim', '192.0.2.8');
    kube.remove('IPAllocation', 'released');
    await clock.advance(BATCH_DELAY_MS + 100);
    expect(calls()).toEqual(['allocate update IPPool/lan', 'release update IPPool/lan']);
  });

  it('is ready once every kind is listed', async () => {
    const clock = fakeClock();
    const kube = fakeKube();
    kube.setOffline(true);
    const bridge = await startBridge(
      { port: 0, hostname: '127.0.0.1', lease: { enabled: false } },
      { transport: offlineTransport, stream: kube.stream, log: memoryLogger(), clock, dispatch: {} },
    );
    running.push(bridge);
    const readyz = async () => (await fetch(`http://127.0.0.1:${bridge.port}/readyz`)).status;
    await clock.advance(1_000);
    expect(await readyz()).toBe(503);
    kube.setOffline(false);
    await clock.advance(2_000);
    await bridge.ready;
    expect(await readyz()).toBe(200);
    expect((await fetch(`http://127.0.0.1:${bridge.port}/healthz`)).status).toBe(200);
  });

  it('a standby replica keeps no work for objects deleted while it waits: its queue stays as large as what is live', async () => {
    // lease on, no API server to take it from: the bridge follows and its queue is paused
    const { clock, kube, bridge, calls } = await setup({ lease: { enabled: true, identity: 'standby' } });
    const depth = (fn: FunctionName) => Number(new RegExp(`mikrolb_bridge_queue_depth\\{function="${fn}"\\} (\\d+)`).exec(bridge.metrics.render())?.[1]);
    for (let i = 0; i < 200; i++) {
      kube.apply('Service', lb(`ci-${i}`));
      kube.apply('EndpointSlice', slice(`ci-${i}-1`, `ci-${i}`));
      await clock.advance(10);
      kube.remove('EndpointSlice', `ci-${i}-1`, 'shop');
      kube.remove('Service', `ci-${i}`, 'shop');
    }
    kube.apply('Service', lb('web'));
    await clock.advance(1_000);
    expect(bridge.isLeader()).toBe(false);
    expect(calls()).toEqual([]);
    expect(FUNCTION_NAMES.map((fn) => depth(fn))).toEqual([1, 0, 0]); // allocate for web, nothing of the 200 gone
  });

  it('a standby replica keeps no work for a Service that stopped concerning it before it was deleted', async () => {
    const { clock, kube, bridge, calls } = await setup({ lease: { enabled: true, identity: 'standby' } });
    const depth = (fn: FunctionName) => Number(new RegExp(`mikrolb_bridge_queue_depth\\{function="${fn}"\\} (\\d+)`).exec(bridge.metrics.render())?.[1]);
    const service = (name: string, type: string, finalizers: string[]) => ({ metadata: { name, namespace: 'shop', finalizers }, spec: { type } });
    const ours = ['mikrolb.de/finalizer'];
    for (let i = 0; i < 50; i++) {
      // ours, then turned into a ClusterIP Service: the leader's release takes our finalizer off
      // (the bridge stops tracking it, with no deletion), and later the Service is deleted
      const name = `was-lb-${i}`;
      kube.apply('Service', service(name, 'LoadBalancer', ours));
      kube.apply('EndpointSlice', slice(`${name}-1`, name));
      await clock.advance(10);
      kube.apply('Service', service(name, 'ClusterIP', ours));
      await clock.advance(10);
      kube.apply('Service', service(name, 'ClusterIP', []));
      await clock.advance(10);
      kube.remove('EndpointSlice', `${name}-1`, 'shop');
      kube.remove('Service', name, 'shop');
    }
    // a Service that never concerned us, deleted: nothing was queued for it, nothing is sent
    kube.apply('Service', { metadata: { name: 'internal', namespace: 'shop' }, spec: { type: 'ClusterIP' } });
    kube.remove('Service', 'internal', 'shop');
    kube.apply('Service', lb('web'));
    await clock.advance(1_000);
    expect(bridge.isLeader()).toBe(false);
    expect(calls()).toEqual([]);
    expect(FUNCTION_NAMES.map((fn) => depth(fn))).toEqual([1, 0, 0]); // allocate for web, nothing of the 50 gone
  });

  it('a standby replica keeps no work for a Service that stopped concerning it and was deleted while the watch was down', async () => {
    const { clock, kube, bridge, calls } = await setup({ lease: { enabled: true, identity: 'standby' } });
    const depth = (fn: FunctionName) => Number(new RegExp(`mikrolb_bridge_queue_depth\\{function="${fn}"\\} (\\d+)`).exec(bridge.metrics.render())?.[1]);
    const service = (name: string, type: string, finalizers: string[]) => ({ metadata: { name, namespace: 'shop', finalizers }, spec: { type } });
    for (let i = 0; i < 20; i++) {
      // ours, then a ClusterIP Service: release takes our finalizer off and the bridge stops tracking it
      kube.apply('Service', service(`was-lb-${i}`, 'LoadBalancer', ['mikrolb.de/finalizer']));
      await clock.advance(10);
      kube.apply('Service', service(`was-lb-${i}`, 'ClusterIP', []));
      await clock.advance(10);
    }
    kube.apply('Service', service('still-internal', 'ClusterIP', []));
    expect(FUNCTION_NAMES.map((fn) => depth(fn))).toEqual([20, 20, 20]);
    // deleted while the watch is down (no DELETED event): only the re-list can tell
    kube.setOffline(true);
    for (let i = 0; i < 20; i++) kube.remove('Service', `was-lb-${i}`, 'shop');
    kube.setOffline(false);
    await clock.advance(60_000);
    expect(kube.watching('Service')).toBe(1);
    expect(bridge.isLeader()).toBe(false);
    expect(calls()).toEqual([]);
    expect(FUNCTION_NAMES.map((fn) => depth(fn))).toEqual([0, 0, 0]);
  });

  it('collects garbage as soon as work starts: release gets a resync once every kind is listed', async () => {
    const { startUp, clock, calls } = await setup({ resyncIntervalMs: 60_000 });
    expect(startUp).toEqual(['release resync']);
    await clock.advance(59_000);
    expect(calls()).toEqual([]);
  });

  it('asks release for a collection when program gets no answer (its process died mid-run), at most once per 30 s', async () => {
    const clock = fakeClock();
    const kube = fakeKube();
    const seen: string[] = [];
    let answer: 'lost' | 503 | 200 = 'lost';
    const dispatch = Object.fromEntries(FUNCTION_NAMES.map((fn) => [fn, async (i: Invocation): Promise<DispatchResult> => {
      seen.push(i.type === 'resync' ? `${fn} resync` : `${fn} ${i.ref.name}`);
      if (fn !== 'program') return { status: 200 };
      if (answer === 'lost') throw new Error('socket hang up');
      return { status: answer };
    }]));
    const bridge = await startBridge(
      { port: 0, hostname: '127.0.0.1', lease: { enabled: false }, perObjectIntervalMs: 0, resyncIntervalMs: 3_600_000, retry: { baseMs: 1_000, maxMs: 1_000 } },
      { transport: offlineTransport, stream: kube.stream, log: memoryLogger(), clock, random: () => 0.5, dispatch },
    );
    running.push(bridge);
    await bridge.ready;
    await clock.advance(0);
    seen.length = 0; // the start-up collection
    kube.apply('Service', lb('web'));
    kube.apply('EndpointSlice', slice('web-1', 'web'));
    await clock.advance(100);
    expect(seen.filter((c) => c === 'release resync')).toHaveLength(0); // (SWEEP_DELAY_MS after the loss)
    await clock.advance(2_000);
    expect(seen.filter((c) => c === 'release resync')).toHaveLength(1);
    await clock.advance(3_000); // program retried and lost again: within the interval
    expect(seen.filter((c) => c.startsWith('program'))).not.toHaveLength(1);
    expect(seen.filter((c) => c === 'release resync')).toHaveLength(1);
    answer = 503; // the function answers again (a dependency down): nothing to collect
    await clock.advance(27_000);
    expect(seen.filter((c) => c === 'release resync')).toHaveLength(2); // the losses within the interval, covered at its end
    await clock.advance(60_000);
    expect(seen.filter((c) => c === 'release resync')).toHaveLength(2);
  });

  it('sends every function one resync event per interval', async () => {
    const { clock, bridge, calls } = await setup({ resyncIntervalMs: 60_000 });
    await bridge.ready;
    await clock.advance(59_000);
    expect(calls()).toEqual([]);
    await clock.advance(2_000);
    expect(calls()).toEqual(['allocate resync', 'program resync', 'release resync']);
    await clock.advance(60_000);
    expect(calls()).toHaveLength(6);
  });

  it('serves its metrics', async () => {
    const { clock, kube, bridge, url } = await setup();
    await bridge.ready;
    kube.apply('Service', lb('web'));
    await clock.advance(100);
    const res = await fetch(url('/metrics'));
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await res.text();
    expect(text).toContain('mikrolb_bridge_invocations_total{function="allocate",outcome="success"} 1\n');
    expect(text).toContain('mikrolb_bridge_tracked_objects{kind="Service"} 1\n');
    expect(text).toContain('mikrolb_bridge_ready 1\n');
    expect(text).toContain('mikrolb_bridge_leader 1\n');
  });

  it('logs its start and stop and refuses work once stopped', async () => {
    const { clock, kube, bridge, log, seen } = await setup();
    await bridge.ready;
    await bridge.stop();
    kube.apply('Service', lb('late'));
    await clock.advance(100);
    expect(seen).toEqual([]);
    expect(log.entries.map((e) => e.msg)).toEqual(expect.arrayContaining(['Started bridge', 'Bridge ready: every kind listed', 'Stopped bridge']));
  });
});

describe('invocation deadline (FUNCTION_TIMEOUT), in process too', () => {
  it('a function that never answers is given up at the deadline, counted, and retried', async () => {
    const clock = fakeClock();
    const kube = fakeKube();
    const log = memoryLogger();
    const attempts: AbortSignal[] = [];
    // the first attempt hangs and ignores its signal; the retry answers
    const hanging = async (_invocation: Invocation, signal: AbortSignal): Promise<DispatchResult> => {
      attempts.push(signal);
      return attempts.length === 1 ? new Promise<DispatchResult>(() => undefined) : { status: 200 };
    };
    const answer = async (): Promise<DispatchResult> => ({ status: 200 });
    const dispatch = { allocate: hanging, program: answer, release: answer };
    const bridge = await startBridge(
      { port: 0, hostname: '127.0.0.1', lease: { enabled: false }, perObjectIntervalMs: 0, invocationTimeoutMs: 1_000, retry: { baseMs: 100, maxMs: 100 } },
      { transport: offlineTransport, stream: kube.stream, log, clock, random: () => 0.5, dispatch },
    );
    running.push(bridge);
    await bridge.ready;
    kube.apply('Service', lb('web'));
    await clock.advance(100);
    expect(attempts).toHaveLength(1);
    await clock.advance(1_000);
    expect(attempts[0]?.aborted).toBe(true);
    expect(bridge.metrics.count('timeouts', { function: 'allocate' })).toBe(1);
    await clock.advance(500);
    expect(attempts).toHaveLength(2);
    expect(bridge.metrics.count('invocations', { function: 'allocate', outcome: 'success' })).toBe(1);
    const text = await (await fetch(`http://127.0.0.1:${bridge.port}/metrics`)).text();
    expect(text).toContain('mikrolb_bridge_invocation_timeouts_total{function="allocate"} 1\n');
    expect(log.entries.some((e) => e.msg === 'An invocation did not answer within FUNCTION_TIMEOUT; it will be retried')).toBe(true);
  });
});

describe('start-up', () => {
  it('fails, and leaves nothing running, when its port is taken', async () => {
    const { bridge } = await setup();
    const kube = fakeKube();
    const started = startBridge(
      { port: bridge.port, hostname: '127.0.0.1', lease: { enabled: false } },
      { transport: offlineTransport, stream: kube.stream, log: memoryLogger(), clock: fakeClock(), dispatch: {} },
    );
    await expect(started).rejects.toThrow(/EADDRINUSE/);
    expect(kube.watching('Service')).toBe(0);
  });

  /** A bridge started over a cluster that already holds `web` (ours), its slice and its allocation; `failing` is never listed. */
  async function restarted(failing?: 'IPAddressClaim') {
    const clock = fakeClock();
    const kube = fakeKube();
    const labels = { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': 'uid-web' };
    const web = { ...lb('web'), metadata: { ...lb('web').metadata, uid: 'uid-web', finalizers: ['mikrolb.de/finalizer'] } };
    const allocation = { metadata: { name: 'web-v4', labels }, spec: { ipFamily: 'IPv4' }, status: { phase: 'Programmed', address: '192.0.2.7' } };
    kube.apply('Service', web);
    kube.apply('EndpointSlice', slice('web-1', 'web'));
    kube.apply('IPAllocation', allocation);
    const stream = failing ? { ...kube.stream, list: (kind: Parameters<typeof kube.stream.list>[0], page: Parameters<typeof kube.stream.list>[1]) => (kind === failing ? Promise.reject(new KubeError('the server could not find the requested resource', 404, 'NotFound')) : kube.stream.list(kind, page)) } : kube.stream;
    const seen: string[] = [];
    const answer = (fn: FunctionName) => async (i: Invocation): Promise<DispatchResult> => {
      if (i.type !== 'resync') seen.push(`${fn} ${i.change} ${i.ref.kind}/${i.ref.name}`);
      return { status: 200 };
    };
    const bridge = await startBridge(
      { port: 0, hostname: '127.0.0.1', lease: { enabled: false }, perObjectIntervalMs: 0 },
      { transport: offlineTransport, stream, log: memoryLogger(), clock, random: () => 0.5, dispatch: Object.fromEntries(FUNCTION_NAMES.map((fn) => [fn, answer(fn)])) },
    );
    running.push(bridge);
    return { clock, bridge, programs: () => seen.filter((c) => c.startsWith('program')) };
  }

  it('waits for every kind to be listed: a Service, its slice and its allocation, met at once, reach program once', async () => {
    const { clock, bridge, programs } = await restarted();
    await bridge.ready;
    await clock.advance(1_000);
    expect(programs()).toEqual(['program update Service/web']);
  });

  it('waits for a kind that cannot be listed ten seconds at most', async () => {
    const { clock, programs } = await restarted('IPAddressClaim');
    await clock.advance(9_000);
    expect(programs()).toEqual([]);
    await clock.advance(2_000);
    expect(programs()).toEqual(['program update Service/web']);
  });
});

describe('the bridge over HTTP', () => {
  it('sends the token of INVOKE_TOKEN_FILE to the function URLs, and warns when there is none', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mikrolb-bridge-token-'));
    try {
      const sent: (string | null)[] = [];
      const fetchFn = (_: string | URL | Request, init?: RequestInit): Promise<Response> => {
        sent.push(new Headers(init?.headers).get('authorization'));
        return Promise.resolve(Response.json({}));
      };
      const start = async (invokeTokenFile: string) => {
        const log = memoryLogger();
        const clock = fakeClock();
        const bridge = await startBridge(
          { port: 0, hostname: '127.0.0.1', lease: { enabled: false }, perObjectIntervalMs: 0, invokeTokenFile, functions: { allocate: 'http://allocate.test/' } },
          { transport: offlineTransport, stream: fakeKube().stream, log, clock, random: () => 0.5, fetch: fetchFn },
        );
        running.push(bridge);
        return { log, clock };
      };
      const missing = await start(join(dir, 'absent'));
      expect(missing.log.entries).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/^No invocation token at INVOKE_TOKEN_FILE/) }));
      await writeFile(join(dir, 'token'), 'projected-token\n');
      const present = await start(join(dir, 'token'));
      expect(present.log.entries.filter((e) => e.msg.startsWith('No invocation token'))).toEqual([]);
      await present.clock.advance(6 * 60_000); // the first resync
      await expect.poll(() => sent).toContain('Bearer projected-token');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BridgeHandle } from '../../bridge/bridge.js';
import type { Invocation } from '../../lib/events/invocation.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { fakeFunctions, inParallel, kubeWriter, lbService, metricValue, testBridge, type Answerer } from './support.js';

const { kc, transport } = testCluster();
const kube = kubeWriter(transport);
const ns = uniq('bridge-delivery');
const log = memoryLogger();
let fns: Awaited<ReturnType<typeof fakeFunctions>>;
let bridge: BridgeHandle;

const named = (invocation: Invocation, name: string): boolean => invocation.type === 'object' && invocation.ref.namespace === ns && invocation.ref.name === name;
const flakyProgramCalls = (received: readonly { fn: string; invocation: Invocation }[]) => received.filter((r) => r.fn === 'program' && named(r.invocation, 'flaky')).length;

const deadProgramCalls = (received: readonly { fn: string; invocation: Invocation }[]) => received.filter((r) => r.fn === 'program' && named(r.invocation, 'dead')).length;

/** `flaky`: program answers 503 four times, then 200. `dead`: program's gateway answers 502 (its container died) twice, then 200. `broken`: allocate answers 400. `busy-*`: every call takes 20 ms. */
const answer: Answerer = (fn, invocation, received) => {
  if (fn === 'program' && named(invocation, 'flaky')) return flakyProgramCalls(received) <= 4 ? 503 : 200;
  if (fn === 'program' && named(invocation, 'dead')) return deadProgramCalls(received) <= 2 ? 502 : 200;
  if (fn === 'allocate' && named(invocation, 'broken')) return 400;
  if (invocation.type === 'object' && invocation.ref.namespace === ns && invocation.ref.name.startsWith('busy-')) return { status: 200, delayMs: 20 };
  return 200;
};

beforeAll(async () => {
  fns = await fakeFunctions(answer);
  await kube.namespace(ns);
  bridge = await testBridge(kc, transport, { functions: fns.urls }, log);
  await bridge.ready;
});

afterAll(async () => {
  await bridge.stop();
  await fns.close();
  for (const name of ['flaky', 'dead', 'broken', 'busy']) await kube.remove('Service', name, ns).catch(() => undefined);
  await kube.remove('Namespace', ns).catch(() => undefined);
});

const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${bridge.port}/metrics`)).text();

describe('delivery', () => {
  it('retries a function answering 503 with growing delays until it recovers', async () => {
    await kube.create('Service', lbService(ns, 'flaky'));
    // program does not hear of a new Service (it has no allocation yet), but of its changes
    await kube.patch('Service', 'flaky', ns, { metadata: { annotations: { 'example.com/poke': 'yes' } } });
    await vi.waitFor(() => expect(flakyProgramCalls(fns.received)).toBe(5), { timeout: 60_000, interval: 50 });
    const times = fns.received.filter((r) => r.fn === 'program' && named(r.invocation, 'flaky')).map((r) => r.at);
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    console.log(`[bridge] retry gaps after 503: ${gaps.join(', ')} ms`);
    // Jitter lets neighbours touch (attempt n waits ½–1 of base·2^(n-1)), never two steps apart.
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThan(0.9 * (gaps[i - 1] ?? 0));
    for (let i = 2; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThan(gaps[i - 2] ?? 0);
    expect(log.entries.filter((e) => e.msg === 'Invoking again after a delay' && e.fields['object'] === `Service/${ns}/flaky`)).toHaveLength(4);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(flakyProgramCalls(fns.received)).toBe(5);
    expect(metricValue(await metrics(), 'mikrolb_bridge_retries_total{function="program"}')).toBeGreaterThanOrEqual(4);
  });

  it('asks release for a collection when program\'s container died mid-run (its gateway answered 502), within seconds, and not again within 30 s for its second lost answer', async () => {
    const resyncs = (): number => fns.received.filter((r) => r.fn === 'release' && r.invocation.type === 'resync').length;
    const before = resyncs(); // the one work started with
    await kube.create('Service', lbService(ns, 'dead'));
    await kube.patch('Service', 'dead', ns, { metadata: { annotations: { 'example.com/poke': 'yes' } } });
    await vi.waitFor(() => expect(deadProgramCalls(fns.received)).toBe(3), { timeout: 60_000, interval: 50 });
    await vi.waitFor(() => expect(resyncs()).toBe(before + 1), { timeout: 10_000, interval: 50 });
    expect(log.entries.filter((e) => e.msg.startsWith('An invocation of program got no answer'))).toHaveLength(1);
  });

  it('does not retry a function answering 400, and logs it', async () => {
    await kube.create('Service', lbService(ns, 'broken'));
    await vi.waitFor(() => expect(fns.about(`${ns}/broken`)).toContain(`allocate add Service/${ns}/broken`), { timeout: 60_000 });
    await new Promise((r) => setTimeout(r, 2_000));
    expect(fns.about(`${ns}/broken`).filter((d) => d.startsWith('allocate'))).toEqual([`allocate add Service/${ns}/broken`]);
    expect(log.entries).toContainEqual(expect.objectContaining({ level: 'error', msg: 'Dropped invocation the function rejected', fields: expect.objectContaining({ status: 400, object: `Service/${ns}/broken`, function: 'allocate' }) }));
    expect(metricValue(await metrics(), 'mikrolb_bridge_invocations_total{function="allocate",outcome="reject"}')).toBeGreaterThanOrEqual(1);
  });

  it('turns 1,000 updates of one object within about a second into a handful of invocations', async () => {
    const busy = uniq('busy'); // a retried attempt starts with an object of its own
    await kube.create('Service', lbService(ns, busy));
    await vi.waitFor(() => expect(fns.about(`${ns}/${busy}`)).toHaveLength(1), { timeout: 60_000 });
    const coalesced = async (): Promise<number> => metricValue(await metrics(), 'mikrolb_bridge_coalesced_total{function="program"}') ?? 0;
    const before = await coalesced();
    const started = Date.now();
    await inParallel([...Array(1000).keys()], 4, (i) => kube.patch('Service', busy, ns, { metadata: { annotations: { 'example.com/counter': String(i) } } }));
    const elapsed = Date.now() - started;
    // At most one invocation per function per 250 ms of updates (plus the edges); every other
    // update merges into work already queued. A busy machine stretches `elapsed`, and the bound with it.
    const bound = Math.ceil(elapsed / 250) + 3;
    await vi.waitFor(async () => expect((await coalesced()) - before).toBeGreaterThanOrEqual(1000 - bound), { timeout: 60_000, interval: 200 });
    await new Promise((r) => setTimeout(r, 1_500));
    const perFunction = (fn: string) => fns.about(`${ns}/${busy}`).filter((d) => d.startsWith(`${fn} update`)).length;
    const counts = { allocate: perFunction('allocate'), program: perFunction('program'), release: perFunction('release') };
    console.log(`[bridge] 1000 updates in ${elapsed} ms → invocations per function: ${JSON.stringify(counts)}; program coalesced ${(await coalesced()) - before}`);
    for (const n of Object.values(counts)) {
      expect(n).toBeGreaterThanOrEqual(1);
      expect(n).toBeLessThanOrEqual(bound);
    }
  });
});

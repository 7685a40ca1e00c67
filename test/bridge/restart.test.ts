import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BridgeHandle } from '../../bridge/bridge.js';
import { ObjectKindSchema } from '../../lib/events/invocation.js';
import { isKubeError } from '../../lib/k8s/errors.js';
import { kubeTransport, type Transport } from '../../lib/k8s/rest.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { startCluster, type TestCluster } from '../cluster/cluster.js';
import { endpointSlice, fakeFunctions, kubeWriter, lbService, metricValue, sleep, testBridge } from './support.js';

// A cluster of its own: stopping the shared API server would break every other test.
let cluster: TestCluster;
let transport: Transport;
let fns: Awaited<ReturnType<typeof fakeFunctions>>;
let bridge: BridgeHandle;
const log = memoryLogger();
const ns = 'outage';
const KINDS = ObjectKindSchema.options;

beforeAll(async () => {
  cluster = await startCluster();
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  transport = kubeTransport(kc);
  fns = await fakeFunctions();
  bridge = await testBridge(kc, transport, { functions: fns.urls }, log);
  await bridge.ready;
});

afterAll(async () => {
  await bridge?.stop();
  await fns?.close();
  await cluster?.stop();
});

/** Writes right after a restart may meet a connection the old server closed: try again. */
async function retrying<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (attempt >= 20 || !isKubeError(err) || (err.status !== 0 && err.status < 500 && err.status !== 429)) throw err;
      await sleep(250);
    }
  }
}

describe('an API server outage', () => {
  it('re-lists once per kind and misses no change made around the restart', async () => {
    const kube = kubeWriter(transport);
    await kube.namespace(ns);
    for (let i = 0; i < 6; i++) {
      await kube.create('Service', lbService(ns, `s${i}`));
      await kube.create('EndpointSlice', endpointSlice(ns, `s${i}-slice`, `s${i}`));
    }
    // s0 and s1 are ours (they carry MikroLB's finalizer): their deletion waits for release
    for (const name of ['s0', 's1']) await kube.patch('Service', name, ns, { metadata: { finalizers: ['mikrolb.de/finalizer'] } });
    await vi.waitFor(() => expect(fns.about(`${ns}/s`).filter((d) => d.startsWith('allocate add'))).toHaveLength(6), { timeout: 60_000 });
    // (a slice's add reaches program as its Service's update)
    await vi.waitFor(() => expect(fns.about(`${ns}/s4`)).toContain(`program update Service/${ns}/s4`), { timeout: 60_000 });
    const s4Before = fns.about(`${ns}/s4`);

    await cluster.stopApiServer();
    await sleep(20_000);
    await cluster.startApiServer();
    // Changes made at once after the restart, likely before the bridge is back.
    await retrying(() => kube.remove('Service', 's0', ns));
    await retrying(() => kube.remove('Service', 's1', ns));
    await retrying(() => kube.remove('EndpointSlice', 's2-slice', ns));
    await retrying(() => kube.patch('Service', 's3', ns, { metadata: { annotations: { 'mikrolb.de/snat-enabled': 'true' } } }));
    await retrying(() => kube.create('Service', lbService(ns, 's6')));

    await vi.waitFor(() => {
      // deleted while the bridge was blind: release takes them apart all the same
      expect(fns.about(`${ns}/s0`)).toContain(`release update Service/${ns}/s0`);
      expect(fns.about(`${ns}/s1`)).toContain(`release update Service/${ns}/s1`);
      for (const fn of ['allocate', 'program', 'release']) expect(fns.about(`${ns}/s3`)).toContain(`${fn} update Service/${ns}/s3`);
      expect(fns.about(`${ns}/s2`)).toContain(`program update Service/${ns}/s2`);
      expect(fns.about(`${ns}/s6`)).toContain(`allocate add Service/${ns}/s6`);
    }, { timeout: 90_000, interval: 100 });

    // Each kind retries on its own backoff (up to 10 s apart); then nothing more may follow.
    const relists = () => log.entries.filter((e) => e.msg.startsWith('Re-listed '));
    await vi.waitFor(() => expect(relists()).toHaveLength(KINDS.length), { timeout: 90_000, interval: 200 });
    await sleep(3_000);
    console.log(`[bridge] after a 20 s API server outage: ${relists().map((e) => `${e.msg} (${String(e.fields['count'])} objects, ${String(e.fields['reason'])})`).join('; ')}`);
    expect(relists().map((e) => e.msg).sort()).toEqual(KINDS.map((k) => `Re-listed ${k}`).sort());
    const text = await (await fetch(`http://127.0.0.1:${bridge.port}/metrics`)).text();
    for (const kind of KINDS) {
      expect(metricValue(text, `mikrolb_bridge_relists_total{kind="${kind}"}`)).toBe(1);
      expect(metricValue(text, `mikrolb_bridge_watch_restarts_total{kind="${kind}"}`)).toBeGreaterThanOrEqual(1);
    }
    // Untouched objects are not re-sent just because of the re-list.
    expect(fns.about(`${ns}/s4`)).toEqual(s4Before);
  }, 300_000);
});

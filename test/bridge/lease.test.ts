import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BridgeHandle } from '../../bridge/bridge.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { fakeFunctions, kubeWriter, lbService, sleep, testBridge } from './support.js';

const { kc, transport } = testCluster();
const kube = kubeWriter(transport);
const ns = uniq('bridge-lease');
const created: string[] = [];
const running: BridgeHandle[] = [];
const servers: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  await kube.namespace(ns);
});

afterAll(async () => {
  await Promise.all(running.map((b) => b.stop()));
  await Promise.all(servers.map((s) => s.close()));
  for (const name of created) await kube.remove('Service', name, ns).catch(() => undefined);
  await kube.remove('Namespace', ns).catch(() => undefined);
});

async function replica(identity: string, election: boolean, leaseName = 'mikrolb-bridge') {
  const fns = await fakeFunctions();
  servers.push(fns);
  const lease = { enabled: election, namespace: ns, name: leaseName, identity, durationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 400 };
  const bridge = await testBridge(kc, transport, { functions: fns.urls, lease });
  running.push(bridge);
  await bridge.ready;
  return { fns, bridge };
}

async function createService(name: string): Promise<void> {
  await kube.create('Service', lbService(ns, name));
  created.push(name);
}

describe('two bridges', () => {
  it('without the lease, both invoke', async () => {
    const a = await replica('free-a', false);
    const b = await replica('free-b', false);
    await createService('both');
    await vi.waitFor(() => {
      expect(a.fns.about(`${ns}/both`)).toHaveLength(2);
      expect(b.fns.about(`${ns}/both`)).toHaveLength(2);
    }, { timeout: 10_000 });
    await a.bridge.stop();
    await b.bridge.stop();
  });

  it('with the lease, only the leader invokes; when it stops the other takes over within seconds', async () => {
    const a = await replica('elected-a', true);
    await vi.waitFor(() => expect(a.bridge.isLeader()).toBe(true), { timeout: 10_000 });
    const b = await replica('elected-b', true);
    await createService('first');
    await vi.waitFor(() => expect(a.fns.about(`${ns}/first`)).toHaveLength(2), { timeout: 10_000 });
    await sleep(2_500); // longer than the lease: b must still be waiting
    expect(b.bridge.isLeader()).toBe(false);
    expect(b.fns.received).toEqual([]);

    const stoppedAt = Date.now();
    await a.bridge.stop();
    await vi.waitFor(() => expect(b.bridge.isLeader()).toBe(true), { timeout: 10_000, interval: 50 });
    const takeoverMs = Date.now() - stoppedAt;
    console.log(`[bridge] lease takeover after the leader stopped: ${takeoverMs} ms`);
    expect(takeoverMs).toBeLessThan(5_000);

    await createService('second');
    await vi.waitFor(() => expect(b.fns.about(`${ns}/second`)).toHaveLength(2), { timeout: 10_000 });
    // What b queued while following is delivered too: nothing a crashed leader left undone is lost.
    expect(b.fns.about(`${ns}/first`)).toHaveLength(2);
    expect(a.fns.about(`${ns}/second`)).toEqual([]);
  });

  it('takes over from a leader that vanished without releasing, once its lease expires', async () => {
    const leaseName = uniq('crashy');
    // A lease held by a replica that is gone: renewed just now, never again.
    await transport({
      method: 'POST',
      path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
      body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: leaseName, namespace: ns }, spec: { holderIdentity: 'ghost', leaseDurationSeconds: 2, renewTime: new Date().toISOString().replace('Z', '000Z') } },
    });
    const started = Date.now();
    const c = await replica('survivor', true, leaseName);
    await vi.waitFor(() => expect(c.bridge.isLeader()).toBe(true), { timeout: 10_000, interval: 50 });
    const waited = Date.now() - started;
    console.log(`[bridge] lease takeover from a vanished leader: ${waited} ms`);
    expect(waited).toBeGreaterThan(1_000);
    expect(waited).toBeLessThan(5_000);
  });
});

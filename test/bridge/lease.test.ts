import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
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

/**
 * Lease timings: short enough to keep the test brief, long enough that a leader on a loaded
 * machine still renews in time (a renewal is one GET and one PUT, every retry period).
 */
const LEASE = { durationMs: 6_000, renewDeadlineMs: 4_000, retryPeriodMs: 300 };
/** Generous: waits end as soon as the condition holds, so only a real failure pays this. */
const PATIENCE = { timeout: 60_000, interval: 50 };

const LeaseSpec = z.object({ spec: z.object({ holderIdentity: z.string().optional(), acquireTime: z.string().optional(), renewTime: z.string().optional(), leaseDurationSeconds: z.number().optional() }) });
async function readLease(name: string): Promise<z.infer<typeof LeaseSpec>['spec']> {
  return LeaseSpec.parse(await transport({ method: 'GET', path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${name}` })).spec;
}

async function replica(identity: string, election: boolean, leaseName = 'mikrolb-bridge') {
  const fns = await fakeFunctions();
  servers.push(fns);
  const lease = { enabled: election, namespace: ns, name: leaseName, identity, ...LEASE };
  const bridge = await testBridge(kc, transport, { functions: fns.urls, lease });
  running.push(bridge);
  await bridge.ready;
  return { fns, bridge };
}

/** A Service of a fresh name (a retried attempt never meets the last one's), returned. */
async function createService(prefix: string): Promise<string> {
  const name = uniq(prefix);
  await kube.create('Service', lbService(ns, name));
  created.push(name);
  return name;
}

describe('two bridges', () => {
  it('without the lease, both invoke', async () => {
    const a = await replica('free-a', false);
    const b = await replica('free-b', false);
    const both = await createService('both');
    await vi.waitFor(() => {
      expect(a.fns.about(`${ns}/${both}`)).toHaveLength(1);
      expect(b.fns.about(`${ns}/${both}`)).toHaveLength(1);
    }, PATIENCE);
    await a.bridge.stop();
    await b.bridge.stop();
  });

  it('with the lease, only the leader invokes; when it stops it hands the lease over, so the other need not wait for it to expire', async () => {
    const a = await replica('elected-a', true);
    await vi.waitFor(() => expect(a.bridge.isLeader()).toBe(true), PATIENCE);
    // work starts with release collecting what a crashed predecessor may have left
    await vi.waitFor(() => expect(a.fns.about('release resync')).toEqual(['release resync']), PATIENCE);
    const b = await replica('elected-b', true);
    const bStarted = Date.now();
    const first = await createService('first');
    await vi.waitFor(() => expect(a.fns.about(`${ns}/${first}`)).toHaveLength(1), PATIENCE);
    // Past a whole lease duration since b started campaigning, a still holds the lease (it renews),
    // so b must still be waiting: it neither leads nor invokes.
    await sleep(Math.max(0, bStarted + LEASE.durationMs + 500 - Date.now()));
    expect((await readLease('mikrolb-bridge')).holderIdentity).toBe('elected-a');
    expect(b.bridge.isLeader()).toBe(false);
    expect(b.fns.received).toEqual([]);

    const stoppedAt = Date.now();
    await a.bridge.stop();
    // A leader that stops hands the lease back (a 1 s lease), so b need not wait for it to expire.
    expect((await readLease('mikrolb-bridge')).leaseDurationSeconds).toBe(1);
    await vi.waitFor(() => expect(b.bridge.isLeader()).toBe(true), PATIENCE);
    console.log(`[bridge] lease takeover after the leader stopped: ${Date.now() - stoppedAt} ms`);
    // the new leader's work starts with release's garbage collection too
    await vi.waitFor(() => expect(b.fns.about('release resync')).toEqual(['release resync']), PATIENCE);
    expect((await readLease('mikrolb-bridge')).holderIdentity).toBe('elected-b');

    const second = await createService('second');
    await vi.waitFor(() => expect(b.fns.about(`${ns}/${second}`)).toHaveLength(1), PATIENCE);
    // What b queued while following is delivered too: nothing a crashed leader left undone is lost.
    expect(b.fns.about(`${ns}/${first}`)).toHaveLength(1);
    expect(a.fns.about(`${ns}/${second}`)).toEqual([]);
  });

  it('takes over from a leader that vanished without releasing, once its lease expires', async () => {
    const leaseName = uniq('crashy');
    // A lease held by a replica that is gone: renewed just now, never again.
    await transport({
      method: 'POST',
      path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
      body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: leaseName, namespace: ns }, spec: { holderIdentity: 'ghost', leaseDurationSeconds: 2, renewTime: new Date().toISOString().replace('Z', '000Z') } },
    });
    const ghost = await readLease(leaseName);
    const started = Date.now();
    const c = await replica('survivor', true, leaseName);
    await vi.waitFor(() => expect(c.bridge.isLeader()).toBe(true), PATIENCE);
    console.log(`[bridge] lease takeover from a vanished leader: ${Date.now() - started} ms`);
    // Taken only once the ghost's lease had expired (its renewTime plus its 2 s), by the lease's own clock.
    const taken = await readLease(leaseName);
    expect(taken.holderIdentity).toBe('survivor');
    expect(Date.parse(taken.acquireTime ?? '')).toBeGreaterThanOrEqual(Date.parse(ghost.renewTime ?? '') + 2_000);
  });
});

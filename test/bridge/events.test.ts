import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BridgeHandle } from '../../bridge/bridge.js';
import { ObjectKindSchema } from '../../lib/events/invocation.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { endpointSlice, fakeFunctions, kubeWriter, lbService, metricValue, testBridge } from './support.js';

const { kc, transport } = testCluster();
const kube = kubeWriter(transport);
const ns = uniq('bridge-events');
const pool = uniq('bridge-pool');
const allocation = uniq('bridge-ipa');
let fns: Awaited<ReturnType<typeof fakeFunctions>>;
let bridge: BridgeHandle;
const log = memoryLogger();

beforeAll(async () => {
  fns = await fakeFunctions();
  await kube.namespace(ns);
  await kube.create('Service', lbService(ns, 'web'));
  bridge = await testBridge(kc, transport, { functions: fns.urls }, log);
  await bridge.ready;
});

afterAll(async () => {
  await bridge.stop();
  await fns.close();
  for (const name of ['web', 'internal', 'annotated', 'finalized']) await kube.remove('Service', name, ns).catch(() => undefined);
  await kube.remove('Namespace', ns).catch(() => undefined);
});

const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 60_000, interval: 50 });
/** How many watch events of a kind and type the bridge has seen (its metrics). */
const watchEvents = async (kind: string, type: string): Promise<number> =>
  metricValue(await (await fetch(`http://127.0.0.1:${bridge.port}/metrics`)).text(), `mikrolb_bridge_watch_events_total{kind="${kind}",type="${type}"}`) ?? 0;
/** Removes a Service and waits until the bridge has seen it go, and a moment longer (what it routes is then queued). */
const removeAndSee = async (name: string, namespace: string): Promise<void> => {
  const before = await watchEvents('Service', 'DELETED');
  await kube.remove('Service', name, namespace);
  await waitFor(async () => expect(await watchEvents('Service', 'DELETED')).toBeGreaterThan(before));
  await new Promise((resolve) => setTimeout(resolve, 500));
};

describe('the bridge against the API server', () => {
  it('is ready after the initial lists, and invokes allocate for what existed (program waits for its allocation)', async () => {
    const readyz = await fetch(`http://127.0.0.1:${bridge.port}/readyz`);
    expect(readyz.status).toBe(200);
    for (const kind of ObjectKindSchema.options) {
      expect(log.entries).toContainEqual(expect.objectContaining({ msg: `Listed ${kind}` }));
    }
    await waitFor(() => expect(fns.about(`${ns}/web`)).toEqual([`allocate add Service/${ns}/web`]));
  });

  it('routes Service changes and sends them as ApiServerSource ref events', async () => {
    await kube.create('Service', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'internal', namespace: ns }, spec: { ports: [{ port: 80 }], ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' } });
    await kube.create('Service', lbService(ns, 'annotated'));
    await waitFor(() => expect(fns.about(`${ns}/annotated`)).toHaveLength(1));
    await kube.patch('Service', 'annotated', ns, { metadata: { annotations: { 'mikrolb.de/snat-enabled': 'true' } } });
    await waitFor(() => expect(fns.about(`${ns}/annotated`)).toHaveLength(4));
    // deleted without our finalizer (never ours, or released already): nobody has anything to read of it
    await removeAndSee('annotated', ns);
    expect(fns.about(`${ns}/annotated`).sort()).toEqual([
      `allocate add Service/${ns}/annotated`,
      `allocate update Service/${ns}/annotated`,
      `program update Service/${ns}/annotated`,
      `release update Service/${ns}/annotated`,
    ]);
    const types = fns.received.filter((r) => r.invocation.type === 'object' && r.invocation.ref.name === 'annotated').map((r) => r.type);
    expect(new Set(types)).toEqual(new Set(['dev.knative.apiserver.ref.add', 'dev.knative.apiserver.ref.update']));
    // A ClusterIP Service without our annotations is none of our business.
    expect(fns.about(`${ns}/internal`)).toEqual([]);
  });

  it('sends a Service being deleted to release alone, and its deletion to nobody', async () => {
    await kube.create('Service', lbService(ns, 'finalized', {}));
    await kube.patch('Service', 'finalized', ns, { metadata: { finalizers: ['mikrolb.de/finalizer'] } });
    await waitFor(() => expect(fns.about(`${ns}/finalized`)).toEqual([`allocate add Service/${ns}/finalized`]));
    await kube.remove('Service', 'finalized', ns); // pending on the finalizer: an update with a deletionTimestamp
    await waitFor(() => expect(fns.about(`${ns}/finalized`).slice(1)).toEqual([`release update Service/${ns}/finalized`]));
    const before = await watchEvents('Service', 'DELETED');
    await kube.patch('Service', 'finalized', ns, { metadata: { finalizers: null } });
    await waitFor(async () => expect(await watchEvents('Service', 'DELETED')).toBeGreaterThan(before));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(fns.about(`${ns}/finalized`)).toEqual([`allocate add Service/${ns}/finalized`, `release update Service/${ns}/finalized`]);
  });

  it('sends EndpointSlice changes to program as updates of their Service', async () => {
    const programs = () => fns.about(`Service/${ns}/web`).filter((d) => d.startsWith('program'));
    await kube.create('EndpointSlice', endpointSlice(ns, 'web-abcde', 'web'));
    await kube.create('EndpointSlice', endpointSlice(ns, 'internal-abcde', 'internal'));
    await waitFor(() => expect(programs()).toEqual([`program update Service/${ns}/web`]));
    await kube.remove('EndpointSlice', 'web-abcde', ns);
    await waitFor(() => expect(programs()).toEqual([`program update Service/${ns}/web`, `program update Service/${ns}/web`]));
    expect(fns.about('abcde')).toEqual([]);
    expect(fns.about(`${ns}/internal`)).toEqual([]);
    await kube.remove('EndpointSlice', 'internal-abcde', ns);
  });

  it('routes IPPool and IPAllocation changes', async () => {
    await kube.create('IPPool', { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: pool }, spec: { ipFamily: 'IPv4', addresses: ['198.51.100.240/29'] } });
    await kube.create('IPAllocation', { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: allocation }, spec: { ipFamily: 'IPv4' } });
    // a new pool holds no address: its add wakes allocate alone
    await waitFor(() => expect(fns.about(pool)).toHaveLength(1));
    await kube.remove('IPPool', pool);
    await kube.remove('IPAllocation', allocation);
    await waitFor(() => expect(fns.about(pool)).toHaveLength(4));
    expect(fns.about(pool).sort()).toEqual([
      `allocate add IPPool/${pool}`, `allocate delete IPPool/${pool}`, `program delete IPPool/${pool}`, `release delete IPPool/${pool}`,
    ]);
    const types = fns.received.filter((r) => r.invocation.type === 'object' && r.invocation.ref.name === pool).map((r) => r.type);
    expect(new Set(types)).toEqual(new Set(['dev.knative.apiserver.ref.add', 'dev.knative.apiserver.ref.delete']));
    // a new allocation without an address wakes allocate only (nothing to program yet); deleted
    // without our finalizer, a reservation leaves no function anything to read
    await waitFor(() => expect(fns.about(allocation)).toEqual([`allocate add IPAllocation/${allocation}`]));
    await waitFor(async () => expect(await watchEvents('IPAllocation', 'DELETED')).toBeGreaterThanOrEqual(1));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(fns.about(allocation)).toEqual([`allocate add IPAllocation/${allocation}`]);
  });

  it('turns IPAddressClaims taken and freed into updates of their pool, and ignores a claim\'s update', async () => {
    const claimPool = uniq('bridge-claims');
    const group = Math.floor(Math.random() * 0xfff0 + 1).toString(16);
    const names = [1, 2, 3].map((i) => `2001-db8-0-0-0-0-${group}-${i}`);
    const claim = (name: string) => ({
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name, labels: { 'mikrolb.de/pool': claimPool } },
      spec: { address: `2001:db8::${group}:${name.slice(-1)}`, poolName: claimPool, allocationName: 'someone', allocationUID: 'uid-1' },
    });
    for (const name of names) await kube.create('IPAddressClaim', claim(name));
    const pooled = [`allocate update IPPool/${claimPool}`, `release update IPPool/${claimPool}`];
    await waitFor(() => expect([...new Set(fns.about(`IPPool/${claimPool}`))].sort()).toEqual(pooled));
    expect(fns.about('IPAddressClaim')).toEqual([]); // never as themselves
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // the follow-up for the rest of the burst
    const watched = async () => metricValue(await (await fetch(`http://127.0.0.1:${bridge.port}/metrics`)).text(), 'mikrolb_bridge_watch_events_total{kind="IPAddressClaim",type="MODIFIED"}') ?? 0;
    const modified = await watched();
    const before = fns.about(`IPPool/${claimPool}`).length;
    await kube.patch('IPAddressClaim', names[0] ?? '', undefined, { metadata: { annotations: { note: 'edited' } } });
    await waitFor(async () => expect(await watched()).toBe(modified + 1));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(fns.about(`IPPool/${claimPool}`)).toHaveLength(before);
    await kube.remove('IPAddressClaim', names[1] ?? '');
    await waitFor(() => expect(fns.about(`IPPool/${claimPool}`).slice(before).sort()).toEqual(pooled));
    for (const name of names) await kube.remove('IPAddressClaim', name).catch(() => undefined);
  });

  it('counts what it did in /metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${bridge.port}/metrics`)).text();
    expect(metricValue(text, 'mikrolb_bridge_invocations_total{function="program",outcome="success"}')).toBeGreaterThanOrEqual(4);
    expect(metricValue(text, 'mikrolb_bridge_invocations_total{function="release",outcome="success"}')).toBeGreaterThanOrEqual(3);
    expect(metricValue(text, 'mikrolb_bridge_relists_total{kind="Service"}')).toBe(0);
    expect(metricValue(text, 'mikrolb_bridge_watch_events_total{kind="Service",type="DELETED"}')).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'mikrolb_bridge_ready')).toBe(1);
    expect(metricValue(text, 'mikrolb_bridge_in_flight{function="allocate"}')).toBe(0);
    expect(metricValue(text, 'mikrolb_bridge_invocation_duration_seconds_count{function="allocate"}')).toBeGreaterThanOrEqual(4);
    expect(fns.rejected).toEqual([]);
  });
});

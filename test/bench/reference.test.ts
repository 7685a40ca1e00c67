import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../cluster/cluster.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { FINALIZER } from '../../lib/k8s/keys.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { compileChildren, requestDelta, startChild, type RunningController } from './controllers.js';
import { benchObjects, retrying, serviceObjects } from './support.js';

// The bench's yardstick, checked on a real API server: the reference controller (run as the
// bench runs it, with the probe) gives each of our Services a finalizer and an ingress with
// exactly two requests, leaves other Services alone, and the probe counts what it sent.
let cluster: TestCluster;
let kube: KubePort;
let reference: RunningController;

beforeAll(async () => {
  await compileChildren();
  cluster = await startCluster({ log: () => undefined });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  kube = await benchObjects(kc);
  reference = await startChild('reference', cluster);
});

afterAll(async () => {
  await reference?.stop();
  await cluster?.stop();
});

describe('the minimal reference controller of npm run bench', () => {
  it('writes a finalizer and an ingress per Service of our class, two requests each, and nothing else', async () => {
    const before = await reference.counts();
    const ours = [0, 1, 2, 3, 4].map((i) => serviceObjects(i).service);
    const { service: otherClass } = serviceObjects(5, 'example.com/other');
    for (const s of [...ours, otherClass]) await retrying(() => kube.create('Service', s));

    const read = async (name: string) => ServiceSchema.parse(await kube.get('Service', name, 'bench'));
    for (let i = 0; i < 200; i++) {
      const all = await Promise.all(ours.map((s) => read(s.metadata.name)));
      if (all.every((s) => s.status?.loadBalancer?.ingress?.length && s.metadata.finalizers?.includes(FINALIZER))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 500)); // the watch echoes of its own writes must not cause more

    const ips = await Promise.all(ours.map(async (s) => (await read(s.metadata.name)).status?.loadBalancer?.ingress?.[0]?.ip));
    expect(new Set(ips).size).toBe(ours.length);
    expect(ips.every((ip) => typeof ip === 'string' && ip.startsWith('10.128.'))).toBe(true);
    const untouched = await read(otherClass.metadata.name);
    expect(untouched.status?.loadBalancer?.ingress ?? []).toEqual([]);
    expect(untouched.metadata.finalizers ?? []).toEqual([]);
    expect(requestDelta(before, await reference.counts()).byCall).toEqual([
      ['reference patch services', 5],
      ['reference patch services/status', 5],
    ]);
  });
});

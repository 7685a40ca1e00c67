import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uninstallRouter } from '../../lib/cli/uninstall.js';
import { getService } from '../../lib/k8s/typed.js';
import { ownerOf } from '../../lib/router/index.js';
import type { RouterState } from '../../lib/router/state.js';
import { uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { SEED } from '../program/setup.js';
import { eventually, startE2E, type E2E } from './stack.js';

/**
 * Giving a running installation another MIKROLB_CLUSTER_NAME, as docs/upgrading.md says: stop
 * it, `mikrolb uninstall --router` with the old name, start it with the new one. Every Service
 * keeps its address, and the router carries its entries under the new name only. Done without
 * the uninstall, the old entries hold the addresses for "another cluster" and their rules sit
 * in each Service's chains: nothing is programmed over them, until the old name is uninstalled.
 */

const ns = uniq('rename');
const pool = uniq('rename-pool');
const LB = { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' };
const quiet = { stdout: { write: () => undefined }, stderr: { write: () => undefined } };

let first: E2E;
let make: ReturnType<typeof objects>;
const running: E2E[] = [];

/** The advertised addresses of one cluster on the router. */
const advertised = (s: RouterState, cluster: string): string[] => (s.menus['/ip/address'] ?? [])
  .filter((e) => ownerOf(e.comment)?.cluster === cluster).map((e) => e.address ?? '').sort();
const ofCluster = (s: RouterState, cluster: string) => Object.values(s.menus).flat().filter((e) => ownerOf(e.comment)?.cluster === cluster);

async function service(name: string, annotations: Record<string, string>): Promise<void> {
  await make.service(ns, name, LB, annotations);
  await first.kube.create('EndpointSlice', {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-x`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.244.3.1'], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });
}

const ingress = async (name: string): Promise<string | undefined> => (await getService(first.kube, ns, name))?.status?.loadBalancer?.ingress?.[0]?.ip;

beforeAll(async () => {
  first = await startE2E(SEED, { resyncIntervalMs: 3000 });
  make = objects(first.kube);
  await make.namespace(ns);
  await make.pool(pool, { ipFamily: 'IPv4', addresses: ['198.18.62.1-198.18.62.20'], autoAssign: false, interfaceName: 'ether1' });
  await service('picked', { 'mikrolb.de/load-balancer-pools': pool });
  await service('pinned', { 'mikrolb.de/load-balancer-ips': '198.18.62.7' });
}, 300_000);

afterAll(async () => {
  await make?.cleanup();
  for (const e2e of running.reverse()) await e2e.controller.stop();
  await first?.stop();
});

describe('renaming an installation (MIKROLB_CLUSTER_NAME)', () => {
  it('stopped, uninstalled under the old name and started under the new one: every address stays, its entries are the new name\'s', async () => {
    const before = await eventually(async () => {
      const picked = await ingress('picked');
      const pinned = await ingress('pinned');
      if (!picked || !pinned) throw new Error('no ingress yet');
      expect(advertised(first.sim.state(), 'default')).toEqual([`${picked}/32`, `${pinned}/32`].sort());
      return { picked, pinned };
    });
    await first.controller.stop();
    expect(await uninstallRouter(first.router, false, quiet, 'default')).toBe(0);
    expect(ofCluster(first.sim.state(), 'default')).toEqual([]);

    const renamed = await startE2E(SEED, { resyncIntervalMs: 3000, sim: first.sim, clusterName: 'edge' });
    running.push(renamed);
    await eventually(async () => {
      expect(advertised(first.sim.state(), 'edge')).toEqual([`${before.picked}/32`, `${before.pinned}/32`].sort());
      expect(await ingress('picked')).toBe(before.picked);
      expect(await ingress('pinned')).toBe(before.pinned);
    }, 120_000, 500);
    expect(ofCluster(first.sim.state(), 'default')).toEqual([]);
  });

  it('renamed without the uninstall, nothing is programmed over the old rules, and each allocation says why; the uninstall the message names heals it', async () => {
    const edge = running.pop();
    if (!edge) throw new Error('the first test left no running installation');
    const picked = await ingress('picked');
    const pinned = await ingress('pinned');
    await edge.controller.stop();
    const west = await startE2E(SEED, { resyncIntervalMs: 3000, sim: first.sim, clusterName: 'west' });
    running.push(west);
    // the old entries' rules sit in each Service's chains (named after its uid): programmed
    // there, a Service would lead to them; it keeps its address meanwhile
    for (const name of ['picked', 'pinned']) {
      await eventually(async () => {
        const ready = (await make.allocationsOf(ns, name))[0]?.status?.conditions?.find((c) => c.type === 'Ready');
        expect(ready).toMatchObject({ status: 'False', reason: 'BackendError', message: expect.stringContaining('MIKROLB_CLUSTER_NAME=edge mikrolb uninstall --router') });
      }, 120_000, 500);
    }
    expect(advertised(first.sim.state(), 'west')).toEqual([]);
    // the old name's entries stay (nobody removes them) and still lead the old addresses to the old rules
    expect(advertised(first.sim.state(), 'edge')).toEqual([`${picked ?? '?'}/32`, `${pinned ?? '?'}/32`].sort());

    expect(await uninstallRouter(first.router, false, quiet, 'edge')).toBe(0);
    await eventually(async () => {
      expect(await ingress('picked')).toBe(picked);
      expect(await ingress('pinned')).toBe(pinned);
      expect(advertised(first.sim.state(), 'west')).toEqual([`${picked ?? '?'}/32`, `${pinned ?? '?'}/32`].sort());
    }, 120_000, 500);
    expect(ofCluster(first.sim.state(), 'edge')).toEqual([]);
  });
});

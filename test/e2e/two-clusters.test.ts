import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uninstallRouter } from '../../lib/cli/uninstall.js';
import { startCluster, type TestCluster } from '../cluster/cluster.js';
import { getService } from '../../lib/k8s/typed.js';
import { ownerOf } from '../../lib/router/index.js';
import type { RouterEntry, RouterState } from '../../lib/router/state.js';
import { uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { SEED } from '../program/setup.js';
import { eventually, startE2E, type E2E } from './stack.js';

/**
 * Two installations share one router: cluster `default` (the shared test API server) and
 * cluster `lab` (an API server of its own), each an all-in-one controller with its own
 * MIKROLB_CLUSTER_NAME and its own Services. Neither's programming, garbage collection or
 * uninstall touches the other's entries.
 */

const GONE = 'deadbeef-0000-4000-8000-00000000dead';
/** Leftovers of a Service gone long ago, one per cluster (the default one in the tag format of before cluster names), and entries that only look like ours. */
const seed: RouterState = {
  ...SEED,
  menus: {
    ...SEED.menus,
    '/ip/firewall/address-list': [
      ...(SEED.menus['/ip/firewall/address-list'] ?? []),
      { '.id': '*41', list: 'mikrolb-lb', address: '198.18.60.250', comment: `mikrolb:svc=${GONE}:lb-list:198.18.60.250` },
      { '.id': '*42', list: 'mikrolb-lb', address: '198.18.61.250', comment: `mikrolb:lab:svc=${GONE}:lb-list:198.18.61.250` },
    ],
    '/ip/address': [
      ...(SEED.menus['/ip/address'] ?? []),
      { '.id': '*14', address: '198.18.41.1/24', interface: 'ether2', comment: `mikrolb:lab:svc=${GONE}:adv:198.18.41.1` },
    ],
    '/ip/firewall/filter': [
      ...(SEED.menus['/ip/firewall/filter'] ?? []),
      { '.id': '*32', chain: 'input', action: 'drop', 'in-interface': 'ether1', comment: 'mikrolb:global:admin-wan-drop' },
      { '.id': '*33', chain: 'input', action: 'drop', 'in-interface': 'ether2', comment: 'mikrolb:lab:global:admin-wan-drop' },
    ],
  },
};

let second: TestCluster;
let made: ReturnType<typeof objects>;
let a: E2E;
let b: E2E;
/** What is neither cluster's, as the router had it before either controller ran. */
let foreignBefore = '';
/** The addresses of web (cluster default) and api (cluster lab), both programmed before the tests. */
let webIp = '';
let apiIp = '';
const ns = uniq('two');
const LB = { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' };

const entries = (s: RouterState): RouterEntry[] => Object.values(s.menus).flat();
/** A wider address is never ours, whatever its comment (only host addresses count). */
const wide = (e: RouterEntry): boolean => e.address !== undefined && e.interface !== undefined && !/\/(32|128)$/.test(e.address);
const ofCluster = (s: RouterState, cluster: string): string[] => entries(s)
  .filter((e) => ownerOf(e.comment)?.cluster === cluster && !wide(e)).map((e) => `${e['.id'] ?? ''} ${e.comment ?? ''}`).sort();
const foreign = (s: RouterState): string => JSON.stringify(entries(s).filter((e) => (ownerOf(e.comment) === undefined || wide(e)) && e.dynamic !== 'true'));

async function service(e2e: E2E, name: string, pool: string, endpoint: string): Promise<string> {
  await (e2e === a ? made : objects(e2e.kube)).service(ns, name, LB, { 'mikrolb.de/load-balancer-pools': pool });
  await e2e.kube.create('EndpointSlice', {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-x`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4', endpoints: [{ addresses: [endpoint], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });
  return eventually(async () => {
    const ip = (await getService(e2e.kube, ns, name))?.status?.loadBalancer?.ingress?.[0]?.ip;
    if (!ip) throw new Error(`${name} has no ingress yet`);
    return ip;
  });
}

beforeAll(async () => {
  second = await startCluster({ crds: true, log: () => undefined });
  a = await startE2E(seed, { resyncIntervalMs: 3000 });
  b = await startE2E(seed, { resyncIntervalMs: 3000, kubeconfig: second.kubeconfig, sim: a.sim, clusterName: 'lab' });
  made = objects(a.kube);
  for (const [e2e, range] of [[a, '198.18.60.1-198.18.60.20'], [b, '198.18.61.1-198.18.61.20']] as const) {
    const make = e2e === a ? made : objects(e2e.kube);
    await make.namespace(ns);
    await make.pool(`${ns}-pool`, { ipFamily: 'IPv4', addresses: [range], autoAssign: false, interfaceName: 'ether1' });
  }
  foreignBefore = foreign(a.sim.state());
  webIp = await service(a, 'web', `${ns}-pool`, '10.244.3.1');
  apiIp = await service(b, 'api', `${ns}-pool`, '10.244.4.1');
}, 300_000);

/**
 * The default cluster's entries once both garbage collectors have removed their leftovers and
 * the default controller has converged: two program invocations for one Service (its own event
 * and its slice's) can each add a NAT rule until the next plan removes the copy, so the
 * snapshot is taken once no tag appears twice.
 */
async function settledDefaultEntries(): Promise<string[]> {
  return eventually(async () => {
    expect((a.sim.state().menus['/ip/firewall/address-list'] ?? []).filter((e) => e.comment?.includes(GONE))).toEqual([]);
    const mine = ofCluster(a.sim.state(), 'default');
    const tags = mine.map((e) => e.replace(/^\S+ /, ''));
    expect(new Set(tags).size).toBe(tags.length);
    return mine;
  }, 120_000, 500);
}

afterAll(async () => {
  await made?.cleanup();
  await b?.stop();
  await a?.stop();
  await second?.stop();
});

describe('two clusters (MIKROLB_CLUSTER_NAME default and lab) on one router', () => {
  it('both program their own Services; each garbage collector removes only its own cluster\'s leftovers', async () => {
    expect(webIp.startsWith('198.18.60.')).toBe(true);
    expect(apiIp.startsWith('198.18.61.')).toBe(true);
    // both resync garbage collectors ran: each removed its own leftover, the default one adopting the old tag format
    await settledDefaultEntries();
    const state = a.sim.state();
    const addresses = (state.menus['/ip/address'] ?? []).map((e) => e.address);
    expect(addresses).toEqual(expect.arrayContaining([`${webIp}/32`, `${apiIp}/32`]));
    expect(ofCluster(state, 'default').some((e) => e.includes(`lb-list:${webIp}`))).toBe(true);
    expect(ofCluster(state, 'lab').some((e) => e.includes(`lb-list:${apiIp}`))).toBe(true);
    expect(ofCluster(state, 'default').filter((e) => e.includes(`:${apiIp}`))).toEqual([]);
    expect(foreign(state)).toBe(foreignBefore);
  });

  it('deleting the lab cluster\'s Services removes only its entries; the default cluster\'s stay as they were', async () => {
    const aEntries = await settledDefaultEntries();
    await b.kube.remove('Service', 'api', ns);
    await eventually(async () => {
      expect(ofCluster(a.sim.state(), 'lab').filter((e) => e.includes(':svc='))).toEqual([]);
      expect(await b.kube.get('Service', 'api', ns)).toBeUndefined();
    }, 60_000, 500);
    expect(ofCluster(a.sim.state(), 'default')).toEqual(aEntries);
  });

  // Stops the lab controller: it stays the last test (it needs nothing an earlier one made).
  it('uninstalling the lab cluster removes its remaining entries and nothing else; the default cluster keeps working', async () => {
    const aEntries = await settledDefaultEntries();
    await b.controller.stop();
    let out = '';
    const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: () => undefined } };
    expect(await uninstallRouter(b.router, false, io, 'lab')).toBe(0);
    expect(out).toMatch(/^removed \d+ entr(y|ies)$/m);
    expect(ofCluster(a.sim.state(), 'lab')).toEqual([]);
    expect(ofCluster(a.sim.state(), 'default')).toEqual(aEntries);
    expect(foreign(a.sim.state())).toBe(foreignBefore);
    const shopIp = await service(a, 'shop', `${ns}-pool`, '10.244.3.2');
    expect(ofCluster(a.sim.state(), 'default').some((e) => e.includes(`lb-list:${shopIp}`))).toBe(true);
    expect(ofCluster(a.sim.state(), 'default')).toEqual(expect.arrayContaining(aEntries));
  });
});

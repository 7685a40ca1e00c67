import { describe, expect, it } from 'vitest';
import { prepareGlobals } from '../../lib/core/router-program.js';
import { resyncInvocation } from '../../lib/events/cloudevent.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { silentLogger } from '../../lib/log/logger.js';
import type { RouterPort } from '../../lib/router/port.js';
import type { RouterState } from '../../lib/router/state.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createRelease } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * The resync's garbage collection takes off the global rules of a family nothing uses, judged
 * by lists taken after the rules were read. A family's first pool created while the resync runs,
 * a Service of it allocated and programmed at once (program writes the family's global rules, or
 * finds them standing and writes none), keeps them: before, the families to keep were decided
 * from lists taken before the read the rules were removed from, and the new Service stayed
 * Programmed without the dst-nat jump to its chain until program's next run.
 */
const NOW = () => new Date('2026-01-01T01:00:00Z');
const CLASS = 'mikrolb.de/controller';

const routerSeed = (): RouterState => ({ version: '7.19.1', menus: { '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }], '/ip/address': [] } });

const pool4 = { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan' }, spec: { ipFamily: 'IPv4', addresses: ['192.0.2.10-192.0.2.20'], interfaceName: 'ether1' } };
const pool6 = { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'v6' }, spec: { ipFamily: 'IPv6', addresses: ['2001:db8::10-2001:db8::20'], interfaceName: 'ether1' } };

async function resync(kube: KubePort, router: RouterPort): Promise<void> {
  const release = createRelease({
    kube, router, classes: { loadBalancerClass: CLASS, defaultClass: false },
    now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, claimGraceMs: 60_000,
  });
  expect((await release(resyncInvocation())).kind).toBe('done');
}

/**
 * A resync in a cluster that serves IPv4 only, with the first IPv6 pool created (and program
 * making sure of the IPv6 global rules, as for a Service of it) just before its `at`-th request
 * to the cluster or the router. `leftover`: the IPv6 rules stand from before (a pool since
 * deleted), so program finds them and writes none. Resolves with whether that happened (false
 * once `at` is past the resync's last request) and what the IPv6 rules lack afterwards.
 */
async function raced(at: number, leftover: boolean): Promise<{ happened: boolean; missing: number }> {
  const kube = memoryPortAs('release', { now: NOW, objects: [pool4] });
  const router = memoryRouter(routerSeed());
  await prepareGlobals(router, leftover ? ['IPv4', 'IPv6'] : ['IPv4']);
  let requests = 0;
  let happened = false;
  const before = async (): Promise<void> => {
    if (requests++ !== at) return;
    happened = true;
    await kube.admin.create('IPPool', pool6);
    await prepareGlobals(router, ['IPv6']);
  };
  const racingKube: KubePort = {
    ...kube.port,
    list: async (kind, opts) => (await before(), kube.port.list(kind, opts)),
    get: async (kind, name, ns) => (await before(), kube.port.get(kind, name, ns)),
  };
  const racingRouter: RouterPort = {
    ...router,
    read: async (reads) => (await before(), router.read(reads)),
    readMany: async (menus) => (await before(), router.readMany(menus)),
    execute: async (ops) => (await before(), router.execute(ops)),
  };
  await resync(racingKube, racingRouter);
  // what program would still have to write for the family: nothing, if its rules stand
  return { happened, missing: (await prepareGlobals(router, ['IPv6'])).length };
}

describe('garbage collection of global rules racing a family\'s first Service', () => {
  for (const leftover of [false, true]) {
    it(`keeps the rules the new family's Service needs, created before any of the resync's requests (${leftover ? 'rules left from before' : 'program writes them'})`, async () => {
      let at = 0;
      for (; ; at++) {
        const got = await raced(at, leftover);
        if (!got.happened) break;
        expect({ at, missing: got.missing }).toEqual({ at, missing: 0 });
      }
      // the resync listed the cluster, read the router and removed the IPv6 rules: every gap was tried
      expect(at).toBeGreaterThan(5);
    });
  }

  it('still takes off the rules of a family nothing uses', async () => {
    const got = await raced(Number.POSITIVE_INFINITY, true);
    expect(got).toEqual({ happened: false, missing: expect.any(Number) });
    expect(got.missing).toBeGreaterThan(0);
  });
});

import { describe, expect, it } from 'vitest';
import { prepareGlobals } from '../../lib/core/router-program.js';
import { resyncInvocation } from '../../lib/events/cloudevent.js';
import { silentLogger } from '../../lib/log/logger.js';
import { ownerOf } from '../../lib/router/index.js';
import { baseRouter } from '../../lib/router/test-support.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createRelease } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * The resync's garbage collection keeps the global rules of a family some pool serves, even
 * with no Service using them: the controller creates them at start (prepareGlobals), and taking
 * them away at every resync would only have the start (or the next first Service) add them again.
 */
const NOW = () => new Date('2026-01-01T01:00:00Z');
const pool = (name: string, ipFamily: 'IPv4' | 'IPv6', addresses: string[], deleting = false) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool',
  metadata: { name, ...(deleting ? { deletionTimestamp: '2026-01-01T00:30:00Z', finalizers: ['mikrolb.de/finalizer'] } : {}) },
  spec: { ipFamily, addresses },
});

async function globalsAfterResync(objects: object[]): Promise<string[]> {
  const router = memoryRouter(baseRouter());
  await prepareGlobals(router, ['IPv4', 'IPv6']);
  const kube = memoryPortAs('release', { now: NOW, objects });
  const release = createRelease({
    kube: kube.port, router, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
    now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, claimGraceMs: 60_000,
  });
  expect((await release(resyncInvocation())).kind).toBe('done');
  const families = Object.entries(router.state().menus).filter(([, es]) => es.some((e) => ownerOf(e.comment)?.kind === 'global')).map(([menu]) => (menu.startsWith('/ipv6/') ? 'IPv6' : 'IPv4'));
  return [...new Set(families)];
}

describe('garbage collection of the global rules', () => {
  it('keeps those of a family a pool serves, and only those', async () => {
    expect(await globalsAfterResync([pool('lan', 'IPv4', ['192.0.2.64/27'])])).toEqual(['IPv4']);
  });

  it('removes them all when no pool and no allocation needs them; a pool being deleted needs none', async () => {
    expect(await globalsAfterResync([])).toEqual([]);
    expect(await globalsAfterResync([pool('v6', 'IPv6', ['2001:db8:ffff::40/124'], true)])).toEqual([]);
  });
});

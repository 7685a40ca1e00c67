import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { memoryPort } from '../../lib/k8s/memory.js';
import { silentLogger } from '../../lib/log/logger.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createRelease } from './handler.js';

/**
 * A freed address (its claim deleted) lets a pool being deleted finish: release looks at the
 * pool the claim came from, found from the address in the claim's name, and at no other.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const deletingPool = (name: string, cidr: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool',
  metadata: { name, creationTimestamp: '2025-12-01T00:00:00Z', deletionTimestamp: '2025-12-31T00:00:00Z', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses: [cidr], autoAssign: true, avoidBuggyIPs: false, advertise: false },
});
const claim = (address: string, poolName: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: address, labels: { 'mikrolb.de/pool': poolName } },
  spec: { address, poolName, allocationName: 'gone-1', allocationUID: 'uid-gone' },
});

async function onClaim(change: 'add' | 'delete', name: string, objects: unknown[]) {
  const kube = memoryPort({ now: NOW, objects });
  const release = createRelease({
    kube: kube.port, router: memoryRouter({ version: '7.19.1', menus: {} }), now: NOW, log: silentLogger(),
    retry: { attempts: 3, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, claimGraceMs: 60_000,
  });
  const answer = await release(objectInvocation(change, { kind: 'IPAddressClaim', name }));
  const left = (await kube.port.list('IPPool')).length;
  return { answer, kube, left };
}

describe('release: an IPAddressClaim event', () => {
  it('lets the pool the freed address belonged to finish its deletion, and no other', async () => {
    const { answer, kube } = await onClaim('delete', '192.0.2.5', [deletingPool('lan', '192.0.2.0/28'), deletingPool('dmz', '198.51.100.0/28')]);
    expect(answer.kind).toBe('done');
    expect(await kube.port.get('IPPool', 'lan')).toBeUndefined();
    expect(await kube.port.get('IPPool', 'dmz')).toBeDefined();
  });

  it('looks at the pool a claim still there names', async () => {
    const { answer, kube } = await onClaim('add', '192.0.2.5', [deletingPool('lan', '192.0.2.0/28'), deletingPool('dmz', '198.51.100.0/28'), claim('192.0.2.5', 'dmz')]);
    expect(answer.kind).toBe('done');
    expect(await kube.port.get('IPPool', 'lan')).toBeDefined();
    expect((await kube.port.list('IPPool')).length).toBe(1);
  });

  it('does nothing for a name that is no address', async () => {
    const { answer, left } = await onClaim('delete', 'forged', [deletingPool('lan', '192.0.2.0/28')]);
    expect(answer.kind).toBe('done');
    expect(left).toBe(1);
  });
});

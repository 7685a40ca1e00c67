import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { IPPoolSchema } from '../../lib/k8s/schemas.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A claim event (as Knative's ApiServerSource sends it) reconciles the pool the claim was taken
 * from: named by the claim while it exists, found from the address in its name once it is gone.
 * The sign of a reconciled pool here is the finalizer allocate gives every pool it reconciles.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const pool = (name: string, ipFamily: 'IPv4' | 'IPv6', cidr: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name, creationTimestamp: '2025-12-01T00:00:00Z' },
  spec: { ipFamily, addresses: [cidr], autoAssign: true, avoidBuggyIPs: false, advertise: false },
});
const claim = (address: string, poolName: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: address, labels: { 'mikrolb.de/pool': poolName } },
  spec: { address, poolName, allocationName: 'reserved-1', allocationUID: 'uid-1' },
});
const POOLS = [pool('lan', 'IPv4', '192.0.2.0/28'), pool('dmz', 'IPv4', '198.51.100.0/28'), pool('v6', 'IPv6', '2001:db8::/124')];

async function onClaim(change: 'add' | 'delete', name: string, objects: unknown[]) {
  const kube = memoryPortAs('allocate', { now: NOW, objects });
  const allocate = createAllocate({ kube: kube.port, now: NOW, log: memoryLogger(), retry: { attempts: 3, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false } });
  const answer = await allocate(objectInvocation(change, { kind: 'IPAddressClaim', name }));
  const reconciled: string[] = [];
  for (const p of POOLS) {
    if (IPPoolSchema.parse(await kube.admin.get('IPPool', p.metadata.name)).metadata.finalizers?.includes('mikrolb.de/finalizer')) reconciled.push(p.metadata.name);
  }
  return { answer, reconciled };
}

describe('allocate: an IPAddressClaim event', () => {
  it('reconciles the pool a claim names (its spec wins over what its address suggests)', async () => {
    const { answer, reconciled } = await onClaim('add', '192.0.2.5', [...POOLS, claim('192.0.2.5', 'dmz')]);
    expect(answer.kind).toBe('done');
    expect(reconciled).toEqual(['dmz']);
  });

  it.each([
    ['an IPv4 address', '192.0.2.5', ['lan']],
    ['an IPv6 address', '2001-db8-0-0-0-0-0-5', ['v6']],
    ['an address of no pool', '203.0.113.7', []],
    ['a name that is no address', 'forged', []],
  ])('once the claim is gone, reconciles the pool that keeps the address in its name: %s', async (_what, name, expected) => {
    const { answer, reconciled } = await onClaim('delete', name, POOLS);
    expect(answer.kind).toBe('done');
    expect(reconciled).toEqual(expected);
    if (expected.length === 0) expect(answer).toMatchObject({ body: { actions: [`claim ${name} belongs to no pool`] } });
  });
});

describe('allocate: a burst of claim events on one pool (one event each, as ApiServerSource delivers them)', () => {
  it('shares the pool reconciles of the events that arrive while one runs, and the counts end right', async () => {
    const claims = Array.from({ length: 10 }, (_, i) => claim(`192.0.2.${i + 1}`, 'lan'));
    const kube = memoryPortAs('allocate', { now: NOW, objects: [...POOLS, ...claims] });
    let claimLists = 0;
    const port = { ...kube.port, list: (...args: Parameters<typeof kube.port.list>) => {
      if (args[0] === 'IPAddressClaim') claimLists++;
      return kube.port.list(...args);
    } };
    const allocate = createAllocate({ kube: port, now: NOW, log: memoryLogger(), retry: { attempts: 3, pause: async () => undefined }, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false } });
    const one = await allocate(objectInvocation('add', { kind: 'IPAddressClaim', name: claims[0]?.metadata.name ?? '' }));
    expect(one.kind).toBe('done');
    const perReconcile = claimLists;
    expect(perReconcile).toBeGreaterThan(0);
    claimLists = 0;
    const answers = await Promise.all(claims.map((c) => allocate(objectInvocation('add', { kind: 'IPAddressClaim', name: c.metadata.name }))));
    expect(answers.map((a) => a.kind)).toEqual(claims.map(() => 'done'));
    expect(claimLists).toBeLessThanOrEqual(2 * perReconcile); // 10 reconciles unshared
    const lan = IPPoolSchema.parse(await kube.admin.get('IPPool', 'lan'));
    expect(lan.status).toMatchObject({ totalAddresses: '16', allocatedAddresses: '10', freeAddresses: '6' });
  });
});

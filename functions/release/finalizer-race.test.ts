import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import type { Kind } from '../../lib/k8s/resources.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { z } from 'zod';
import { ObjectMetaSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createRelease } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * Release drops our finalizer from the object it released, and from no other: when its write
 * meets a conflict it reads the object again, and one created meanwhile under the same name
 * (allocate creates a Service's allocation again under its name once the old one is gone) keeps
 * its finalizer. Chaos, seed 99991: a second release of a collected allocation read the
 * allocation allocate had just created again, dropped its finalizer, and that allocation's
 * later release found nothing to release (its claim and its address's router entries stayed).
 */
const NOW = () => new Date('2026-01-01T01:00:00Z');
const FINALIZER = 'mikrolb.de/finalizer';
const API = 'mikrolb.de/v1alpha1';

/** Any stored object: its metadata read, every other field kept. */
const Stored = z.looseObject({ metadata: ObjectMetaSchema });

const deleting = { deletionTimestamp: '2026-01-01T00:59:00Z', finalizers: [FINALIZER] };
const objects: Record<'IPAllocation' | 'IPPool', { first: object; again: object }> = {
  IPAllocation: {
    first: { apiVersion: API, kind: 'IPAllocation', metadata: { name: 'ip-web', ...deleting }, spec: { ipFamily: 'IPv4' } },
    again: { apiVersion: API, kind: 'IPAllocation', metadata: { name: 'ip-web', finalizers: [FINALIZER] }, spec: { ipFamily: 'IPv4' } },
  },
  IPPool: {
    first: { apiVersion: API, kind: 'IPPool', metadata: { name: 'lan', ...deleting }, spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/28'] } },
    again: { apiVersion: API, kind: 'IPPool', metadata: { name: 'lan', finalizers: [FINALIZER] }, spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/28'] } },
  },
};

/**
 * Releases the `kind` named; when release lists the claims (before it drops the finalizer),
 * another instance finishes the release and the object is created again under its name.
 */
async function releaseWhileRecreated(kind: 'IPAllocation' | 'IPPool'): Promise<{ recreated: boolean; finalizers: string[] | undefined; uids: [string, string] }> {
  const { first, again } = objects[kind];
  const kube = memoryPortAs('release', { now: NOW, objects: [first] });
  const name = kind === 'IPAllocation' ? 'ip-web' : 'lan';
  const read = async (k: Kind) => Stored.parse(await kube.admin.get(k, name));
  const firstUid = (await read(kind)).metadata.uid ?? '';
  let recreated = false;
  const racing: KubePort = {
    ...kube.port,
    list: async (k, opts) => {
      const items = await kube.port.list(k, opts);
      if (k === 'IPAddressClaim' && !recreated) {
        recreated = true;
        const stored = await read(kind);
        await kube.admin.replace(kind, { ...stored, metadata: { ...stored.metadata, finalizers: [] } });
        await kube.admin.create(kind, Stored.parse(again));
      }
      return items;
    },
  };
  const release = createRelease({
    kube: racing, router: memoryRouter({ version: '7.19.1', menus: {} }), classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
    now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined }, claimGraceMs: 60_000,
  });
  expect((await release(objectInvocation('update', { kind, name }))).kind).toBe('done');
  const after = (await read(kind)).metadata;
  return { recreated, finalizers: after.finalizers, uids: [firstUid, after.uid ?? ''] };
}

describe('release racing the re-creation of what it releases', () => {
  it.each(['IPAllocation', 'IPPool'] as const)('an %s created again under its name keeps its finalizer', async (kind) => {
    const got = await releaseWhileRecreated(kind);
    expect(got.recreated).toBe(true);
    expect(got.uids[1]).not.toBe(got.uids[0]);
    expect(got.finalizers).toEqual([FINALIZER]);
  });
});

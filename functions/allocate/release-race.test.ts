import { describe, expect, it } from 'vitest';
import { objectInvocation, resyncInvocation } from '../../lib/events/cloudevent.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { ANNOTATION_ALLOW_SHARED_IP, LABEL_SERVICE_NAME, LABEL_SERVICE_NAMESPACE, LABEL_SERVICE_UID } from '../../lib/k8s/keys.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { IPAddressClaimSchema, IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs, type AccountPort } from '../test-support.js';

/**
 * allocate racing a release. allocate read the Service (or the reservation) alive; release then
 * started, freed the allocation's claim and went on; allocate, finding the status's address
 * without a claim, claimed it again. Release, which looked for claims before that one existed,
 * never frees it: it would hold the address (and, shared, keep the address's router entries)
 * until the resync's garbage collection (chaos, seed 60606). A read that follows the claim
 * shows the release, and the claim goes again.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const RETRY = { attempts: 5, pause: async () => undefined };

const pool = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true }, status: { claimsAdopted: true },
};

const service = {
  apiVersion: 'v1', kind: 'Service',
  metadata: { name: 'web', namespace: 'shop', finalizers: ['mikrolb.de/finalizer'], annotations: { [ANNOTATION_ALLOW_SHARED_IP]: 'front' } },
  spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP' }] },
};

const reservation = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'reserved' },
  spec: { address: '192.0.2.77' },
};

/**
 * The release, staged at allocate's next read of a claim: `release(kube)` marks what is being
 * released deleted and frees the claims it finds (what release does before it lists nothing
 * more), before the read answers.
 */
function setup(objects: unknown[]) {
  const kube = memoryPortAs('allocate', { objects, now: NOW });
  const stage: { release?: (kube: AccountPort) => Promise<void> } = {};
  const port: KubePort = {
    ...kube.port,
    get: async (kind, name, namespace) => {
      const release = stage.release;
      if (kind === 'IPAddressClaim' && release) {
        stage.release = undefined;
        await release(kube);
      }
      return kube.port.get(kind, name, namespace);
    },
  };
  const allocate = createAllocate({ kube: port, now: NOW, log: silentLogger(), retry: RETRY, classes: CLASSES });
  const claims = async () => (await kube.admin.list('IPAddressClaim')).map((o) => IPAddressClaimSchema.parse(o).spec);
  const allocations = async () => (await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o));
  return { kube, allocate, claims, allocations, stage };
}

const freeAll = async (kube: AccountPort): Promise<void> => {
  for (const c of await kube.admin.list('IPAddressClaim')) await kube.admin.remove('IPAddressClaim', IPAddressClaimSchema.parse(c).metadata.name);
};

describe('allocate claiming again while a release runs', () => {
  it('frees the claim when its Service turns out deleted (the Service\'s own event)', async () => {
    const c = setup([pool, service]);
    expect((await c.allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    const [held] = await c.claims();
    expect(held?.address).toBeDefined();
    c.stage.release = async (kube) => {
      await kube.admin.remove('Service', 'web', 'shop');
      await freeAll(kube);
    };
    expect((await c.allocate(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    expect(c.stage.release).toBeUndefined();
    expect(await c.claims()).toEqual([]);
  });

  it('frees a new claim when its Service turns out deleted (the allocation\'s event)', async () => {
    // a Service's allocation without an address yet (its pool was full, say): the release
    // starts just before allocate's claim lands, and finds no claim to free
    const svc = { ...service, metadata: { ...service.metadata, uid: 'svc-uid-1' } };
    const waiting = {
      apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
      metadata: { name: 'web-v4', finalizers: ['mikrolb.de/finalizer'], labels: { [LABEL_SERVICE_NAMESPACE]: 'shop', [LABEL_SERVICE_NAME]: 'web', [LABEL_SERVICE_UID]: 'svc-uid-1' } },
      spec: { ipFamily: 'IPv4' },
    };
    let staged = false;
    const ref: { kube?: AccountPort } = {};
    const kube = memoryPortAs('allocate', {
      objects: [pool, svc, waiting], now: NOW,
      beforeWrite: async (w) => {
        if (staged || !ref.kube || w.verb !== 'create' || w.kind !== 'IPAddressClaim') return;
        staged = true;
        await ref.kube.admin.remove('Service', 'web', 'shop');
      },
    });
    ref.kube = kube;
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: silentLogger(), retry: RETRY, classes: CLASSES });
    expect((await allocate(objectInvocation('update', { kind: 'IPAllocation', name: 'web-v4' }))).kind).toBe('done');
    expect(staged).toBe(true);
    expect(await kube.admin.list('IPAddressClaim')).toEqual([]);
  });

  it('deletes what it made for a Service that stopped being a LoadBalancer meanwhile (released before the creates)', async () => {
    // a new Service: allocate gives it the finalizer; the Service is then made a ClusterIP
    // Service, and release (finding no allocation yet) takes the finalizer off, before
    // allocate's create lands. Release never hears of the allocation, nor does anything else:
    // allocate and program leave a Service that is not theirs alone, and the resync's garbage
    // collection only takes allocations whose Service is gone. Its claim held the address for
    // as long as the Service lived.
    const fresh = { ...service, metadata: { name: 'web', namespace: 'shop', uid: 'svc-uid-2' } };
    let staged = false;
    const ref: { kube?: AccountPort } = {};
    const kube = memoryPortAs('allocate', {
      objects: [pool, fresh], now: NOW,
      beforeWrite: async (w) => {
        if (staged || !ref.kube || w.verb !== 'create' || w.kind !== 'IPAllocation') return;
        staged = true;
        const now = ServiceSchema.parse(await ref.kube.admin.get('Service', 'web', 'shop'));
        await ref.kube.admin.replace('Service', { ...now, metadata: { ...now.metadata, finalizers: [] }, spec: { ...now.spec, type: 'ClusterIP', loadBalancerClass: undefined } });
      },
    });
    ref.kube = kube;
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: silentLogger(), retry: RETRY, classes: CLASSES });
    expect((await allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    expect(staged).toBe(true);
    expect(await kube.admin.list('IPAddressClaim')).toEqual([]);
    expect((await kube.admin.list('IPAllocation')).map((o) => IPAllocationSchema.parse(o)).filter((a) => !a.metadata.deletionTimestamp)).toEqual([]);
  });

  it('keeps the claim of a Service that is not being deleted (a claim that had gone missing)', async () => {
    const c = setup([pool, service]);
    expect((await c.allocate(objectInvocation('add', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    const before = await c.claims();
    c.stage.release = freeAll;
    expect((await c.allocate(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
    expect(c.stage.release).toBeUndefined();
    expect((await c.claims()).map((x) => [x.address, x.allocationUID])).toEqual(before.map((x) => [x.address, x.allocationUID]));
  });

  it('frees the claim of an operator reservation deleted meanwhile', async () => {
    const c = setup([pool, reservation]);
    const first = await c.allocate(objectInvocation('add', { kind: 'IPAllocation', name: 'reserved' }));
    expect(first, JSON.stringify(first)).toMatchObject({ kind: 'done' });
    expect((await c.claims()).map((x) => x.address)).toEqual(['192.0.2.77']);
    c.stage.release = async (kube) => {
      await kube.admin.remove('IPAllocation', 'reserved'); // its finalizer keeps it, being deleted
      await freeAll(kube);
    };
    const answer = await c.allocate(resyncInvocation());
    expect(answer, JSON.stringify(answer)).toMatchObject({ kind: "done" });
    expect(c.stage.release).toBeUndefined();
    expect(await c.claims()).toEqual([]);
  });
});

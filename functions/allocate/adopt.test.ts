import { describe, expect, it } from 'vitest';
import { objectInvocation, resyncInvocation } from '../../lib/events/cloudevent.js';
import type { MemoryPort } from '../../lib/k8s/memory.js';
import { IPAddressClaimSchema, IPAllocationSchema, IPPoolSchema } from '../../lib/k8s/schemas.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { createAllocate } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * A pool not yet converted to claims (an upgrade, or a pool just created) is converted by the
 * first run of allocate that meets it. Two instances meeting it at once both try; only the one
 * whose status write converted it says so, in its log and its answer.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const RETRY = { attempts: 5, pause: async () => undefined };

const pool = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true },
  status: { allocations: [{ address: '192.0.2.7', allocationName: 'ip-old', allocationUID: 'uid-old' }] },
};
const allocation = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
  metadata: { name: 'ip-old', namespace: 'shop', uid: 'uid-old', labels: { 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': 'svc-uid' } },
  spec: { serviceName: 'web', serviceNamespace: 'shop', ipFamily: 'IPv4' },
  status: { address: '192.0.2.7', poolName: 'lan', phase: 'Programmed' },
};

const poolAdded = objectInvocation('add', { kind: 'IPPool', name: 'lan' });
const converted = (log: ReturnType<typeof memoryLogger>) => log.entries.filter((e) => e.msg === 'Converted a pool to address claims');
const actions = (body: unknown): unknown => (typeof body === 'object' && body !== null && 'actions' in body ? body.actions : undefined);

describe('converting a pool to claims', () => {
  it('is told by the one instance whose write converted it, not by another that met it at once', async () => {
    const ref: { kube?: MemoryPort; second?: () => Promise<unknown> } = {};
    let poolWrites = 0;
    const kube = memoryPortAs('allocate', {
      objects: [pool, allocation], now: NOW,
      beforeWrite: async (w) => {
        // The first instance is about to write the pool's status: the second, which listed the
        // pool unconverted as well, runs to its end first.
        if (w.kind === 'IPPool' && w.subresource === 'status' && ++poolWrites === 1) await ref.second?.();
      },
    });
    ref.kube = kube;
    const logs = [memoryLogger(), memoryLogger()] as const;
    const [first, second] = logs.map((log) => createAllocate({ kube: kube.port, now: NOW, log, retry: RETRY, classes: CLASSES }));
    let secondOutcome: unknown;
    ref.second = async () => void (secondOutcome = await second?.(poolAdded));
    const firstOutcome = await first?.(poolAdded);

    expect(firstOutcome).toMatchObject({ kind: 'done' });
    expect(secondOutcome).toMatchObject({ kind: 'done' });
    expect([converted(logs[0]).length, converted(logs[1]).length]).toEqual([0, 1]);
    expect(converted(logs[1])[0]?.fields).toMatchObject({ pool: 'lan', claims: 1, fromLedger: true });
    const said = (o: unknown) => (typeof o === 'object' && o !== null && 'body' in o ? actions(o.body) : undefined);
    expect(said(firstOutcome)).not.toContainEqual(expect.stringContaining('converted to claims'));
    expect(said(secondOutcome)).toContainEqual('pool lan: 1 held address(es) converted to claims');

    // what both did is the same: one claim for the ledger's address, the pool converted
    const claims = (await kube.admin.list('IPAddressClaim')).map((o) => IPAddressClaimSchema.parse(o).spec);
    expect(claims).toEqual([expect.objectContaining({ address: '192.0.2.7', allocationName: 'ip-old', poolName: 'lan' })]);
    expect(IPPoolSchema.parse(await kube.admin.get('IPPool', 'lan')).status).toMatchObject({ claimsAdopted: true, allocatedAddresses: '1' });
  });
});

describe('converting a pool being deleted', () => {
  // `kubectl delete ippool` under an earlier version, waiting on its finalizer for its holders,
  // when MikroLB is upgraded
  const deleting = {
    ...pool, metadata: { ...pool.metadata, name: 'old', deletionTimestamp: '2025-12-31T00:00:00Z' },
    status: { allocations: [{ address: '192.0.2.7', allocationName: 'reserved', allocationUID: 'uid-reserved' }] },
  };
  const reservation = {
    apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
    metadata: { name: 'reserved', uid: 'uid-reserved', finalizers: ['mikrolb.de/finalizer'] },
    spec: { poolName: 'old' },
    status: { address: '192.0.2.7', poolName: 'old', phase: 'Programmed' },
  };

  it('gives its holders their claims, so they keep their addresses and a resync completes', async () => {
    const kube = memoryPortAs('allocate', { objects: [deleting, reservation], now: NOW });
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: memoryLogger(), retry: RETRY, classes: CLASSES });

    expect(await allocate(resyncInvocation())).toMatchObject({ kind: 'done' });
    const claims = (await kube.admin.list('IPAddressClaim')).map((o) => IPAddressClaimSchema.parse(o).spec);
    expect(claims).toEqual([expect.objectContaining({ address: '192.0.2.7', allocationName: 'reserved', poolName: 'old' })]);
    expect(IPPoolSchema.parse(await kube.admin.get('IPPool', 'old')).status).toMatchObject({ claimsAdopted: true, allocatedAddresses: '1', freeAddresses: '0' });
    // the claim was made once, never given back and taken again
    expect(kube.writes.filter((w) => w.kind === 'IPAddressClaim')).toEqual([{ verb: 'create', kind: 'IPAddressClaim', name: '192.0.2.7' }]);
    expect(IPAllocationSchema.parse(await kube.admin.get('IPAllocation', 'reserved')).status).toMatchObject({ address: '192.0.2.7', phase: 'Programmed' });
  });
});

describe('converting a pool shrunk under an earlier version', () => {
  // the earlier version kept an address the pool no longer contains in its ledger, and reported
  // it (AddressesOutsidePool): shrinking moves nothing
  const shrunk = {
    ...pool, metadata: { ...pool.metadata, name: 'shrunk' },
    spec: { ...pool.spec, addresses: ['192.0.2.0/28'] },
    status: { allocations: [{ address: '192.0.2.100', allocationName: 'kept', allocationUID: 'uid-kept' }] },
  };
  const holder = {
    apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
    metadata: { name: 'kept', uid: 'uid-kept', finalizers: ['mikrolb.de/finalizer'] },
    spec: { poolName: 'shrunk' },
    status: { address: '192.0.2.100', poolName: 'shrunk', phase: 'Programmed' },
  };

  it('keeps the address outside it with its holder (a claim of the pool), and still reports it', async () => {
    const kube = memoryPortAs('allocate', { objects: [shrunk, holder], now: NOW });
    const allocate = createAllocate({ kube: kube.port, now: NOW, log: memoryLogger(), retry: RETRY, classes: CLASSES });

    expect(await allocate(resyncInvocation())).toMatchObject({ kind: 'done' });
    expect(IPAllocationSchema.parse(await kube.admin.get('IPAllocation', 'kept')).status).toMatchObject({ address: '192.0.2.100', phase: 'Programmed' });
    const claims = (await kube.admin.list('IPAddressClaim')).map((o) => IPAddressClaimSchema.parse(o).spec);
    expect(claims).toEqual([{ address: '192.0.2.100', poolName: 'shrunk', allocationName: 'kept', allocationUID: 'uid-kept' }]);
    const status = IPPoolSchema.parse(await kube.admin.get('IPPool', 'shrunk')).status;
    expect(status).toMatchObject({ claimsAdopted: true, allocatedAddresses: '0', freeAddresses: '15' });
    expect(status?.conditions?.find((c) => c.type === 'AddressesOutsidePool')).toMatchObject({ status: 'True', reason: 'AddressesOutsidePool' });
  });
});

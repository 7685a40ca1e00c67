import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { toCloudEvent } from '../../lib/events/cloudevent.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { getAllocation, getClaim, getPool, getService, listClaims } from '../../lib/k8s/typed.js';
import { claimNameOf } from '../../lib/k8s/claims.js';
import { claimsOfAllocation, claimsOfPool } from '../../lib/k8s/keys.js';
import type { IPAllocation } from '../../lib/k8s/schemas.js';
import { uniq } from '../helpers/cluster.js';
import type { FunctionClient } from '../helpers/functions.js';
import { objects } from '../helpers/objects.js';
import { startAllocate } from './setup.js';

let fn: FunctionClient;
let kube: KubePort;
let make: ReturnType<typeof objects>;
const ns = uniq('alloc');
const LB = { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' };
const pools = { v4: uniq('v4'), v6: uniq('v6'), one: uniq('one'), manual: uniq('manual') };

beforeAll(async () => {
  ({ fn, kube } = await startAllocate());
  make = objects(kube);
  await make.namespace(ns);
  await make.pool(pools.v4, { ipFamily: 'IPv4', addresses: ['198.18.10.0/24'], autoAssign: false });
  await make.pool(pools.v6, { ipFamily: 'IPv6', addresses: ['2001:db8:a110::/120'], autoAssign: false });
  await make.pool(pools.one, { ipFamily: 'IPv4', addresses: ['198.18.11.7'], autoAssign: false, advertise: false });
  await make.pool(pools.manual, { ipFamily: 'IPv4', addresses: ['198.18.12.0/28'], autoAssign: false, interfaceName: 'ether2' });
});

afterAll(async () => {
  await make.cleanup();
  await fn.close();
});

async function serviceAllocations(name: string, spec: Record<string, unknown>, annotations: Record<string, string>): Promise<IPAllocation[]> {
  await make.service(ns, name, spec, annotations);
  const res = await fn.object({ kind: 'Service', namespace: ns, name }, 'add');
  if (res.status !== 200) console.log(JSON.stringify(res.body));
  expect(res).toMatchObject({ status: 200, body: {} });
  return make.allocationsOf(ns, name);
}

const ready = (a: IPAllocation | undefined) => a?.status?.conditions?.find((c) => c.type === 'Ready');

async function eventsAbout(name: string): Promise<{ reason: string; type: string; note: string }[]> {
  const raw = await kube.list('Event', { namespace: 'default' });
  const Ev = z.object({ reason: z.string(), type: z.string(), note: z.string().default(''), regarding: z.object({ name: z.string() }) });
  return raw.flatMap((r) => {
    const e = Ev.safeParse(r);
    return e.success && e.data.regarding.name === name ? [e.data] : [];
  });
}

describe('allocate: happy paths through HTTP against the real API server', () => {
  it('gives a LoadBalancer Service an address from its named pool, with finalizers, labels and an event', async () => {
    const [a, ...rest] = await serviceAllocations('web', LB, { 'mikrolb.de/load-balancer-pools': pools.v4 });
    expect(rest).toEqual([]);
    expect(a?.status).toMatchObject({ phase: 'Allocated', address: expect.stringMatching(/^198\.18\.10\.\d+$/), advertised: false });
    expect(a?.metadata.finalizers).toEqual(['mikrolb.de/finalizer']);
    expect(a?.metadata.labels).toMatchObject({ 'mikrolb.de/service-namespace': ns, 'mikrolb.de/service-name': 'web' });
    expect(ready(a)).toMatchObject({ status: 'False', reason: 'ProgrammingPending', observedGeneration: 1 });
    const svc = await getService(kube, ns, 'web');
    expect(svc?.metadata.finalizers).toContain('mikrolb.de/finalizer');
    const claim = await getClaim(kube, claimNameOf(a?.status?.address ?? '') ?? '');
    expect(claim?.spec).toEqual({ address: a?.status?.address, poolName: pools.v4, allocationName: a?.metadata.name, allocationUID: a?.metadata.uid });
    expect(claim?.metadata.labels).toMatchObject({ 'mikrolb.de/pool': pools.v4, 'mikrolb.de/allocation-uid': a?.metadata.uid, 'mikrolb.de/service-uid': svc?.metadata.uid });
    // the pool's counts follow its claims when the pool is reconciled (a claim's event does that under the bridge)
    expect((await fn.object({ kind: 'IPPool', name: pools.v4 })).status).toBe(200);
    const pool = await getPool(kube, pools.v4);
    expect(pool?.status).toMatchObject({ totalAddresses: '254', allocatedAddresses: '1', freeAddresses: '253', claimsAdopted: true });
    expect(pool?.status?.allocations).toBeUndefined();
    expect(await eventsAbout(a?.metadata.name ?? '')).toEqual([expect.objectContaining({ type: 'Normal', reason: 'IPAllocated', note: `Allocated address ${a?.status?.address} from pool ${pools.v4}.` })]);
  });

  it('is idempotent: a second and third invocation write nothing', async () => {
    const before = await make.allocationsOf(ns, 'web');
    const poolBefore = await getPool(kube, pools.v4);
    for (let i = 0; i < 2; i++) expect((await fn.object({ kind: 'Service', namespace: ns, name: 'web' })).status).toBe(200);
    const res = await fn.object({ kind: 'IPAllocation', name: before[0]?.metadata.name ?? '' });
    expect(res.body).toMatchObject({ actions: [] });
    expect((await make.allocationsOf(ns, 'web')).map((a) => a.metadata.resourceVersion)).toEqual(before.map((a) => a.metadata.resourceVersion));
    expect((await getPool(kube, pools.v4))?.metadata.resourceVersion).toBe(poolBefore?.metadata.resourceVersion);
  });

  it('gives an IPv6 address from a named IPv6 pool', async () => {
    const [a] = await serviceAllocations('v6only', { ...LB, ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' }, { 'mikrolb.de/load-balancer-pools': pools.v6 });
    expect(a?.status?.address).toMatch(/^2001:db8:a110::[0-9a-f]+$/);
  });

  it('gives a dual-stack Service one address per family from the auto-assign pools', async () => {
    const auto4 = uniq('auto4');
    const auto6 = uniq('auto6');
    await make.pool(auto4, { ipFamily: 'IPv4', addresses: ['198.18.13.0/24'] });
    await make.pool(auto6, { ipFamily: 'IPv6', addresses: ['2001:db8:a113::/64'] });
    const allocs = await serviceAllocations('dual', { ...LB, ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' }, {});
    expect(allocs.map((a) => a.spec.ipFamily).sort()).toEqual(['IPv4', 'IPv6']);
    const addresses = allocs.map((a) => a.status?.address ?? '').sort();
    expect(addresses[0]).toMatch(/^198\.18\.13\./);
    expect(addresses[1]).toMatch(/^2001:db8:a113:/);
    expect((await getPool(kube, auto6))?.status?.freeAddresses).toBe('18E');
  });

  it('gives an explicit address, and reports Ready for a pool that does not advertise', async () => {
    const [a] = await serviceAllocations('explicit', LB, { 'mikrolb.de/load-balancer-ips': '198.18.11.7' });
    expect(a?.status).toMatchObject({ phase: 'Allocated', address: '198.18.11.7' });
    expect(ready(a)).toMatchObject({ status: 'True', reason: 'AllocatedButNotAdvertised' });
    expect(a?.status?.conditions?.find((c) => c.type === 'Programmed')).toMatchObject({ status: 'False', reason: 'NotAdvertised' });
  });

  it('allocates SNAT-only addresses for a ClusterIP Service, and one allocation when LB and SNAT share an address', async () => {
    const snat = await serviceAllocations('snat-only', { type: 'ClusterIP' }, { 'mikrolb.de/snat-ips': '198.18.12.3' });
    expect(snat.map((a) => a.status?.address)).toEqual(['198.18.12.3']);
    expect(snat[0]?.status?.interfaceName).toBe('ether2');
    const both = await serviceAllocations('lb-and-snat', LB, { 'mikrolb.de/load-balancer-ips': '198.18.12.4', 'mikrolb.de/snat-ips': '198.18.12.4' });
    expect(both.map((a) => a.status?.address)).toEqual(['198.18.12.4']);
  });

  it('honours spec.loadBalancerIP (as MetalLB does) beside a named pool (both, as upstream), and MetalLB\'s annotation', async () => {
    const pinned = await serviceAllocations('pinned', { ...LB, ipFamilies: ['IPv4'], loadBalancerIP: '198.18.12.5' }, { 'mikrolb.de/load-balancer-pools': pools.v4 });
    expect(pinned.map((a) => a.spec.address ?? a.spec.poolName).sort()).toEqual(['198.18.12.5', pools.v4].sort());
    expect(pinned.every((a) => a.status?.phase === 'Allocated')).toBe(true);
    expect(pinned.find((a) => a.spec.address)?.status?.address).toBe('198.18.12.5');
    expect(pinned.find((a) => a.spec.poolName)?.status?.address).toMatch(/^198\.18\.10\.\d+$/);
    const metallb = await serviceAllocations('metallb', { ...LB, ipFamilies: ['IPv4'] }, { 'metallb.io/loadBalancerIPs': '198.18.12.6' });
    expect(metallb.map((a) => a.status?.address)).toEqual(['198.18.12.6']);
  });
});

describe('allocate: every failure reason, with a Failed phase, conditions and a Warning event', () => {
  it.each([
    ['AddressAlreadyUsed', { 'mikrolb.de/load-balancer-ips': '198.18.11.7' }, LB, 'Address 198.18.11.7 in pool'],
    ['AddressNotInPool', { 'mikrolb.de/load-balancer-ips': '198.18.99.1' }, LB, 'Address 198.18.99.1 is not in any IPPool.'],
    ['PoolNotFound', { 'mikrolb.de/load-balancer-pools': 'no-such-pool' }, LB, 'Pool no-such-pool does not exist.'],
    ['PoolIPFamilyMismatch', { 'mikrolb.de/load-balancer-pools': pools.v6 }, { ...LB, ipFamilies: ['IPv4'] }, `Pool ${pools.v6} is IPv6, but Service`],
    ['PoolExhausted', { 'mikrolb.de/load-balancer-pools': pools.one }, LB, `Pool ${pools.one} has no free address.`],
    ['AddressIPFamilyMismatch', { 'mikrolb.de/load-balancer-ips': '2001:db8:a110::9' }, { ...LB, ipFamilies: ['IPv4'] }, 'Address 2001:db8:a110::9 is IPv6, but Service'],
  ])('%s', async (reason, annotations, spec, message) => {
    const name = uniq(reason.toLowerCase());
    const [a] = await serviceAllocations(name, spec, annotations);
    expect(a?.status?.phase).toBe('Failed');
    expect(a?.status?.address).toBeUndefined();
    expect(a?.status?.conditions?.find((c) => c.type === 'Allocated')).toMatchObject({ status: 'False', reason });
    expect(a?.status?.conditions?.find((c) => c.type === 'Programmed')).toMatchObject({ status: 'False', reason: 'NotAllocated' });
    expect(ready(a)).toMatchObject({ status: 'False', reason, message: expect.stringContaining(message) });
    expect(await eventsAbout(a?.metadata.name ?? '')).toEqual([expect.objectContaining({ type: 'Warning', reason, note: expect.stringContaining(message) })]);
  });

  it('AddressInvalid for an operator reservation with a malformed address (admitted by the schema)', async () => {
    const name = uniq('reservation');
    await make.allocation(name, { address: '198.18.12.300' });
    expect((await fn.object({ kind: 'IPAllocation', name }, 'add')).status).toBe(200);
    const a = await getAllocation(kube, name);
    expect(ready(a)).toMatchObject({ status: 'False', reason: 'AddressInvalid', message: expect.stringContaining('"198.18.12.300" is not a valid IP address') });
  });

  it('AnnotationInvalid on the Service names the bad value, and the rest of the annotation still applies', async () => {
    const allocs = await serviceAllocations('half-bad', LB, { 'mikrolb.de/load-balancer-ips': '198.18.12.9,not-an-ip' });
    expect(allocs.map((a) => a.status?.address)).toEqual(['198.18.12.9']);
    const svc = await getService(kube, ns, 'half-bad');
    const warnings = (await kube.list('Event', { namespace: ns })).filter((e) => JSON.stringify(e).includes('AnnotationInvalid') && JSON.stringify(e).includes(svc?.metadata.uid ?? '?'));
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings[0])).toContain('not-an-ip');
  });
});

describe('allocate: changes, forged events, adoption and crashes', () => {
  it('replaces allocations when annotations change: the stale one is deleted, the new one allocated', async () => {
    const [before] = await serviceAllocations('moving', LB, { 'mikrolb.de/load-balancer-pools': pools.v4 });
    const svc = await getService(kube, ns, 'moving');
    if (!svc) throw new Error('service vanished');
    await kube.replace('Service', { ...svc, metadata: { ...svc.metadata, annotations: { 'mikrolb.de/load-balancer-pools': pools.manual } } });
    expect((await fn.object({ kind: 'Service', namespace: ns, name: 'moving' })).status).toBe(200);
    const after = await make.allocationsOf(ns, 'moving');
    const stale = after.find((a) => a.metadata.name === before?.metadata.name);
    expect(stale?.metadata.deletionTimestamp).toBeDefined(); // release (finalizer) takes it apart
    const fresh = after.find((a) => a.metadata.name !== before?.metadata.name);
    expect(fresh?.spec.poolName).toBe(pools.manual);
    expect(fresh?.status?.address).toMatch(/^198\.18\.12\./);
  });

  it('pinning the address a Service holds keeps it: the allocation holding it takes the pin as its spec, its claim untouched', async () => {
    const [before, ...others] = await serviceAllocations('pin-held', LB, { 'mikrolb.de/load-balancer-pools': pools.v4 });
    expect(others).toEqual([]);
    const address = before?.status?.address ?? '';
    const claim = await getClaim(kube, claimNameOf(address) ?? '');
    expect(claim?.spec.allocationUID).toBe(before?.metadata.uid);
    const svc = await getService(kube, ns, 'pin-held');
    if (!svc) throw new Error('service vanished');
    await kube.replace('Service', { ...svc, metadata: { ...svc.metadata, annotations: { 'mikrolb.de/load-balancer-ips': address } } });
    const res = await fn.object({ kind: 'Service', namespace: ns, name: 'pin-held' });
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body)).not.toContain('AddressAlreadyUsed');
    const after = await make.allocationsOf(ns, 'pin-held');
    expect(after.map((a) => [a.metadata.uid, a.spec, a.status?.phase, a.status?.address, a.metadata.deletionTimestamp])).toEqual([[before?.metadata.uid, { address }, 'Allocated', address, undefined]]);
    const kept = await getClaim(kube, claimNameOf(address) ?? '');
    expect([kept?.metadata.uid, kept?.metadata.resourceVersion, kept?.spec.allocationUID]).toEqual([claim?.metadata.uid, claim?.metadata.resourceVersion, before?.metadata.uid]);
  });

  it('a forged event cannot change an outcome: the function re-reads the object', async () => {
    const before = await make.allocationsOf(ns, 'web');
    const forged = {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: 'web', namespace: ns, uid: 'forged', annotations: { 'mikrolb.de/load-balancer-ips': '198.18.10.1' } },
      spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' },
    };
    const ev = toCloudEvent({ type: 'object', change: 'update', ref: { kind: 'Service', namespace: ns, name: 'web' }, id: 'forged-1', source: 'attacker' });
    const res = await fetch(fn.url, {
      method: 'POST',
      headers: { ...ev.headers, 'ce-type': 'dev.knative.apiserver.resource.update', 'content-type': 'application/json' },
      body: JSON.stringify(forged),
    });
    expect(res.status).toBe(200);
    const ghost = await fn.object({ kind: 'Service', namespace: ns, name: 'does-not-exist' });
    expect(ghost.status).toBe(200);
    const after = await make.allocationsOf(ns, 'web');
    expect(after.map((a) => [a.metadata.name, a.metadata.resourceVersion, a.status?.address])).toEqual(before.map((a) => [a.metadata.name, a.metadata.resourceVersion, a.status?.address]));
  });

  it('converts a pool of upstream MikroLB (no ledger, addresses in allocation statuses) to claims before choosing: no address moves or is handed out twice', async () => {
    const legacy = uniq('legacy');
    await make.pool(legacy, { ipFamily: 'IPv4', addresses: ['198.18.14.1-198.18.14.2'], autoAssign: false });
    const old = uniq('upstream-alloc');
    await make.allocation(old, { poolName: legacy });
    const raw = await getAllocation(kube, old);
    if (!raw) throw new Error('missing');
    // what upstream MikroLB would have written: an address in the status, nothing in any ledger
    await kube.replaceStatus('IPAllocation', { ...raw, status: { phase: 'Programmed', address: '198.18.14.2', advertised: true } });
    const [a] = await serviceAllocations('after-upgrade', LB, { 'mikrolb.de/load-balancer-pools': legacy });
    expect(a?.status?.address).toBe('198.18.14.1');
    const claims = (await listClaims(kube, claimsOfPool(legacy))).items.map((c) => [c.metadata.name, c.spec.allocationName]).sort();
    expect(claims).toEqual([['198.18.14.1', a?.metadata.name], ['198.18.14.2', old]]);
    expect((await getPool(kube, legacy))?.status?.claimsAdopted).toBe(true);
    expect((await getAllocation(kube, old))?.status?.address).toBe('198.18.14.2');
  });

  it('converts a pool on the ledger of the previous version: every live entry becomes a claim, reserved-but-unrecorded ones too, and the ledger goes', async () => {
    const ledgered = uniq('ledgered');
    await make.pool(ledgered, { ipFamily: 'IPv4', addresses: ['198.18.17.0/28'], autoAssign: false });
    const [held, reserved] = [uniq('held'), uniq('reserved')];
    await make.allocation(held, { poolName: ledgered });
    await make.allocation(reserved, { poolName: ledgered });
    const h = await getAllocation(kube, held);
    const r = await getAllocation(kube, reserved);
    if (!h || !r) throw new Error('missing');
    await kube.replaceStatus('IPAllocation', { ...h, status: { phase: 'Programmed', address: '198.18.17.9', advertised: true } });
    const pool = await getPool(kube, ledgered);
    if (!pool) throw new Error('missing pool');
    // the previous version's ledger: one address recorded in a status, one reserved by an instance that then crashed, one of a deleted allocation
    await kube.replaceStatus('IPPool', { ...pool, status: { totalAddresses: '14', allocatedAddresses: '3', freeAddresses: '11', allocations: [
      { address: '198.18.17.9', allocationName: held, allocationUID: h.metadata.uid ?? '' },
      { address: '198.18.17.4', allocationName: reserved, allocationUID: r.metadata.uid ?? '' },
      { address: '198.18.17.5', allocationName: 'ip-deleted', allocationUID: 'deleted-uid' },
    ] } });
    expect((await fn.object({ kind: 'IPPool', name: ledgered }, 'update')).status).toBe(200);
    const claims = (await listClaims(kube, claimsOfPool(ledgered))).items.map((c) => `${c.spec.address}=${c.spec.allocationName}`).sort();
    expect(claims).toEqual([`198.18.17.4=${reserved}`, `198.18.17.9=${held}`]);
    const after = await getPool(kube, ledgered);
    expect(after?.status).toMatchObject({ claimsAdopted: true, totalAddresses: '15', allocatedAddresses: '2', freeAddresses: '13' });
    expect(after?.status?.allocations).toBeUndefined();
    // the reserved allocation completes with its reserved address; the held one keeps its own
    expect((await fn.object({ kind: 'IPAllocation', name: reserved })).status).toBe(200);
    expect((await getAllocation(kube, reserved))?.status?.address).toBe('198.18.17.4');
    expect((await getAllocation(kube, held))?.status?.address).toBe('198.18.17.9');
  });

  it('converts a pool on the ledger whose deletion was waiting for its holders: the holder gets its claim and keeps its address, the deletion goes on waiting', async () => {
    const dying = uniq('dying');
    await make.pool(dying, { ipFamily: 'IPv4', addresses: ['198.18.19.0/28'], autoAssign: false });
    const held = uniq('dying-held');
    await make.allocation(held, { poolName: dying });
    const h = await getAllocation(kube, held);
    if (!h) throw new Error('missing');
    await kube.replaceStatus('IPAllocation', { ...h, status: { phase: 'Programmed', address: '198.18.19.9', advertised: true } });
    // `kubectl delete ippool` under the previous version: its finalizer holds the pool, its ledger the holder
    const created = await getPool(kube, dying);
    if (!created) throw new Error('missing pool');
    await kube.replace('IPPool', { ...created, metadata: { ...created.metadata, finalizers: ['mikrolb.de/finalizer'] } });
    await kube.remove('IPPool', dying);
    const pool = await getPool(kube, dying);
    if (!pool?.metadata.deletionTimestamp) throw new Error('the pool is not being deleted');
    await kube.replaceStatus('IPPool', { ...pool, status: { totalAddresses: '14', allocatedAddresses: '1', freeAddresses: '13', allocations: [
      { address: '198.18.19.9', allocationName: held, allocationUID: h.metadata.uid ?? '' },
    ] } });

    expect((await fn.object({ kind: 'IPPool', name: dying }, 'update')).status).toBe(200);
    const claims = (await listClaims(kube, claimsOfPool(dying))).items.map((c) => `${c.spec.address}=${c.spec.allocationName}`);
    expect(claims).toEqual([`198.18.19.9=${held}`]);
    const after = await getPool(kube, dying);
    expect(after?.status).toMatchObject({ claimsAdopted: true, allocatedAddresses: '1', freeAddresses: '0' });
    expect(after?.status?.allocations).toBeUndefined();
    expect(after?.metadata.deletionTimestamp).toBeDefined();
    // the holder's next run finds its claim and keeps its address (unconverted, it took the claim,
    // found the pool being deleted, gave it back, and answered "retry" again and again)
    expect((await fn.object({ kind: 'IPAllocation', name: held }, 'update')).status).toBe(200);
    expect((await getAllocation(kube, held))?.status).toMatchObject({ phase: 'Programmed', address: '198.18.19.9' });
  });

  it('completes with the same address after a crash between the claim and the status write', async () => {
    const crashPool = uniq('crash');
    await make.pool(crashPool, { ipFamily: 'IPv4', addresses: ['198.18.15.0/28'], autoAssign: false });
    const name = uniq('crash-alloc');
    await make.allocation(name, { poolName: crashPool });
    // an instance that dies right after claiming: its allocation status write never happens
    const crashing = await startAllocate({
      kube: {
        ...kube,
        replaceStatus: async (kind, obj) => {
          if (kind === 'IPAllocation') throw new Error('killed');
          return kube.replaceStatus(kind, obj);
        },
        remove: async (kind, n, ns, pre) => {
          if (kind === 'IPAddressClaim') throw new Error('killed');
          return kube.remove(kind, n, ns, pre);
        },
      },
    });
    try {
      expect((await crashing.fn.object({ kind: 'IPAllocation', name })).status).toBe(500);
    } finally {
      await crashing.fn.close();
    }
    const a = await getAllocation(kube, name);
    const claimed = (await listClaims(kube, claimsOfAllocation(a?.metadata.uid ?? ''))).items;
    expect(claimed).toHaveLength(1);
    expect(a?.status?.address).toBeUndefined();
    // a cold instance (a fresh hint) finds its claim and keeps the address
    const cold = await startAllocate();
    try {
      expect((await cold.fn.object({ kind: 'IPAllocation', name })).status).toBe(200);
    } finally {
      await cold.fn.close();
    }
    expect((await getAllocation(kube, name))?.status?.address).toBe(claimed[0]?.spec.address);
    expect((await listClaims(kube, claimsOfAllocation(a?.metadata.uid ?? ''))).items).toHaveLength(1);
  });

  it('a pool being deleted hands out nothing: a Service created after `kubectl delete ippool` fails with a clear reason', async () => {
    const going = uniq('going');
    await make.pool(going, { ipFamily: 'IPv4', addresses: ['198.18.18.0/28'], autoAssign: false });
    expect((await fn.object({ kind: 'IPPool', name: going }, 'add')).status).toBe(200); // adds the pool's finalizer
    const [before] = await serviceAllocations('holds-going', LB, { 'mikrolb.de/load-balancer-pools': going });
    expect(before?.status?.phase).toBe('Allocated');
    await kube.remove('IPPool', going);
    expect((await getPool(kube, going))?.metadata.deletionTimestamp).toBeDefined(); // held by the finalizer
    const [late] = await serviceAllocations('after-delete', LB, { 'mikrolb.de/load-balancer-pools': going });
    expect(late?.status).toMatchObject({ phase: 'Failed' });
    expect(ready(late)).toMatchObject({ reason: 'PoolNotFound', message: `Pool ${going} is being deleted and hands out no new address.` });
    // the holder keeps its address while the deletion waits
    expect((await make.allocationsOf(ns, 'holds-going'))[0]?.status?.address).toBe(before?.status?.address);
  });

  it('re-evaluates Failed allocations when their pool is created', async () => {
    const late = uniq('late');
    const [a] = await serviceAllocations('waits-for-pool', LB, { 'mikrolb.de/load-balancer-pools': late });
    expect(a?.status?.phase).toBe('Failed');
    await make.pool(late, { ipFamily: 'IPv4', addresses: ['198.18.16.5'], autoAssign: false });
    expect((await fn.object({ kind: 'IPPool', name: late }, 'add')).status).toBe(200);
    const [after] = await make.allocationsOf(ns, 'waits-for-pool');
    expect(after?.status).toMatchObject({ phase: 'Allocated', address: '198.18.16.5' });
  });
});

import { afterAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { apiServerPort } from '../lib/k8s/client.js';
import { isBadRequest, isConflict, isInvalid } from '../lib/k8s/errors.js';
import { memoryPort } from '../lib/k8s/memory.js';
import type { KubeObject, KubePort } from '../lib/k8s/port.js';
import { IPAllocationSchema, IPPoolSchema } from '../lib/k8s/schemas.js';
import { listUnsettledAllocations } from '../lib/k8s/typed.js';
import { hasGeneration, RESOURCES, resourcePath, type Kind } from '../lib/k8s/resources.js';
import { isKind } from '../lib/k8s/memory-object.js';
import { startCluster } from './cluster/cluster.js';
import { pinnedVersions } from './cluster/binaries.js';
import { testCluster, uniq } from './helpers/cluster.js';

const { kubectl, transport } = testCluster();
const created: string[] = [];

/** kubectl's table header, split on its column gaps. */
function header(out: string): string[] {
  return (out.split('\n')[0] ?? '').trim().split(/\s{2,}/);
}

function allocation(name: string, labels: Record<string, string>, spec: Record<string, string>): string {
  created.push(`ipallocation/${name}`);
  return JSON.stringify({ apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name, labels }, spec });
}

async function apply(manifest: string): Promise<{ code: number; stderr: string }> {
  return kubectl(['apply', '-f', '-'], manifest);
}

afterAll(async () => {
  if (created.length) await kubectl(['delete', '--ignore-not-found', '--wait=false', ...created]);
});

describe('the test cluster', () => {
  it('is a real kube-apiserver of the pinned version', async () => {
    const out = await kubectl(['version', '-o', 'json']);
    expect(out.code).toBe(0);
    const version = z.object({ serverVersion: z.object({ gitVersion: z.string() }) }).parse(JSON.parse(out.stdout));
    console.log(`[test-cluster] server ${version.serverVersion.gitVersion}; cached start took ${inject('apiserverStartupMs')} ms`);
    expect(version.serverVersion.gitVersion).toBe(pinnedVersions().kubernetes);
  });

  it('lets a second, concurrent cluster run without colliding with the first', async () => {
    const second = await startCluster();
    try {
      console.log(`[test-cluster] a second cluster started in ${second.startupMs} ms at ${second.server}`);
      const name = uniq('only-in-second');
      const made = await second.kubectl(['create', 'namespace', name]);
      expect(made.code).toBe(0);
      expect((await kubectl(['get', 'namespace', name])).code).not.toBe(0);
      expect((await second.kubectl(['get', 'namespace', name])).code).toBe(0);
      expect(second.server).not.toBe(inject('kubeconfig'));
    } finally {
      await second.stop();
    }
    // the first cluster still answers after the second one stopped
    expect((await kubectl(['get', 'ippools'])).code).toBe(0);
  }, 300_000);
});

describe('metadata.generation', () => {
  it('is given to the kinds the memory port gives one to (custom resources, EndpointSlices), and not to Services, Namespaces or Leases', async () => {
    const port = apiServerPort(transport);
    const ns = uniq('gen');
    const allocation = uniq('gen');
    created.push(`namespace/${ns}`, `ipallocation/${allocation}`);
    const bodies: Partial<Record<Kind, KubeObject>> = {
      Namespace: { metadata: { name: ns } },
      Service: { metadata: { name: 'web', namespace: ns }, spec: { type: 'ClusterIP', ports: [{ port: 80, protocol: 'TCP' }] } },
      EndpointSlice: { metadata: { name: 'web-1', namespace: ns }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'] }], ports: [{ port: 80, protocol: 'TCP' }] },
      Lease: { metadata: { name: 'lock', namespace: ns }, spec: { holderIdentity: 'me' } },
      IPAllocation: { metadata: { name: allocation }, spec: { ipFamily: 'IPv4' } },
    };
    const generations = async (kube: KubePort): Promise<Record<string, number | undefined>> => {
      const out: Record<string, number | undefined> = {};
      for (const [kind, body] of Object.entries(bodies)) {
        if (!isKind(kind)) throw new Error(kind);
        const made = z.object({ metadata: z.object({ generation: z.number().optional() }) }).parse(await kube.create(kind, body));
        out[kind] = made.metadata.generation;
      }
      return out;
    };
    const real = await generations(port);
    expect(real).toEqual({ Namespace: undefined, Service: undefined, EndpointSlice: 1, Lease: undefined, IPAllocation: 1 });
    expect(await generations(memoryPort().port)).toEqual(real);
    expect(Object.fromEntries(Object.keys(bodies).filter(isKind).map((k) => [k, hasGeneration(k)]))).toEqual(Object.fromEntries(Object.entries(real).map(([k, g]) => [k, g !== undefined])));
  });
});

describe('the IPAllocation and IPPool CRDs', () => {
  it('print the documented columns, short names work, and -o wide adds family, pool and configured address', async () => {
    const name = uniq('cols');
    expect((await apply(allocation(name, { 'mikrolb.de/service-namespace': 'cols', 'mikrolb.de/service-name': 'cols' }, { ipFamily: 'IPv4' }))).code).toBe(0);
    const plain = await kubectl(['get', 'ipallocations.mikrolb.de']);
    expect(header(plain.stdout)).toEqual(['NAME', 'NAMESPACE', 'SERVICE', 'ADDRESS', 'STATUS', 'READY', 'REASON', 'MESSAGE', 'AGE']);
    const wide = await kubectl(['get', 'ipallocations.mikrolb.de', '-o', 'wide']);
    expect(header(wide.stdout)).toEqual(['NAME', 'NAMESPACE', 'SERVICE', 'FAMILY', 'POOL', 'CONFIGURED ADDRESS', 'ADDRESS', 'STATUS', 'READY', 'REASON', 'MESSAGE', 'AGE']);
    const short = await kubectl(['get', 'ipa', name]);
    expect(short.stdout).toContain(name);
    const pools = await kubectl(['get', 'ippool']);
    expect(pools.code).toBe(0);
    expect((await kubectl(['get', 'ipp'])).code).toBe(0);
    const pool = uniq('pool-cols');
    created.push(`ippool/${pool}`);
    expect((await apply(JSON.stringify({ apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: pool }, spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/28'] } }))).code).toBe(0);
    expect(header((await kubectl(['get', 'ipp', pool])).stdout)).toEqual(['NAME', 'FAMILY', 'AUTO-ASSIGN', 'ADVERTISE', 'FREE', 'AGE']);
    expect(header((await kubectl(['get', 'ipp', pool, '-o', 'wide'])).stdout)).toEqual(['NAME', 'FAMILY', 'AUTO-ASSIGN', 'ADVERTISE', 'INTERFACE', 'PRIORITY', 'NAMESPACES', 'TOTAL', 'ALLOCATED', 'FREE', 'AGE']);
  });

  it('selects exactly one Service\'s allocations with the service labels', async () => {
    const mine = [uniq('demo-a'), uniq('demo-b')];
    const others = [uniq('demo-other'), uniq('demo-elsewhere')];
    const label = (ns: string, svc: string): Record<string, string> => ({ 'mikrolb.de/service-namespace': ns, 'mikrolb.de/service-name': svc });
    for (const n of mine) expect((await apply(allocation(n, label('default', 'demo'), { ipFamily: 'IPv4' }))).code).toBe(0);
    expect((await apply(allocation(others[0] ?? '', label('default', 'demo-other'), { ipFamily: 'IPv4' }))).code).toBe(0);
    expect((await apply(allocation(others[1] ?? '', label('elsewhere', 'demo'), { ipFamily: 'IPv6' }))).code).toBe(0);
    const out = await kubectl(['get', 'ipallocations.mikrolb.de', '-l', 'mikrolb.de/service-namespace=default,mikrolb.de/service-name=demo', '-o', 'name']);
    expect(out.stdout.trim().split('\n').sort()).toEqual(mine.map((n) => `ipallocation.mikrolb.de/${n}`).sort());
  });

  it('answers a field selector on status.phase (selectableFields): allocate lists only the allocations that wait, as the memory port does', async () => {
    const port = apiServerPort(transport);
    const memory = memoryPort().port;
    const phases = { settled: 'Allocated', programmed: 'Programmed', failed: 'Failed', pending: 'Pending', fresh: undefined } as const;
    const names = Object.fromEntries(Object.keys(phases).map((k) => [k, uniq(`phase-${k}`)]));
    for (const [key, phase] of Object.entries(phases)) {
      const name = names[key] ?? '';
      created.push(`ipallocation/${name}`);
      for (const kube of [port, memory]) {
        const made = IPAllocationSchema.parse(await kube.create('IPAllocation', { metadata: { name }, spec: { ipFamily: 'IPv4' } }));
        if (phase) await kube.replaceStatus('IPAllocation', { ...made, status: { phase } });
      }
    }
    const mine = new Set(Object.values(names));
    const listed = async (kube: KubePort): Promise<string[]> => (await listUnsettledAllocations(kube)).items.map((a) => a.metadata.name).filter((n) => mine.has(n)).sort();
    const waiting = [names.failed, names.pending, names.fresh].sort();
    expect(await listed(port)).toEqual(waiting);
    expect(await listed(memory)).toEqual(waiting);
    // the API server filters them itself: the selector allocate sends, by hand
    const raw = await port.list('IPAllocation', { fieldSelector: 'status.phase=Failed' });
    expect(raw.map((o) => IPAllocationSchema.parse(o).metadata.name).filter((n) => mine.has(n))).toEqual([names.failed]);
    // a field no CRD makes selectable is refused, by both
    for (const kube of [port, memory]) {
      const refused = await kube.list('IPAllocation', { fieldSelector: 'spec.ipFamily=IPv4' }).then(() => undefined, (e: unknown) => e);
      expect(isBadRequest(refused)).toBe(true);
    }
  });

  it.each([
    ['none of ipFamily/poolName/address', { }, 'Either ipFamily, poolName or address must be specified'],
    ['two of them', { ipFamily: 'IPv4', poolName: 'p' }, 'Only one of ipFamily, poolName or address can be specified'],
    ['all three', { ipFamily: 'IPv4', poolName: 'p', address: '192.0.2.1' }, 'Only one of ipFamily, poolName or address can be specified'],
    ['an unknown ipFamily', { ipFamily: 'IPv5' }, 'Unsupported value: "IPv5"'],
  ])('rejects an IPAllocation with %s, saying why', async (_what, spec, message) => {
    const out = await apply(JSON.stringify({ apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: uniq('bad') }, spec }));
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(message);
  });

  it.each([
    ['without addresses', { ipFamily: 'IPv4' }, 'spec.addresses: Required value'],
    ['with an empty address list', { ipFamily: 'IPv4', addresses: [] }, 'spec.addresses: Invalid value: 0: spec.addresses in body should have at least 1 items'],
    ['with an unknown ipFamily', { ipFamily: 'ipv4', addresses: ['192.0.2.1'] }, 'spec.ipFamily: Unsupported value: "ipv4"'],
    ['with a bad interface name', { ipFamily: 'IPv4', addresses: ['192.0.2.1'], interfaceName: '-eth' }, 'spec.interfaceName'],
  ])('rejects an IPPool %s, saying why', async (_what, spec, message) => {
    const out = await apply(JSON.stringify({ apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: uniq('bad') }, spec }));
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(message);
  });

  it('admits a malformed spec.address so that allocate can report AddressInvalid', async () => {
    const out = await apply(allocation(uniq('malformed'), {}, { address: 'not-an-ip' }));
    expect(out.code).toBe(0);
  });

  it('applies the defaults to a minimal IPPool', async () => {
    const name = uniq('minimal');
    created.push(`ippool/${name}`);
    const out = await transport({ method: 'POST', path: resourcePath(RESOURCES.IPPool), body: { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name }, spec: { ipFamily: 'IPv6', addresses: ['2001:db8::/120'] } } });
    expect(out).toMatchObject({ spec: { ipFamily: 'IPv6', addresses: ['2001:db8::/120'], autoAssign: true, avoidBuggyIPs: true, advertise: true } });
  });

  it('refuses an IPPool whose name is longer than 63 characters (each address claim carries its pool\'s name as a label value), and admits one of 63', async () => {
    const pool = (name: string) => ({ apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name }, spec: { ipFamily: 'IPv4', addresses: ['198.51.100.8/30'] } });
    const base = uniq('long');
    const longest = `${base}-${'x'.repeat(63 - base.length - 1)}`;
    created.push(`ippool/${longest}`);
    expect(longest).toHaveLength(63);
    await transport({ method: 'POST', path: resourcePath(RESOURCES.IPPool), body: pool(longest) });
    const refused = await transport({ method: 'POST', path: resourcePath(RESOURCES.IPPool), body: pool(`${longest}y`) }).then(() => undefined, (e: unknown) => e);
    expect(isInvalid(refused)).toBe(true);
    expect(String(refused)).toContain('at most 63 characters');
  });

  it('answers a status update with a stale resourceVersion with 409 Conflict', async () => {
    const name = uniq('occ');
    created.push(`ippool/${name}`);
    const path = resourcePath(RESOURCES.IPPool, undefined, name);
    const pool = await transport({ method: 'POST', path: resourcePath(RESOURCES.IPPool), body: { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name }, spec: { ipFamily: 'IPv4', addresses: ['198.51.100.0/30'] } } });
    const first = { ...IPPoolSchema.parse(pool), status: { totalAddresses: '4', allocations: [{ address: '198.51.100.1', allocationName: 'a', allocationUID: 'u1' }] } };
    const updated = await transport({ method: 'PUT', path: `${path}/status`, body: first });
    expect(updated).toMatchObject({ status: { allocations: [{ address: '198.51.100.1' }] } });
    // the second writer still holds the old resourceVersion: the API server refuses it
    const stale = { ...first, status: { allocations: [{ address: '198.51.100.1', allocationName: 'b', allocationUID: 'u2' }] } };
    const refused = await transport({ method: 'PUT', path: `${path}/status`, body: stale }).then(() => undefined, (e: unknown) => e);
    expect(isConflict(refused)).toBe(true);
    const now = await transport({ method: 'GET', path });
    expect(now).toMatchObject({ status: { allocations: [{ allocationName: 'a', allocationUID: 'u1' }] } });
  });
});

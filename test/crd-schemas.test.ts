import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { crdDir } from './cluster/cluster.js';
import { isInvalid } from '../lib/k8s/errors.js';
import { RESOURCES, resourcePath, type ResourceType } from '../lib/k8s/resources.js';
import { IPAllocationSchema, IPPoolSchema } from '../lib/k8s/schemas.js';
import { testCluster, uniq } from './helpers/cluster.js';

/**
 * The zod schemas in lib/k8s/schemas.ts and the CRDs in deploy/crds must accept and reject the
 * same objects: each example goes to both (the API server through a dry-run create).
 */
const { transport } = testCluster();

async function serverAccepts(type: ResourceType, spec: unknown, labels?: Record<string, string>): Promise<boolean> {
  const body = { apiVersion: 'mikrolb.de/v1alpha1', kind: type.kind, metadata: { name: uniq('schema'), labels }, spec };
  try {
    await transport({ method: 'POST', path: resourcePath(type), query: { dryRun: 'All' }, body });
    return true;
  } catch (e) {
    if (isInvalid(e)) return false;
    throw e;
  }
}

const pools: [string, unknown, boolean][] = [
  ['a minimal IPv4 pool', { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'] }, true],
  ['an IPv6 pool with every option', { ipFamily: 'IPv6', addresses: ['2001:db8::/64', '!2001:db8::1'], autoAssign: false, avoidBuggyIPs: false, advertise: false, interfaceName: 'bridge.lan' }, true],
  ['an empty interface name (route lookup)', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], interfaceName: '' }, true],
  ['no ipFamily', { addresses: ['10.0.0.1'] }, false],
  ['a lowercase ipFamily', { ipFamily: 'ipv4', addresses: ['10.0.0.1'] }, false],
  ['no addresses', { ipFamily: 'IPv4' }, false],
  ['an empty address list', { ipFamily: 'IPv4', addresses: [] }, false],
  ['a repeated address entry', { ipFamily: 'IPv4', addresses: ['10.0.0.1', '10.0.0.1'] }, false],
  ['an empty address entry', { ipFamily: 'IPv4', addresses: [''] }, false],
  ['an interface name starting with a dash', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], interfaceName: '-eth0' }, false],
  ['an interface name with a space', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], interfaceName: 'eth 0' }, false],
  ['an interface name with an underscore (RouterOS allows it)', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], interfaceName: 'vlan_10' }, true],
  ['a one-character interface name', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], interfaceName: 'e' }, true],
  ['an interface name starting and ending with an underscore', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], interfaceName: '_lan_' }, true],
  ['an interface name ending with a dot', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], interfaceName: 'bridge.' }, false],
  ['an interface name with "="', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], interfaceName: 'eth0=x' }, false],
  ['an interface name with a trailing newline', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], interfaceName: 'eth0\n' }, false],
  ['an interface name with a tab', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], interfaceName: 'eth\t0' }, false],
  ['an interface name with a quote', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], interfaceName: 'eth"0' }, false],
  ['autoAssign that is not a boolean', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], autoAssign: 'yes' }, false],
  ['a serviceAllocation with every field', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], serviceAllocation: {
    priority: 5, namespaces: ['team-a'], namespaceSelectors: [{ matchLabels: { tenant: 'a' } }],
    serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold'] }, { key: 'legacy', operator: 'DoesNotExist' }] }],
  } }, true],
  ['an empty serviceAllocation', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], serviceAllocation: {} }, true],
  ['a negative priority', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], serviceAllocation: { priority: -1 } }, false],
  ['a fractional priority', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], serviceAllocation: { priority: 1.5 } }, false],
  ['the largest int32 priority', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], serviceAllocation: { priority: 2147483647 } }, true],
  // format: int32 alone is not enforced: the API server would store it and zod refuse the whole pool
  ['a priority beyond int32', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], serviceAllocation: { priority: 3000000000 } }, false],
  ['an empty namespace name', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], serviceAllocation: { namespaces: [''] } }, false],
  ['an unknown selector operator', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], serviceAllocation: { serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'Equals' }] }] } }, false],
  ['a selector expression without a key', { ipFamily: 'IPv4', addresses: ['10.0.0.1'], serviceAllocation: { namespaceSelectors: [{ matchExpressions: [{ operator: 'Exists' }] }] } }, false],
];

const allocations: [string, unknown, boolean][] = [
  ['an ipFamily', { ipFamily: 'IPv6' }, true],
  ['a pool name', { poolName: 'pool-a.b' }, true],
  ['an address', { address: '192.0.2.10' }, true],
  ['a malformed address (reported later as AddressInvalid)', { address: 'banana' }, true],
  ['nothing', {}, false],
  ['only empty strings', { ipFamily: '', poolName: '', address: '' }, false],
  ['ipFamily and address', { ipFamily: 'IPv4', address: '192.0.2.10' }, false],
  ['poolName and address', { poolName: 'p', address: '192.0.2.10' }, false],
  ['an unknown ipFamily', { ipFamily: 'IPv5' }, false],
  ['an uppercase pool name', { poolName: 'Pool' }, false],
  ['a pool name ending in a dash', { poolName: 'pool-' }, false],
];

describe('zod schemas and CRD schemas agree', () => {
  it.each(pools)('IPPool with %s', async (_what, spec, valid) => {
    const zodVerdict = IPPoolSchema.safeParse({ metadata: { name: 'x' }, spec }).success;
    expect({ zod: zodVerdict, server: await serverAccepts(RESOURCES.IPPool, spec) }).toEqual({ zod: valid, server: valid });
  });

  it.each(allocations)('IPAllocation with %s', async (_what, spec, valid) => {
    const zodVerdict = IPAllocationSchema.safeParse({ metadata: { name: 'x' }, spec }).success;
    expect({ zod: zodVerdict, server: await serverAccepts(RESOURCES.IPAllocation, spec) }).toEqual({ zod: valid, server: valid });
  });
});

/** Every `format: int32` integer in `value` (a CRD), by path, with the bounds it states. */
function int32Fields(value: unknown, path: string, out: Map<string, { minimum: unknown; maximum: unknown }>): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => { int32Fields(item, `${path}[${i}]`, out); });
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  const entries = new Map(Object.entries(value));
  if (entries.get('type') === 'integer' && entries.get('format') === 'int32') {
    out.set(path, { minimum: entries.get('minimum'), maximum: entries.get('maximum') });
  }
  for (const [key, child] of entries) int32Fields(child, `${path}.${key}`, out);
}

describe('the CRDs\' int32 fields', () => {
  // API servers before 1.36 do not check `format: int32`: they store 3000000000, which zod then
  // refuses, and with it the whole object. Only minimum and maximum hold there.
  it('state bounds within int32, so every API server refuses what zod would', async () => {
    const files = (await readdir(crdDir)).filter((f) => f.endsWith('.mikrolb.de.yaml'));
    const found = new Map<string, { minimum: unknown; maximum: unknown }>();
    for (const file of files) {
      for (const doc of parseAllDocuments(await readFile(join(crdDir, file), 'utf8'))) int32Fields(doc.toJS(), file, found);
    }
    expect(found.size).toBeGreaterThan(0);
    for (const [path, { minimum, maximum }] of found) {
      expect({ path, minimum: typeof minimum === 'number' && minimum >= -2147483648, maximum: typeof maximum === 'number' && maximum <= 2147483647 })
        .toEqual({ path, minimum: true, maximum: true });
    }
  });
});

describe('the IPAllocation status the CRD keeps', () => {
  // a field the CRD did not declare would be pruned by the API server without a word
  it.each([
    ['up to 8 former addresses', 8, true],
    ['9 former addresses', 9, false],
  ])('with %s', async (_what, count, valid) => {
    const type = RESOURCES.IPAllocation;
    const name = uniq('former');
    const created = IPAllocationSchema.parse(await transport({ method: 'POST', path: resourcePath(type), body: { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name }, spec: { ipFamily: 'IPv4' } } }));
    const formerAddresses = Array.from({ length: count }, (_, i) => `192.0.2.${i + 1}`);
    const status = { phase: 'Allocated' as const, address: '192.0.2.100', formerAddresses };
    const zodVerdict = IPAllocationSchema.safeParse({ ...created, status }).success;
    let server: boolean;
    try {
      await transport({ method: 'PUT', path: resourcePath(type, undefined, name, 'status'), body: { ...created, status } });
      const back = IPAllocationSchema.parse(await transport({ method: 'GET', path: resourcePath(type, undefined, name) }));
      expect(back.status?.formerAddresses).toEqual(formerAddresses);
      server = true;
    } catch (e) {
      if (!isInvalid(e)) throw e;
      server = false;
    } finally {
      await transport({ method: 'DELETE', path: resourcePath(type, undefined, name) });
    }
    expect({ zod: zodVerdict, server }).toEqual({ zod: valid, server: valid });
  });
});

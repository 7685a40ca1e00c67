/**
 * Pools scoped to tenants (`spec.serviceAllocation`) against the real API server: the CRD keeps
 * the scope, allocate reads the Service's Namespace for its labels, auto-assignment takes the
 * matching scoped pools by priority, and a Service outside a pool's scope that names it (or one
 * of its addresses) is refused with PoolScopeMismatch. Every pool here is scoped to this file's
 * namespaces (and the tenant label is unique), so the other files sharing the cluster never
 * match them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { KubePort } from '../../lib/k8s/port.js';
import type { IPAllocation } from '../../lib/k8s/schemas.js';
import { getPool } from '../../lib/k8s/typed.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import type { FunctionClient } from '../helpers/functions.js';
import { objects } from '../helpers/objects.js';
import { startAllocate } from './setup.js';

let fn: FunctionClient;
let kube: KubePort;
let make: ReturnType<typeof objects>;
const tenant = uniq('tenant');
const nsA = uniq('scope-a');
const nsB = uniq('scope-b');
const pools = { tenant: uniq('tenant-pool'), gold: uniq('gold-pool') };
const LB = { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'] };

beforeAll(async () => {
  ({ fn, kube } = await startAllocate());
  make = objects(kube);
  await kube.create('Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: nsA, labels: { 'mikrolb.test/tenant': tenant } } });
  await make.namespace(nsB);
  await make.pool(pools.tenant, {
    ipFamily: 'IPv4', addresses: ['198.18.90.1-198.18.90.6'],
    serviceAllocation: { priority: 2, namespaceSelectors: [{ matchLabels: { 'mikrolb.test/tenant': tenant } }] },
  });
  await make.pool(pools.gold, {
    ipFamily: 'IPv4', addresses: ['198.18.91.1-198.18.91.6'],
    serviceAllocation: { priority: 1, namespaces: [nsA], serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold'] }] }] },
  });
});

afterAll(async () => {
  await make.cleanup();
  for (const ns of [nsA, nsB]) await kube.remove('Namespace', ns);
  await fn.close();
});

async function allocate(namespace: string, name: string, labels: Record<string, string>, annotations: Record<string, string> = {}): Promise<IPAllocation | undefined> {
  await kube.create('Service', {
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, labels, annotations },
    spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }], ...LB },
  });
  const res = await fn.object({ kind: 'Service', namespace, name }, 'add');
  expect(res.status).toBe(200);
  const [a, ...rest] = await make.allocationsOf(namespace, name);
  expect(rest).toEqual([]);
  return a;
}

async function warningsAbout(name: string): Promise<{ reason: string; note: string }[]> {
  const Ev = z.object({ reason: z.string(), type: z.string(), note: z.string().default(''), regarding: z.object({ name: z.string() }) });
  return (await kube.list('Event', { namespace: 'default' })).flatMap((r) => {
    const e = Ev.safeParse(r);
    return e.success && e.data.regarding.name === name && e.data.type === 'Warning' ? [{ reason: e.data.reason, note: e.data.note }] : [];
  });
}

const allocatedCondition = (a: IPAllocation | undefined) => a?.status?.conditions?.find((c) => c.type === 'Allocated');

describe('pools scoped to tenants, on the real API server', () => {
  it('stores the scope as written (the CRD schema keeps every field)', async () => {
    expect((await getPool(kube, pools.gold))?.spec.serviceAllocation).toEqual({
      priority: 1, namespaces: [nsA], serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold'] }] }],
    });
  });

  it('shows the priority and the namespaces with kubectl get -o wide', async () => {
    const out = await testCluster().kubectl(['get', 'ippool', pools.gold, '-o', 'wide']);
    expect(out.code).toBe(0);
    const [header = '', row = ''] = out.stdout.trim().split('\n');
    const cell = (name: string): string => row.slice(header.indexOf(name)).split(/\s{2,}/)[0] ?? '';
    expect([cell('PRIORITY'), cell('NAMESPACES')]).toEqual(['1', `["${nsA}"]`]);
  });

  it("gives a Service of the tenant's namespace (matched by its labels) an address from the tenant's pool", async () => {
    const a = await allocate(nsA, 'web', { tier: 'silver' });
    expect(a?.status).toMatchObject({ phase: 'Allocated', address: expect.stringMatching(/^198\.18\.90\.[1-6]$/) });
    expect(allocatedCondition(a)?.message).toContain(`from pool ${pools.tenant}`);
  });

  // the address shop got (its hashed start depends on the random namespace name): vip below asks for another
  let shopAddress = '';

  it('prefers the pool of lower priority that the Service also matches', async () => {
    const a = await allocate(nsA, 'shop', { tier: 'gold' });
    expect(a?.status).toMatchObject({ phase: 'Allocated', address: expect.stringMatching(/^198\.18\.91\.[1-6]$/) });
    shopAddress = a?.status?.address ?? '';
  });

  it('refuses a Service of another namespace that names the scoped pool, with a reason and a Warning event', async () => {
    const a = await allocate(nsB, 'intruder', {}, { 'mikrolb.de/load-balancer-pools': pools.tenant });
    const message = `Pool ${pools.tenant} serves only Services in a namespace labelled mikrolb.test/tenant=${tenant}; Service ${nsB}/intruder is not one of them.`;
    expect(a?.status).toMatchObject({ phase: 'Failed' });
    expect(a?.status?.address).toBeUndefined();
    expect(allocatedCondition(a)).toMatchObject({ status: 'False', reason: 'PoolScopeMismatch', message });
    expect(await warningsAbout(a?.metadata.name ?? '')).toEqual([{ reason: 'PoolScopeMismatch', note: message }]);
  });

  it('refuses it an address of the scoped pool asked for by address', async () => {
    const a = await allocate(nsB, 'squatter', {}, { 'mikrolb.de/load-balancer-ips': '198.18.91.6' });
    expect(allocatedCondition(a)).toMatchObject({ reason: 'PoolScopeMismatch', message: expect.stringMatching(/^Address 198\.18\.91\.6 is in pool gold-pool-\w+, which serves only Services in namespace /) });
  });

  it('lets a gold Service of the tenant ask for an address of that pool', async () => {
    const wanted = shopAddress === '198.18.91.6' ? '198.18.91.5' : '198.18.91.6';
    const a = await allocate(nsA, 'vip', { tier: 'gold' }, { 'mikrolb.de/load-balancer-ips': wanted });
    expect(a?.status).toMatchObject({ phase: 'Allocated', address: wanted });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubePort } from '../../lib/k8s/port.js';
import { getAllocation, getPool } from '../../lib/k8s/typed.js';
import { startAllocate } from '../allocate/setup.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import type { FunctionClient } from '../helpers/functions.js';
import { objects } from '../helpers/objects.js';

const { kubectl } = testCluster();
let fn: FunctionClient;
let kube: KubePort;
let make: ReturnType<typeof objects>;

beforeAll(async () => {
  ({ fn, kube } = await startAllocate());
  make = objects(kube);
});

afterAll(async () => {
  await make.cleanup();
  await fn.close();
});

/** kubectl's table as rows of cells keyed by header (cut at the header's column offsets, as cells may be empty). */
function table(out: string): Record<string, string>[] {
  const [head = '', ...rows] = out.replace(/\n$/, '').split('\n');
  const starts = [...head.matchAll(/\S+(?: \S+)*/g)].map((m) => ({ name: m[0], at: m.index }));
  return rows.map((r) => Object.fromEntries(starts.map((c, i) => [c.name, r.slice(c.at, starts[i + 1]?.at ?? r.length).trim()])));
}

describe('IPPool status as users see it', () => {
  it('shows Free in kubectl get, the counts in -o wide, and an IPv6 /64 reads 18E', async () => {
    const name = uniq('big-v6');
    await make.pool(name, { ipFamily: 'IPv6', addresses: ['2001:db8:b16::/64'], autoAssign: false });
    expect((await fn.object({ kind: 'IPPool', name }, 'add')).status).toBe(200);
    const [row] = table((await kubectl(['get', 'ippool', name])).stdout);
    expect(row).toMatchObject({ NAME: name, FAMILY: 'IPv6', 'AUTO-ASSIGN': 'false', ADVERTISE: 'true', FREE: '18E' });
    const [wide] = table((await kubectl(['get', 'ipp', name, '-o', 'wide'])).stdout);
    expect(wide).toMatchObject({ TOTAL: '18E', ALLOCATED: '0', FREE: '18E' });
  });

  it('kubectl describe shows the counts and the conditions; kubectl get ipaddressclaims who holds what', async () => {
    const name = uniq('described');
    await make.pool(name, { ipFamily: 'IPv4', addresses: ['198.18.21.0/24', '!198.18.21.0/28'] });
    await make.allocation(`${name}-a`, { poolName: name });
    expect((await fn.object({ kind: 'IPAllocation', name: `${name}-a` }, 'add')).status).toBe(200);
    // counts follow the claims when the pool is reconciled (under the bridge, the claim's creation does it)
    expect((await fn.object({ kind: 'IPPool', name }, 'update')).status).toBe(200);
    const out = (await kubectl(['describe', 'ippool', name])).stdout;
    expect(out).toMatch(/Total Addresses:\s+239/);
    expect(out).toMatch(/Allocated Addresses:\s+1/);
    expect(out).toMatch(/Free Addresses:\s+238/);
    expect(out).toMatch(/Type:\s+Ready/);
    expect(out).toMatch(/Reason:\s+Valid/);
    expect(out).toMatch(/Type:\s+Overlapping/);
    const address = (await getAllocation(kube, `${name}-a`))?.status?.address ?? '';
    // (the pool hands out addresses automatically: a Service of a test running beside this one may hold one too)
    const claim = table((await kubectl(['get', 'ipc', '-l', `mikrolb.de/pool=${name}`])).stdout).find((row) => row['NAME'] === address);
    expect(claim).toMatchObject({ NAME: address, ADDRESS: address, POOL: name, ALLOCATION: `${name}-a` });
  });

  it('a pool that overlapped an older one (created before the webhook) reports it and never hands out the shared addresses', async () => {
    const older = uniq('older');
    const younger = uniq('younger');
    await make.pool(older, { ipFamily: 'IPv4', addresses: ['198.18.20.0-198.18.20.15'], autoAssign: false });
    await new Promise((r) => setTimeout(r, 1100)); // creationTimestamp has one-second resolution
    await make.pool(younger, { ipFamily: 'IPv4', addresses: ['198.18.20.8-198.18.20.23'], autoAssign: false });
    expect((await fn.object({ kind: 'IPPool', name: younger }, 'add')).status).toBe(200);
    const status = (await getPool(kube, younger))?.status;
    expect(status?.conditions?.find((c) => c.type === 'Overlapping')).toMatchObject({
      status: 'True', reason: 'OverlapsOlderPool', message: expect.stringContaining(`198.18.20.8-198.18.20.15 also in older pool ${older}`),
    });
    expect(status).toMatchObject({ totalAddresses: '8', freeAddresses: '8' });
    expect((await getPool(kube, older))?.status?.conditions ?? []).not.toContainEqual(expect.objectContaining({ type: 'Overlapping', status: 'True' }));

    const names = Array.from({ length: 9 }, (_, i) => `${younger}-${i}`);
    for (const n of names) {
      await make.allocation(n, { poolName: younger });
      expect((await fn.object({ kind: 'IPAllocation', name: n }, 'add')).status).toBe(200);
    }
    const got = await Promise.all(names.map((n) => getAllocation(kube, n)));
    const addresses = got.flatMap((a) => (a?.status?.address ? [a.status.address] : [])).sort();
    expect(addresses).toEqual(Array.from({ length: 8 }, (_, i) => `198.18.20.${16 + i}`).sort());
    expect(got.filter((a) => a?.status?.phase === 'Failed').map((a) => a?.status?.conditions?.find((c) => c.type === 'Ready')?.reason)).toEqual(['PoolExhausted']);
    expect((await fn.object({ kind: 'IPPool', name: younger }, 'update')).status).toBe(200);
    expect((await getPool(kube, younger))?.status).toMatchObject({ allocatedAddresses: '8', freeAddresses: '0' });
  });

  it('a pool with an invalid entry (admitted before the webhook) reports Ready=False naming the entry', async () => {
    const name = uniq('broken');
    await make.pool(name, { ipFamily: 'IPv4', addresses: ['198.18.22.0/30', '198.18.22.300'], autoAssign: false });
    expect((await fn.object({ kind: 'IPPool', name }, 'add')).status).toBe(200);
    const ready = (await getPool(kube, name))?.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'InvalidAddresses', message: expect.stringContaining('spec.addresses[1]') });
  });

  it('a pool with hundreds of bad entries still gets its status: the message names the first and how many more', async () => {
    // the CRD caps a condition message at 32,768 characters; naming all 400 entries (~60,000)
    // had the API server refuse the status write (422), and the pool showed no status at all
    const name = uniq('many-bad');
    const addresses = Array.from({ length: 400 }, (_, i) => `198.18.${Math.floor(i / 250)}.${i % 250}-bad-entry-${'x'.repeat(70)}`);
    await make.pool(name, { ipFamily: 'IPv4', addresses, autoAssign: false });
    expect((await fn.object({ kind: 'IPPool', name }, 'add')).status).toBe(200);
    const ready = (await getPool(kube, name))?.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'InvalidAddresses', message: expect.stringMatching(/^spec\.addresses\[0\]: .*; and 390 more bad entries$/) });
  });
});

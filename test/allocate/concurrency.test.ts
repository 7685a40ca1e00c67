import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { apiServerPort } from '../../lib/k8s/client.js';
import { humanCount } from '../../lib/ip/human.js';
import { claimNameOf } from '../../lib/k8s/claims.js';
import { claimsOfPool, LABEL_CLAIM_POOL } from '../../lib/k8s/keys.js';
import { getAllocation, getPool, listAllocations, listClaims } from '../../lib/k8s/typed.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { startAllocate } from './setup.js';

/**
 * `npm test` runs the proof at a size that fits a busy two-core machine; `npm run proof` runs the
 * full size (1,000 allocations). The deadline follows from the size: a generous 1.5 s per
 * allocation (each is delivered twice and may meet many 409s), plus start-up.
 */
const WORKERS = 8;
const ALLOCATIONS = Number(process.env.MIKROLB_PROOF_ALLOCATIONS ?? '200');
if (!Number.isInteger(ALLOCATIONS) || ALLOCATIONS < 16 || ALLOCATIONS > 65_000) throw new Error(`MIKROLB_PROOF_ALLOCATIONS must be 16-65000, got ${process.env.MIKROLB_PROOF_ALLOCATIONS}`);
const DEADLINE_MS = 120_000 + ALLOCATIONS * 1_500;
const { kubeconfig, transport } = testCluster();
const kube = apiServerPort(transport);
const make = objects(kube);

/** Pools this file made: their claims outlive the allocations (no release runs here) and must go. */
const proofPools: string[] = [];

/**
 * Deletes what earlier attempts made: a retried attempt reuses the same addresses, which the
 * older pool would own and the older claims would hold.
 */
async function dropEarlierAttempts(): Promise<void> {
  await make.cleanup();
  for (const pool of proofPools.splice(0)) {
    const claims = (await listClaims(kube, claimsOfPool(pool))).items;
    for (let i = 0; i < claims.length; i += 50) await Promise.all(claims.slice(i, i + 50).map((c) => kube.remove('IPAddressClaim', c.metadata.name)));
  }
}

/** The claims' CRD answers 429 "storage is (re)initializing" for a while after the cluster starts. */
async function claimsServed(): Promise<void> {
  for (const deadline = Date.now() + 120_000; ; await new Promise((r) => setTimeout(r, 500))) {
    try {
      await listClaims(kube);
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
  }
}

afterAll(dropEarlierAttempts, DEADLINE_MS);

/** Exactly `n` addresses from 198.19.0.1 on (198.18.0.0/15 is reserved for benchmarks). */
function poolRange(n: number): string {
  const last = 0xc6130000 + n; // 198.19.0.0 + n
  const dotted = [24, 16, 8, 0].map((shift) => (last >>> shift) & 255).join('.');
  return `198.19.0.1-${dotted}`;
}

/** A seeded shuffle, so a failing order can be replayed from the printed seed. */
function shuffle<T>(items: T[], seed: number): T[] {
  let s = seed >>> 0;
  const rand = (): number => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const Figures = z.object({ invocations: z.number(), conflicts: z.number(), taken: z.number(), retriedLater: z.number(), statuses: z.record(z.string(), z.number()) });

function runWorker(names: string[]): Promise<z.infer<typeof Figures>> {
  const worker = join(import.meta.dirname, 'concurrency-worker.ts');
  const tsx = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'tsx');
  return new Promise((resolve, reject) => {
    execFile(tsx, [worker, kubeconfig, JSON.stringify(names)], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`worker failed: ${stderr || err.message}`));
      else resolve(Figures.parse(JSON.parse(stdout.trim().split('\n').pop() ?? '{}')));
    });
  });
}

describe('allocation under concurrency (address claims)', () => {
  it(`${WORKERS} processes allocate ${ALLOCATIONS} addresses from a pool of exactly ${ALLOCATIONS}, every event at least twice, in random order`, async () => {
    // Fresh names on every attempt, and the objects of the one before gone.
    await dropEarlierAttempts();
    await claimsServed();
    const label = uniq('proof');
    const pool = uniq('proof-pool');
    proofPools.push(pool);
    await make.pool(pool, { ipFamily: 'IPv4', addresses: [poolRange(ALLOCATIONS)], autoAssign: false });
    const names = Array.from({ length: ALLOCATIONS }, (_, i) => `${label}-${i}`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map((n) => make.allocation(n, { poolName: pool }, { 'test.mikrolb.de/run': label })));
    }
    const seed = Date.now() % 100_000;
    console.log(`[concurrency] seed ${seed}`);
    const deliveries = shuffle([...names, ...names], seed);
    const shares = Array.from({ length: WORKERS }, (_, w) => deliveries.filter((_, i) => i % WORKERS === w));
    const t0 = performance.now();
    const figures = await Promise.all(shares.map(runWorker));
    const seconds = (performance.now() - t0) / 1000;
    const conflicts = figures.reduce((n, f) => n + f.conflicts, 0);
    const taken = figures.reduce((n, f) => n + f.taken, 0);
    const later = figures.reduce((n, f) => n + f.retriedLater, 0);
    console.log(`[concurrency] ${WORKERS} workers, ${deliveries.length} invocations, ${ALLOCATIONS} allocations: ${seconds.toFixed(1)} s wall, ${conflicts} resourceVersion conflicts (409) retried, ${taken} claim creates found the address taken, ${later} answers "retry later" (409) delivered again`);
    expect(figures.map((f) => f.statuses)).toEqual(figures.map((f) => ({ 200: f.invocations })));

    // none lost: every allocation holds an address; no duplicate: all different
    const allocs = (await listAllocations(kube, `test.mikrolb.de/run=${label}`)).items;
    expect(allocs).toHaveLength(ALLOCATIONS);
    expect(allocs.filter((a) => a.status?.phase !== 'Allocated' || !a.status.address).map((a) => a.metadata.name)).toEqual([]);
    const holders = new Map<string, string[]>();
    for (const a of allocs) holders.set(a.status?.address ?? '', [...(holders.get(a.status?.address ?? '') ?? []), a.metadata.name]);
    const claimOf = new Map((await listClaims(kube)).items.map((c) => [c.spec.address, c.spec.allocationName]));
    expect([...holders].filter(([, names]) => names.length > 1).map(([address, names]) => `${address} held by ${names.join(' and ')}, claimed by ${claimOf.get(address) ?? 'nobody'}`)).toEqual([]);
    // the claims are the statuses: one per allocation, named by its address, with its uid and
    // pool (none stray: every claim of the pool or of one of the allocations is counted)
    const uids = new Set(allocs.map((a) => a.metadata.uid));
    const claims = (await listClaims(kube)).items.filter((c) => uids.has(c.spec.allocationUID) || c.metadata.labels?.[LABEL_CLAIM_POOL] === pool);
    expect(claims.map((c) => `${c.spec.address}=${c.spec.allocationUID}@${c.metadata.labels?.[LABEL_CLAIM_POOL] ?? ''}`).sort())
      .toEqual(allocs.map((a) => `${a.status?.address}=${a.metadata.uid}@${pool}`).sort());
    expect(claims.filter((c) => c.metadata.name !== claimNameOf(c.spec.address))).toEqual([]);

    // pool counts follow the claims when the pool is reconciled (never inside an allocation)
    const { fn } = await startAllocate();
    try {
      expect((await fn.object({ kind: 'IPPool', name: pool })).status).toBe(200);
      const count = humanCount(BigInt(ALLOCATIONS));
      expect((await getPool(kube, pool))?.status).toMatchObject({ totalAddresses: count, allocatedAddresses: count, freeAddresses: '0', claimsAdopted: true });

      const extra = `${label}-extra`;
      await make.allocation(extra, { poolName: pool });
      expect((await fn.object({ kind: 'IPAllocation', name: extra })).status).toBe(200);
    } finally {
      await fn.close();
    }
    expect((await getAllocation(kube, `${label}-extra`))?.status).toMatchObject({ phase: 'Failed', conditions: expect.arrayContaining([expect.objectContaining({ type: 'Ready', reason: 'PoolExhausted' })]) });
    expect((await listClaims(kube, claimsOfPool(pool))).items).toHaveLength(ALLOCATIONS);
  }, DEADLINE_MS);
});

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { apiServerPort } from '../../lib/k8s/client.js';
import { getAllocation, getPool, listAllocations } from '../../lib/k8s/typed.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { startAllocate } from './setup.js';

const WORKERS = 8;
const ALLOCATIONS = 1000;
const { kubeconfig, transport } = testCluster();
const kube = apiServerPort(transport);
const make = objects(kube);
const label = uniq('proof');

afterAll(async () => {
  await make.cleanup();
});

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

const Figures = z.object({ invocations: z.number(), conflicts: z.number(), statuses: z.record(z.string(), z.number()) });

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

describe('allocation under concurrency (the pool ledger)', () => {
  it(`${WORKERS} processes allocate ${ALLOCATIONS} addresses from a pool of exactly ${ALLOCATIONS}, every event at least twice, in random order`, async () => {
    const pool = uniq('proof-pool');
    await make.pool(pool, { ipFamily: 'IPv4', addresses: ['198.19.0.1-198.19.3.232'], autoAssign: false });
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
    console.log(`[concurrency] ${WORKERS} workers, ${deliveries.length} invocations, ${ALLOCATIONS} allocations: ${seconds.toFixed(1)} s wall, ${conflicts} resourceVersion conflicts (409) retried`);
    expect(figures.every((f) => Object.keys(f.statuses).every((s) => s === '200'))).toBe(true);

    const allocs = (await listAllocations(kube, `test.mikrolb.de/run=${label}`)).items;
    expect(allocs).toHaveLength(ALLOCATIONS);
    const addresses = allocs.map((a) => a.status?.address);
    expect(addresses.every((a) => typeof a === 'string')).toBe(true);
    expect(new Set(addresses).size).toBe(ALLOCATIONS);
    const ledger = (await getPool(kube, pool))?.status?.allocations ?? [];
    expect(ledger.map((e) => `${e.address}=${e.allocationUID}`).sort()).toEqual(allocs.map((a) => `${a.status?.address}=${a.metadata.uid}`).sort());
    expect((await getPool(kube, pool))?.status).toMatchObject({ totalAddresses: '1K', allocatedAddresses: '1K', freeAddresses: '0' });

    const extra = `${label}-extra`;
    await make.allocation(extra, { poolName: pool });
    const { fn } = await startAllocate();
    try {
      expect((await fn.object({ kind: 'IPAllocation', name: extra })).status).toBe(200);
    } finally {
      await fn.close();
    }
    expect((await getAllocation(kube, extra))?.status).toMatchObject({ phase: 'Failed', conditions: expect.arrayContaining([expect.objectContaining({ type: 'Ready', reason: 'PoolExhausted' })]) });
  }, 600_000);
});

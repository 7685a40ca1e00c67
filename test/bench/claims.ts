/**
 * Allocation at pool scale: one IPv6 pool filled with tens of thousands of allocations through
 * the allocate function against the real API server. With per-address claims no object grows
 * with the pool, so the cost of one allocation should not grow with the number already held.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { createAllocate } from '../../functions/allocate/handler.js';
import { startCluster } from '../cluster/cluster.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import { defaultPause } from '../../lib/k8s/conflict.js';
import { claimsOfPool } from '../../lib/k8s/keys.js';
import { kubeTransport } from '../../lib/k8s/rest.js';
import { getPool, listAllocations, listClaims } from '../../lib/k8s/typed.js';
import { silentLogger } from '../../lib/log/logger.js';
import { percentile } from './support.js';

export interface PoolScale {
  allocations: number;
  seconds: number;
  allocationsPerSecond: number;
  /** Median wall time of one allocate invocation among the first and the last 1,000. */
  firstMs: number;
  lastMs: number;
  claims: number;
  /** Invocations answered "retry later" and delivered again. */
  retriedLater: number;
  duplicates: number;
  unallocated: number;
  poolAllocated: string | undefined;
}

/** `count` operator reservations from one IPv6 /64, `parallel` invocations in flight. */
export async function fillIPv6Pool(count: number, parallel = 16, log: (line: string) => void = () => undefined): Promise<PoolScale> {
  const cluster = await startCluster({ log: () => undefined });
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    const kube = apiServerPort(kubeTransport(kc, { maxSockets: parallel * 2 }));
    const allocate = createAllocate({ kube, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, now: () => new Date(), log: silentLogger(), retry: { attempts: 20, pause: defaultPause() } });
    const pool = 'scale-v6';
    await kube.create('IPPool', { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: pool }, spec: { ipFamily: 'IPv6', addresses: ['2001:db8:5ca1::/64'], autoAssign: false } });
    const times: number[] = new Array<number>(count).fill(0);
    let next = 0;
    let retried = 0;
    const t0 = performance.now();
    const worker = async (): Promise<void> => {
      for (let i = next++; i < count; i = next++) {
        const name = `scale-${i.toString().padStart(6, '0')}`;
        await kube.create('IPAllocation', { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name }, spec: { poolName: pool } });
        const t = performance.now();
        let res = await allocate(objectInvocation('add', { kind: 'IPAllocation', name }));
        times[i] = performance.now() - t;
        // "retry later" is delivered again after its pause, as the bridge does
        for (let again = 1; res.kind === 'retry' && again <= 10; again++) {
          retried++;
          await new Promise((r) => setTimeout(r, 1000 * (res.kind === 'retry' ? res.retryAfterSeconds ?? 1 : 1)));
          res = await allocate(objectInvocation('update', { kind: 'IPAllocation', name }));
        }
        if (res.kind !== 'done') throw new Error(`allocating ${name}: ${JSON.stringify(res)}`);
        if ((i + 1) % 5000 === 0) log(`  ${i + 1} allocated (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    const seconds = (performance.now() - t0) / 1000;
    const allocations = (await listAllocations(kube)).items;
    const addresses = allocations.flatMap((a) => (a.status?.address ? [a.status.address] : []));
    const claims = (await listClaims(kube, claimsOfPool(pool))).items;
    // the pool's counts, derived from its claims
    await allocate(objectInvocation('update', { kind: 'IPPool', name: pool }));
    const window = Math.min(1000, Math.floor(count / 2));
    return {
      allocations: count,
      seconds,
      allocationsPerSecond: count / seconds,
      firstMs: percentile(times.slice(0, window), 50),
      lastMs: percentile(times.slice(count - window), 50),
      claims: claims.length,
      retriedLater: retried,
      duplicates: addresses.length - new Set(addresses).size,
      unallocated: allocations.length - addresses.length,
      poolAllocated: (await getPool(kube, pool))?.status?.allocatedAddresses,
    };
  } finally {
    await cluster.stop();
  }
}

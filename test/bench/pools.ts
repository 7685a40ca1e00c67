import { createAllocate } from '../../functions/allocate/handler.js';
import { startCluster } from '../cluster/cluster.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { choose, chooseFrom, formatAddress, parsePoolAddresses, startFor, TakenAddresses } from '../../lib/ip/index.js';
import { claimAddress } from '../../lib/k8s/claims.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import { defaultPause } from '../../lib/k8s/conflict.js';
import { kubeTransport } from '../../lib/k8s/rest.js';
import { getAllocation, getPool } from '../../lib/k8s/typed.js';
import { silentLogger } from '../../lib/log/logger.js';
import { KubeConfig } from '@kubernetes/client-node';
import { percentile } from './support.js';

function median(fn: () => void, runs = 15): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return percentile(times, 50);
}

function set(family: 'IPv4' | 'IPv6', entry: string) {
  const r = parsePoolAddresses(family, [entry], false);
  if (!r.ok) throw new Error(r.errors[0]?.message);
  return r.set;
}

/** The address engine alone: choosing in the two large pools of the issue. */
export function chooseTimes(): { v6TakenMs: number; v4OneFreeMs: number } {
  const v6 = set('IPv6', '2001:db8::/64');
  const base = 0x20010db8000000000000000000000000n;
  const v6Taken = Array.from({ length: 10_000 }, (_, i) => base + BigInt(i) * 7_919n * 1_000_003n);
  const v4 = set('IPv4', '10.2.0.0/16');
  const v4Taken = Array.from({ length: 65_535 }, (_, i) => 0x0a020000n + BigInt(i < 40_000 ? i : i + 1));
  return {
    v6TakenMs: median(() => choose(v6, v6Taken, startFor('ip-bench', v6) ?? 0n)),
    v4OneFreeMs: median(() => choose(v4, v4Taken, startFor('ip-bench', v4) ?? 0n)),
  };
}

export interface ChooseScale {
  pool: string;
  /** Microseconds per `choose` call (median of 9 samples of repeated calls, the two pools alternating). */
  held10Us: number;
  held20kUs: number;
  /** held20kUs ÷ held10Us */
  ratio: number;
}

/**
 * Microseconds per call of each of `fns`: a sample repeats one for at least 20 ms; the samples
 * of the functions alternate (a, b, a, b, ...) so that a slower or faster stretch of a shared
 * machine weighs on each alike; the median of 9 each.
 */
function microsPerCall(fns: readonly (() => void)[]): number[] {
  const samples: number[][] = fns.map(() => []);
  for (let s = 0; s < 9; s++) {
    fns.forEach((fn, i) => {
      let calls = 0;
      const t = performance.now();
      while (performance.now() - t < 20) {
        fn();
        calls++;
      }
      samples[i]?.push(((performance.now() - t) * 1000) / calls);
    });
  }
  return samples.map((xs) => percentile(xs, 50));
}

/**
 * The address engine's cost to choose an address for a new Service in a pool holding 10 and
 * 20,000 addresses (scattered by hash, as allocations place them), kept as allocate's
 * hint of the claims keeps them (`TakenAddresses`, `chooseFrom`). Target: the same cost
 * within 1.5×.
 */
export function chooseScaling(): ChooseScale[] {
  return [['IPv4', '10.0.0.0/16'], ['IPv6', '2001:db8::/64']].map(([family, cidr]) => {
    const pool = set(family === 'IPv6' ? 'IPv6' : 'IPv4', cidr ?? '');
    const held = (k: number): TakenAddresses => {
      const taken = new TakenAddresses();
      for (let i = 0; taken.size < k; i++) taken.add(startFor(`bench/held-${i}/${family}`, pool) ?? 0n);
      return taken;
    };
    const start = startFor(`bench/new-service/${family}`, pool) ?? 0n;
    const chooser = (taken: TakenAddresses) => (): void => {
      if (chooseFrom(pool, taken, start) === undefined) throw new Error('nothing chosen');
    };
    const [held10Us = Number.NaN, held20kUs = Number.NaN] = microsPerCall([chooser(held(10)), chooser(held(20_000))]);
    return { pool: `${family} ${cidr}`, held10Us, held20kUs, ratio: held20kUs / held10Us };
  });
}

/**
 * The allocate function against the real API server in pools that already hold many addresses
 * (their claims created beforehand): one new allocation, with a cold hint (it lists the claims).
 */
export async function allocateInLargePools(): Promise<{ v6With10kMs: number; v4OneFreeMs: number; v4Held: number }> {
  const cluster = await startCluster({ log: () => undefined });
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    const kube = apiServerPort(kubeTransport(kc, { maxSockets: 32 }));
    const measure = async (pool: string, family: 'IPv4' | 'IPv6', addresses: string[], held: string[]): Promise<number> => {
      await kube.create('IPPool', { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: pool }, spec: { ipFamily: family, addresses, autoAssign: false, avoidBuggyIPs: false } });
      const created = await getPool(kube, pool);
      if (!created) throw new Error('pool vanished');
      await kube.replaceStatus('IPPool', { ...created, status: { claimsAdopted: true } });
      for (let i = 0; i < held.length; i += 32) {
        await Promise.all(held.slice(i, i + 32).map((address, j) => claimAddress(kube, { address, poolName: pool, allocationName: `held-${i + j}`, allocationUID: `00000000-0000-4000-8000-${(i + j).toString(16).padStart(12, '0')}` })));
      }
      await kube.create('IPAllocation', { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: `${pool}-new` }, spec: { poolName: pool } });
      // a new instance: its first invocation lists the claims
      const allocate = createAllocate({ kube, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, now: () => new Date(), log: silentLogger(), retry: { attempts: 5, pause: defaultPause() } });
      const t = performance.now();
      const res = await allocate(objectInvocation('update', { kind: 'IPAllocation', name: `${pool}-new` }));
      const took = performance.now() - t;
      const got = await getAllocation(kube, `${pool}-new`);
      if (res.kind !== 'done' || !got?.status?.address) throw new Error(`allocation in ${pool} failed: ${JSON.stringify(res)}`);
      return took;
    };
    const v6Base = 0x20010db8000000000000000000000000n;
    const v6 = await measure('big-v6', 'IPv6', ['2001:db8::/64'], Array.from({ length: 10_000 }, (_, i) => formatAddress('IPv6', v6Base + BigInt(i) * 7_919n * 1_000_003n)));
    const v4Held = Array.from({ length: 4095 }, (_, i) => formatAddress('IPv4', 0x0a030000n + BigInt(i < 2000 ? i : i + 1)));
    const v4 = await measure('full-v4', 'IPv4', ['10.3.0.0/20'], v4Held);
    return { v6With10kMs: v6, v4OneFreeMs: v4, v4Held: v4Held.length };
  } finally {
    await cluster.stop();
  }
}

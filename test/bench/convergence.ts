import { getService } from '../../lib/k8s/typed.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { benchStack, ms, percentile, pool, retrying, serviceObjects } from './support.js';

export interface ConvergenceResult {
  services: number;
  totalSeconds: number;
  latencyMs: { p50: number; p95: number; p99: number };
  apiRequestsPerService: number;
  routerRoundTripsPerService: number;
  routerCommandsPerService: number;
}

/** N LoadBalancer Services (each with 2 endpoints) created at once: time until all have ingress and rules. */
export async function convergence(n: number, log: (line: string) => void): Promise<ConvergenceResult> {
  const stack = await benchStack();
  try {
    const created = new Map<string, number>();
    const seen = new Map<string, number>();
    const t0 = performance.now();
    const trips0 = stack.router.stats.roundTrips;
    const cmds0 = stack.router.stats.commands;
    const req0 = stack.functionRequests();
    let done = false;
    const poller = (async () => {
      while (!done) {
        const items = await stack.kube.list('Service', { namespace: 'bench' }).catch(() => []);
        const now = performance.now();
        for (const raw of items) {
          const svc = ServiceSchema.safeParse(raw);
          if (svc.success && svc.data.status?.loadBalancer?.ingress?.length && !seen.has(svc.data.metadata.name)) seen.set(svc.data.metadata.name, now);
        }
        if (seen.size >= n) done = true;
        else await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await pool(Array.from({ length: n }, (_, i) => i), 50, async (i) => {
      const { service, slice } = serviceObjects(i);
      await retrying(() => stack.kube.create('EndpointSlice', slice));
      await retrying(() => stack.kube.create('Service', service));
      created.set(`svc-${i}`, performance.now());
    });
    log(`  created ${n} Services + EndpointSlices in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const deadline = performance.now() + 600_000;
    while (!done && performance.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    done = true;
    await poller.catch(() => undefined);
    const rules = (stack.sim.state().menus['/ip/firewall/nat'] ?? []).filter((e) => e.action === 'dst-nat').length;
    const totalSeconds = (performance.now() - t0) / 1000;
    const latencies = [...seen].map(([name, at]) => at - (created.get(name) ?? at));
    if (seen.size < n || rules < 2 * n) throw new Error(`only ${seen.size}/${n} Services got an ingress and ${rules}/${2 * n} dst-nat rules exist`);
    log(`  the functions' API requests by verb and resource: ${JSON.stringify(Object.fromEntries(Object.entries(stack.requestsByKind()).sort((a, b) => b[1] - a[1]).slice(0, 12)))}`);
    const sample = await getService(stack.kube, 'bench', 'svc-0');
    log(`  e.g. svc-0 → ${sample?.status?.loadBalancer?.ingress?.[0]?.ip ?? '?'}`);
    return {
      services: n, totalSeconds,
      latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) },
      apiRequestsPerService: (stack.functionRequests() - req0) / n,
      routerRoundTripsPerService: (stack.router.stats.roundTrips - trips0) / n,
      routerCommandsPerService: (stack.router.stats.commands - cmds0) / n,
    };
  } finally {
    await stack.stop();
  }
}

/** One Service at a time on a quiet system: creation → ingress. */
export async function idleLatency(samples: number, log: (line: string) => void): Promise<{ samples: number; p50: number; p99: number }> {
  const stack = await benchStack();
  try {
    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) {
      const { service, slice } = serviceObjects(i);
      await retrying(() => stack.kube.create('EndpointSlice', slice));
      const t0 = performance.now();
      await retrying(() => stack.kube.create('Service', service));
      for (;;) {
        const svc = await getService(stack.kube, 'bench', `svc-${i}`);
        if (svc?.status?.loadBalancer?.ingress?.length) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 300)); // let the follow-up invocations settle: quiet again
    }
    log(`  samples: ${latencies.map((l) => ms(l)).join(', ')}`);
    return { samples, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  } finally {
    await stack.stop();
  }
}

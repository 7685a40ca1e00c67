import { ownerOf } from '../../lib/router/index.js';
import type { RouterSim } from '../../lib/routeros/sim/index.js';
import { withControllerStack } from './controllers.js';
import { convergeFirst, measureBurst, type BurstFigures } from './burst.js';
import { pool, retrying, serviceObjects } from './support.js';

/** From the first deletion until no Service, allocation, claim or router entry of them is left. */
export type TeardownResult = BurstFigures;

/** Router entries that belong to a Service (by their comments). */
const serviceEntries = (sim: RouterSim): number =>
  Object.values(sim.state().menus).flat().filter((e) => ownerOf(e.comment)?.kind === 'service').length;

/**
 * N Services converged by our controller, then all deleted at once (with their slices, as a
 * namespace's deletion does): how long until release has let every one go (finalizer removed,
 * allocations and claims deleted, router entries gone), and what that cost.
 */
export async function teardown(n: number, log: (line: string) => void): Promise<TeardownResult> {
  return withControllerStack('ours', async (stack) => {
    const { kube, sim } = stack;
    if (!sim) throw new Error('our controller runs with a router simulator');
    const router = sim;
    const converged = await convergeFirst(stack, n, () => serviceEntries(router) > 0, log);
    log(`    ${n} Services converged in ${converged.toFixed(1)} s; deleting them all`);
    const result = await measureBurst(stack, n, {
      run: async () => {
        const t0 = performance.now();
        await pool(Array.from({ length: n }, (_, i) => i), 50, async (i) => {
          const { service, slice } = serviceObjects(i);
          await retrying(() => kube.remove('Service', service.metadata.name, 'bench'));
          await retrying(() => kube.remove('EndpointSlice', slice.metadata.name, 'bench'));
        });
        log(`    deleted ${n} Services + EndpointSlices in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      },
      // the router first (in this process, free); the lists only once it is clear, and at most
      // twice a second: they cost the API server what it would otherwise spend on the release
      left: async () => {
        const entries = serviceEntries(router);
        if (entries > 0) return `${entries} router entries`;
        const [services, allocations, claims] = await Promise.all([
          kube.list('Service', { namespace: 'bench' }), kube.list('IPAllocation'), kube.list('IPAddressClaim'),
        ]);
        return services.length + allocations.length + claims.length === 0 ? '' : `${services.length} Services, ${allocations.length} allocations, ${claims.length} claims`;
      },
      pollMs: (left) => (left.endsWith('router entries') ? 100 : 500),
    });
    log(`    released ${n} Services in ${result.seconds.toFixed(1)} s`);
    return result;
  });
}

import * as z from 'zod';
import type { RouterSim } from '../../lib/routeros/sim/index.js';
import { withControllerStack } from './controllers.js';
import { convergeFirst, measureBurst, type BurstFigures } from './burst.js';
import { pool, retrying, serviceObjects } from './support.js';

/** From the first slice update until every dst-nat rule sends to a new pod and none to an old one. */
export interface RolloutResult extends BurstFigures {
  /** Slice updates the bench made (two per Service: the new pods ready, then the old ones gone). */
  sliceUpdates: number;
}

/** The pods of Service i before (`10.200.`) and after (`10.201.`) its rollout, as serviceObjects numbers them. */
const pods = (i: number, net: '10.200' | '10.201'): string[] => [1, 2].map((k) => `${net}.${Math.floor(i / 120)}.${(i % 120) * 2 + k}`);

/** dst-nat rules by the pods they send to: the old ones, the new ones. */
function targets(sim: RouterSim): { old: number; rolled: number } {
  const rules = (sim.state().menus['/ip/firewall/nat'] ?? []).filter((e) => e.action === 'dst-nat');
  const to = (prefix: string): number => rules.filter((e) => (e['to-addresses'] ?? '').startsWith(prefix)).length;
  return { old: to('10.200.'), rolled: to('10.201.') };
}

const SliceSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string(), resourceVersion: z.string() }),
  endpoints: z.array(z.unknown()).default([]),
});

const ready = (address: string) => ({ addresses: [address], conditions: { ready: true } });

/**
 * N Services converged by our controller, then each Service's pods replaced at once, as a
 * rolling update of every Deployment does: its slice updated twice (the new pods ready beside
 * the old ones, then the old ones gone). How long until the router sends every Service's
 * traffic to its new pods and none to the old ones, and what that cost. No target: the issue
 * measures Services appearing; a cluster meets endpoints changing every day.
 */
export async function rollout(n: number, log: (line: string) => void): Promise<RolloutResult> {
  return withControllerStack('ours', async (stack) => {
    const { kube, sim } = stack;
    if (!sim) throw new Error('our controller runs with a router simulator');
    const router = sim;
    const converged = await convergeFirst(stack, n, () => targets(router).old >= 2 * n, log);
    const rules = targets(router).old;
    log(`    ${n} Services converged in ${converged.toFixed(1)} s (${rules} dst-nat rules); rolling every Service's pods`);
    const setEndpoints = async (i: number, addresses: readonly string[]): Promise<void> => {
      const { slice } = serviceObjects(i);
      await retrying(async () => {
        const now = SliceSchema.parse(await kube.get('EndpointSlice', slice.metadata.name, 'bench'));
        await kube.replace('EndpointSlice', { ...now, endpoints: addresses.map(ready) });
      });
    };
    const result = await measureBurst(stack, n, {
      run: async () => {
        const t0 = performance.now();
        await pool(Array.from({ length: n }, (_, i) => i), 50, async (i) => {
          await setEndpoints(i, [...pods(i, '10.200'), ...pods(i, '10.201')]);
          await setEndpoints(i, pods(i, '10.201'));
        });
        log(`    updated ${2 * n} EndpointSlices in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      },
      left: () => {
        const t = targets(router);
        return t.old === 0 && t.rolled >= rules ? '' : `${t.old} dst-nat rules send to old pods, ${t.rolled}/${rules} to new ones`;
      },
      // what was still on its way (the last invocations' reads after their router writes) counts too
      tailMs: 1000,
    });
    log(`    rolled ${n} Services in ${result.seconds.toFixed(1)} s`);
    return { ...result, sliceUpdates: 2 * n };
  });
}

import { menusToRead, ROUTE_MENUS } from '../../lib/core/router-program.js';
import { EndpointSliceSchema, type EndpointSlice } from '../../lib/k8s/core-objects.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { getNamespace, listAllocations, listClaims, listPools, listServices } from '../../lib/k8s/typed.js';
import type { RouterClient } from '../../lib/routeros/client/index.js';
import type { RouterSim } from '../../lib/routeros/sim/index.js';
import type { World } from './invariants.js';
import { foreignEntries } from './router-seed.js';
import { NAMESPACE } from './shapes.js';

/** What the settle phase knows that the cluster does not show: its resyncs, and release's grace period. */
export type SettleFacts = Pick<World, 'resynced' | 'claimGraceMs' | 'foreignBefore'>;

/** Reads the cluster and the router for the invariants (the router through the API, as the product does). */
export async function readWorld(kube: KubePort, router: RouterClient, sim: RouterSim, facts: SettleFacts): Promise<World> {
  const [services, allocations, pools, claims, rawSlices, menus, namespace] = await Promise.all([
    listServices(kube, NAMESPACE), listAllocations(kube), listPools(kube), listClaims(kube), kube.list('EndpointSlice', { namespace: NAMESPACE }), router.readMany([...menusToRead(), ...ROUTE_MENUS]),
    getNamespace(kube, NAMESPACE),
  ]);
  const invalid = [...services.invalid, ...allocations.invalid, ...pools.invalid, ...claims.invalid];
  if (invalid.length) throw new Error(`objects that do not match the schemas: ${invalid.map((i) => `${i.kind} ${i.name}: ${i.message}`).join('; ')}`);
  const slices: EndpointSlice[] = [];
  for (const raw of rawSlices) {
    const parsed = EndpointSliceSchema.safeParse(raw);
    if (parsed.success) slices.push(parsed.data);
  }
  return {
    services: services.items, slices, allocations: allocations.items, pools: pools.items, claims: claims.items, router: menus,
    ...facts, resynced: { ...facts.resynced }, foreignNow: foreignEntries(sim.state()), namespaceLabels: namespace?.metadata.labels ?? {},
  };
}

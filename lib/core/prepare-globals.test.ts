import { describe, expect, it } from 'vitest';
import type { IPFamily } from '../ip/index.js';
import { IPAllocationSchema } from '../k8s/schemas.js';
import { ownerOf } from '../router/index.js';
import { trapError } from '../router/errors.js';
import type { RouterState } from '../router/state.js';
import { FAMILIES, NET, routerWithForeignRules as router, webService } from '../router/test-support.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import type { AdvertisementWant } from './program-model.js';
import { planOwner, prepareGlobals, programOwner, type OwnerProgram } from './router-program.js';

function web(cluster?: string): OwnerProgram {
  const svc = webService();
  const adverts: AdvertisementWant[] = FAMILIES.map((family) => ({
    allocation: IPAllocationSchema.parse({ metadata: { name: `web-${family.toLowerCase()}`, uid: `web-${family}` }, spec: { ipFamily: family }, status: { phase: 'Allocated', address: NET[family].lb } }),
    family, address: NET[family].lb, advertise: true, interfaceName: 'ether1', pool: 'lan',
  }));
  return { uid: svc.uid, service: svc, adverts, ...(cluster ? { cluster } : {}) };
}

/** The global rules on the router, menu by menu in router order, without their ids. */
function globals(state: RouterState): Record<string, Record<string, string>[]> {
  return Object.fromEntries(Object.entries(state.menus)
    .map(([menu, entries]) => [menu, entries.filter((e) => ownerOf(e.comment)?.kind === 'global').map(({ '.id': _id, ...rest }) => rest)] as const)
    .filter(([, entries]) => entries.length > 0));
}

describe('preparing the router at start: the global rules before any Service', () => {
  it.each([undefined, 'lab'])('creates exactly the global rules (hairpin included) the first Service would create, cluster %s', async (cluster) => {
    const prepared = memoryRouter(router());
    const ops = await prepareGlobals(prepared, FAMILIES, cluster);
    const firstService = planOwner(web(cluster), router().menus).ops
      .filter((op) => op.op === 'add' && ownerOf(op.entry.comment)?.kind === 'global');
    expect(ops).toEqual(firstService);

    const programmed = memoryRouter(router());
    await programOwner(programmed, web(cluster));
    expect(globals(prepared.state())).toEqual(globals(programmed.state()));
    expect(Object.values(globals(prepared.state())).flat().every((e) => e.comment?.startsWith(`mikrolb:${cluster ?? 'default'}:global:`))).toBe(true);
    // hairpin: one masquerade per connected network of each family
    expect(globals(prepared.state())['/ip/firewall/nat']?.map((e) => e['src-address']).filter(Boolean)).toEqual(['10.0.0.0/24', '192.0.2.0/24']);
  });

  it('prepares only the families asked for', async () => {
    const r = memoryRouter(router());
    await prepareGlobals(r, ['IPv6'] satisfies IPFamily[]);
    expect(Object.keys(globals(r.state())).sort()).toEqual(['/ipv6/firewall/filter', '/ipv6/firewall/mangle', '/ipv6/firewall/nat']);
  });

  it('is idempotent: a second run reads once and writes nothing', async () => {
    const r = memoryRouter(router());
    await prepareGlobals(r, FAMILIES);
    const before = r.roundTrips;
    expect(await prepareGlobals(r, FAMILIES)).toEqual([]);
    expect(r.roundTrips - before).toBe(1);
  });

  it('a Service programmed after preparation takes exactly 3 round trips; without it, more', async () => {
    const prepared = memoryRouter(router());
    await prepareGlobals(prepared, FAMILIES);
    const before = { roundTrips: prepared.roundTrips, ops: prepared.ops.length };
    await programOwner(prepared, web());
    expect(prepared.roundTrips - before.roundTrips).toBe(3);
    // the Service found the global rules in place: it wrote only its own entries
    expect(prepared.ops.slice(before.ops).filter((op) => op.op !== 'add' || ownerOf(op.entry.comment)?.kind !== 'service')).toEqual([]);

    const cold = memoryRouter(router());
    await programOwner(cold, web());
    expect(cold.roundTrips).toBeGreaterThan(3); // the family's addresses are read once more
    expect(globals(cold.state())).toEqual(globals(prepared.state()));
  });

  it('reads and plans again after a router conflict (a Service creating the rules at the same moment)', async () => {
    const expected = memoryRouter(router());
    await prepareGlobals(expected, FAMILIES);
    let conflicts = 1;
    // the first write (the second round trip) is refused as if another writer got there first
    const r = memoryRouter(router(), { fail: () => (r.roundTrips === 2 && conflicts-- > 0 ? trapError('/ip/firewall/filter/add', { message: 'failure: already have such entry' }) : undefined) });
    await prepareGlobals(r, FAMILIES);
    expect(conflicts).toBe(0);
    expect(r.roundTrips).toBe(5); // read, refused build; read, build, divert
    expect(globals(r.state())).toEqual(globals(expected.state()));
  });
});

import { describe, expect, it } from 'vitest';
import type { IPFamily } from '../ip/index.js';
import { IPAllocationSchema } from '../k8s/schemas.js';
import { applyPlanToState } from '../router/index.js';
import { RouterError } from '../router/errors.js';
import type { ReadRequest } from '../router/port.js';
import type { RouterEntry, RouterState } from '../router/state.js';
import { NET, routerWithForeignRules, webService } from '../router/test-support.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import type { AdvertisementWant } from './program-model.js';
import { planOwner, prepareGlobals, programOwner, readsFor, type OwnerProgram } from './router-program.js';

/**
 * program's narrowed reads: what an owner asks the router for, and that planning from them
 * gives what planning from the whole router gives.
 */

function want(family: IPFamily, address: string): AdvertisementWant {
  const allocation = IPAllocationSchema.parse({ metadata: { name: `web-${family.toLowerCase()}`, uid: `web-${family}` }, spec: { ipFamily: family }, status: { phase: 'Allocated', address } });
  return { allocation, family, address, advertise: true, interfaceName: 'ether1', pool: 'lan' };
}

/** `web` with addresses of these families only. */
function web(families: readonly IPFamily[]): OwnerProgram {
  const of = (role: 'lb' | 'snat') => families.map((family) => ({ family, address: NET[family][role] }));
  const svc = webService({ lbAddresses: of('lb'), snatAddresses: of('snat') });
  return { uid: svc.uid, service: svc, adverts: families.map((f) => want(f, NET[f].lb)) };
}

/** A router with the user's own rules in the built-in chains of both families, prepared for both. */
async function preparedRouter(): Promise<RouterState> {
  const r = memoryRouter(routerWithForeignRules(), { queries: true });
  await prepareGlobals(r, ['IPv4', 'IPv6']);
  return r.state();
}

/** The router's entries in router order, without the ids the writes were given. */
const withoutIds = (state: RouterState): Record<string, Omit<RouterEntry, '.id'>[]> =>
  Object.fromEntries(Object.entries(state.menus).map(([menu, entries]) => [menu, entries.map(({ '.id': _id, ...rest }) => rest)]));

const menusOf = (reads: readonly ReadRequest[]): string[] => reads.map((r) => r.menu);

describe("an owner's narrowed reads", () => {
  it('ask for the built-in chains only of the families whose global rules the owner could need', () => {
    const v4 = readsFor(web(['IPv4']));
    expect(menusOf(v4)).not.toContain('/ipv6/firewall/mangle');
    // its IPv6 leftovers are still found: drop rules in mikrolb-input, its own lists, its own
    // chain, the jumps into it and its SNAT rule (none of the built-in chains)
    const v6nat = v4.find((r) => r.menu === '/ipv6/firewall/nat')?.query ?? [];
    expect(v6nat.filter((w) => /^\?(chain|jump-target|src-address-list)=/.test(w)).map((w) => w.split('=')[0]).sort()).toEqual(['?chain', '?jump-target', '?src-address-list']);
    expect(v6nat).not.toContain('?chain=dstnat');
    expect(v4.find((r) => r.menu === '/ipv6/firewall/filter')?.query).toEqual(['?chain=mikrolb-input']);
    expect(v4.find((r) => r.menu === '/ipv6/firewall/address-list')?.query?.filter((w) => w.startsWith('?list='))).toHaveLength(2);
    expect(v4.find((r) => r.menu === '/ip/firewall/filter')?.query).toEqual(expect.arrayContaining(['?chain=input', '?chain=forward']));

    const dual = readsFor(web(['IPv4', 'IPv6']));
    for (const f of ['ip', 'ipv6']) {
      expect(dual.find((r) => r.menu === `/${f}/firewall/nat`)?.query).toEqual(expect.arrayContaining(['?chain=dstnat', '?chain=srcnat']));
      expect(dual.find((r) => r.menu === `/${f}/firewall/mangle`)?.query).toEqual(['?chain=prerouting']);
    }
  });

  it.each<{ story: string; families: IPFamily[] }>([
    { story: 'an IPv4 Service', families: ['IPv4'] },
    { story: 'an IPv6 Service', families: ['IPv6'] },
    { story: 'a dual-stack Service', families: ['IPv4', 'IPv6'] },
  ])('program the router as planning from the whole router would: $story', async ({ families }) => {
    const state = await preparedRouter();
    const expected = applyPlanToState({ version: '7.19.1', menus: state.menus }, planOwner(web(families), state.menus, 'own').ops);
    const router = memoryRouter({ version: '7.19.1', menus: state.menus }, { queries: true });
    await programOwner(router, web(families));
    expect(withoutIds(router.state())).toEqual(withoutIds(expected));
    // the reads were narrowed: no whole firewall menu was printed
    expect(router.asked.filter((r) => r.menu.includes('/firewall/') && !r.query)).toEqual([]);
  });
});

describe('programOwner after a router conflict', () => {
  it('counts what an attempt the conflict ended sent, though the next plan finds nothing left to do', async () => {
    // another writer made the same change meanwhile: the write lands, then a step of it finds
    // its entry gone (NotFound); read again, the router already says what the owner wants
    const state = await preparedRouter();
    const router = memoryRouter({ version: '7.19.1', menus: state.menus }, { queries: true });
    let conflicts = 0;
    const racing: typeof router = {
      ...router,
      execute: async (ops) => {
        if (conflicts > 0) return router.execute(ops);
        conflicts++;
        // the first write: everything the owner wants lands (ours and the other writer's), then a trap
        await router.execute(planOwner(web(['IPv4']), router.state().menus, 'own').ops);
        throw new RouterError({ kind: 'trap', message: 'no such item', routerMessage: 'no such item', category: 0 });
      },
    };
    const { ops } = await programOwner(racing, web(['IPv4']));
    expect(conflicts).toBe(1);
    expect(planOwner(web(['IPv4']), router.state().menus, 'own').ops).toEqual([]);
    expect(ops.length).toBeGreaterThan(0);
  });
});

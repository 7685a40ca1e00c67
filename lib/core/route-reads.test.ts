import { describe, expect, it } from 'vitest';
import { IPAllocationSchema } from '../k8s/schemas.js';
import type { ReadRequest, RouterPort } from '../router/port.js';
import { client, sim } from '../routeros/client/test-support.js';
import type { RouterEntry, RouterState } from '../router/state.js';
import { coveringPrefixes, menusToRead, programOwner, routeReads, type OwnerProgram } from './router-program.js';

/**
 * Advertising an address on the interface of its route never reads a whole route table: only
 * the routes whose dst-address contains the address (the candidates of the router's own
 * lookup), whether the router holds ten routes or a full BGP table.
 */

const allocation = IPAllocationSchema.parse({ metadata: { name: 'ip-1', uid: 'a1' }, spec: { ipFamily: 'IPv4' } });

function owner(address: string, family: 'IPv4' | 'IPv6' = 'IPv4'): OwnerProgram {
  return { uid: 'u1', adverts: [{ allocation, family, address, advertise: true }] };
}

function seed(bulk: number): RouterState {
  const bulkRoutes: RouterEntry[] = Array.from({ length: bulk }, (_, i) => ({
    'dst-address': `100.${64 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}/32`, gateway: '192.0.2.254',
  }));
  return {
    version: '7.19.1',
    menus: {
      '/interface': [{ name: 'ether1', type: 'ether' }, { name: 'bridge', type: 'bridge' }, { name: 'vlan7', type: 'vlan' }],
      '/ip/address': [{ address: '192.0.2.1/24', interface: 'ether1' }, { address: '10.0.0.1/24', interface: 'bridge' }, { address: '10.7.0.1/24', interface: 'vlan7' }],
      '/ip/route': [
        { 'dst-address': '0.0.0.0/0', gateway: '192.0.2.254' },
        { 'dst-address': '198.51.100.0/24', gateway: '10.7.0.254' },
        { 'dst-address': '198.51.0.0/16', gateway: '10.0.0.254' },
        ...bulkRoutes,
      ],
    },
  };
}

/** The client, recording what each read asked for and how many route entries came back. */
function recording(port: RouterPort): { port: RouterPort; requests: ReadRequest[]; routeItems: number[] } {
  const requests: ReadRequest[] = [];
  const routeItems: number[] = [];
  return {
    requests, routeItems,
    port: {
      readMany: async (menus) => {
        requests.push(...menus.map((menu) => ({ menu })));
        return port.readMany(menus);
      },
      read: async (reqs) => {
        requests.push(...reqs);
        const state = await port.read(reqs);
        for (const r of reqs) if (r.menu.endsWith('/route')) routeItems.push(state[r.menu]?.length ?? 0);
        return state;
      },
      execute: (ops) => port.execute(ops),
    },
  };
}

describe('route lookups for advertisements', () => {
  it('covers every prefix of an address, /0 to /32 (and /128)', () => {
    expect(coveringPrefixes('IPv4', '198.51.100.7')).toEqual(expect.arrayContaining(['0.0.0.0/0', '198.0.0.0/8', '198.51.0.0/16', '198.51.100.0/24', '198.51.100.7/32']));
    expect(coveringPrefixes('IPv4', '198.51.100.7')).toHaveLength(33);
    expect(coveringPrefixes('IPv6', '2001:db8::1')).toHaveLength(129);
    expect(coveringPrefixes('IPv6', '2001:db8::1')[32]).toBe('2001:db8::/32');
  });

  it('resync and release read whole firewall and address menus, never a route table', () => {
    expect(menusToRead().filter((m) => m.endsWith('/route'))).toEqual([]);
    const named = owner('198.51.100.7');
    expect(routeReads({ ...named, adverts: named.adverts.map((w) => ({ ...w, interfaceName: 'ether1' })) })).toEqual([]);
  });

  it.each([
    { story: 'the narrowed read (program)', given: false },
    { story: 'a whole-menu state without routes (resync, release)', given: true },
  ])('$story: only the covering routes are printed, the most specific one wins', async ({ given }) => {
    const router = await sim({ initialState: seed(5_000) });
    const api = client(router, { timeoutMs: 10_000 });
    const rec = recording({ read: (r) => api.read(r), readMany: (m) => api.readMany(m), execute: (ops) => api.execute(ops) });
    const state = given ? await rec.port.readMany(menusToRead()) : undefined;
    const { outcomes } = await programOwner(rec.port, owner('198.51.100.7'), state === undefined ? {} : { state });
    expect(outcomes.get('ip-1')).toEqual({ kind: 'advertised', interfaceName: 'vlan7' });
    const routePrints = rec.requests.filter((r) => r.menu.endsWith('/route'));
    expect(routePrints.length).toBeGreaterThan(0);
    expect(routePrints.every((r) => (r.query ?? []).length > 0)).toBe(true);
    expect(rec.routeItems.every((n) => n <= 3)).toBe(true);
    expect(router.state().menus['/ip/address']?.find((e) => e.address === '198.51.100.7/32')?.interface).toBe('vlan7');
  });
});

import { describe, expect, it } from 'vitest';
import type { RouterState } from '../../router/state.js';
import { storeFromState } from './store.js';

const seed: RouterState = {
  version: '7.19.1',
  menus: {
    '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }],
    '/ip/firewall/nat': [
      { '.id': '*A', chain: 'dstnat', action: 'dst-nat', 'to-addresses': '10.0.0.1', nth: '2,1', comment: 'mikrolb:a' },
      { '.id': '*B', chain: 'dstnat', action: 'dst-nat', 'to-addresses': '10.0.0.2', comment: 'mikrolb:a', bytes: '42' },
      { '.id': '*C', chain: 'srcnat', action: 'masquerade' },
    ],
    '/ip/firewall/filter': [],
  },
};

function seeded(state: RouterState = seed) {
  const result = storeFromState(state);
  if (!result.ok) throw new Error(result.message);
  return result.store;
}

const order = (state: RouterState, menu: string) => state.menus[menu]?.map((entry) => entry['.id']);

describe('RouterStore', () => {
  it('dumps a seed back unchanged, empty menus included', () => {
    expect(seeded().dump()).toEqual(seed);
  });

  it('dumps deterministically: menus sorted, .id first, then fields in table order', () => {
    const store = seeded({
      version: '7.19.1',
      menus: { '/ip/route': [{ gateway: '10.0.0.1', 'dst-address': '0.0.0.0/0', '.id': '*2' }], '/interface': [] },
    });
    const dump = store.dump();
    expect(Object.keys(dump.menus)).toEqual(['/interface', '/ip/route']);
    expect(Object.keys(dump.menus['/ip/route']?.[0] ?? {})).toEqual(['.id', 'dst-address', 'gateway']);
  });

  it('allocates ids after the highest seeded id and never reuses them', () => {
    const store = seeded();
    const id = store.insert('/ip/firewall/nat', new Map([['chain', 'x']]));
    expect(id).toBe(0xd);
    store.remove('/ip/firewall/nat', new Set([id]));
    expect(store.insert('/ip/firewall/nat', new Map([['chain', 'y']]))).toBe(0xe);
  });

  it('gives seeded entries without .id fresh ids', () => {
    const store = seeded({ version: '7.19.1', menus: { '/interface': [{ '.id': '*7', name: 'a' }, { name: 'b' }] } });
    expect(order(store.dump(), '/interface')).toEqual(['*7', '*8']);
  });

  it('normalises seeded booleans to true/false', () => {
    const store = seeded({ version: '7.19.1', menus: { '/ip/firewall/filter': [{ '.id': '*1', chain: 'input', disabled: 'yes' }] } });
    expect(store.dump().menus['/ip/firewall/filter']?.[0]?.disabled).toBe('true');
  });

  it.each([
    ['moves a block before an entry', [0xc, 0xa], 0xb, ['*C', '*A', '*B']],
    ['moves to the end without destination', [0xa], undefined, ['*B', '*C', '*A']],
    ['moving before itself changes nothing', [0xb], 0xb, ['*A', '*B', '*C']],
    ['moves a block before one of its members', [0xa, 0xc], 0xc, ['*B', '*A', '*C']],
  ])('%s', (_story, ids, before, expected) => {
    const store = seeded();
    store.move('/ip/firewall/nat', ids, before);
    expect(order(store.dump(), '/ip/firewall/nat')).toEqual(expected);
  });

  it.each([
    ['an unknown menu', { '/ip/firewall/nats': [] }, 'unknown menu /ip/firewall/nats'],
    ['an unknown property', { '/ip/firewall/nat': [{ '.id': '*1', chain: 'x', 'to-address': '1.2.3.4' }] }, '/ip/firewall/nat[0]: /ip/firewall/nat has no property to-address'],
    ['a malformed id', { '/interface': [{ '.id': '7', name: 'a' }] }, '/interface[0]: .id "7" is not like *1A'],
    ['a duplicate id', { '/interface': [{ '.id': '*7', name: 'a' }], '/ip/route': [{ '.id': '*7' }] }, '/ip/route[0]: duplicate .id *7'],
    ['a character outside latin1', { '/interface': [{ name: 'a', comment: '\u20ac' }] }, '/interface[0]: comment holds characters a router cannot store (use latin1)'],
  ])('refuses a seed with %s', (_story, menus, message) => {
    expect(storeFromState({ version: '7.19.1', menus })).toEqual({ ok: false, message });
  });

  it('accepts what a real RouterOS v7 prints: computed menus, dynamic connected routes and read-only flags (ignored)', () => {
    const seeded = storeFromState({
      version: '7.19.1',
      menus: {
        '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether', running: 'true' }],
        '/ip/address': [{ '.id': '*2', address: '192.0.2.1/24', network: '192.0.2.0', interface: 'ether1', 'actual-interface': 'ether1', dynamic: 'false', invalid: 'false', slave: 'false' }],
        '/ip/route': [
          { '.id': '*3', 'dst-address': '0.0.0.0/0', gateway: '192.0.2.254', 'immediate-gw': '192.0.2.254%ether1', distance: '1', active: 'true', static: 'true', dynamic: 'false', inactive: 'false', ecmp: 'false', 'hw-offloaded': 'false' },
          { '.id': '*80000001', 'dst-address': '192.0.2.0/24', gateway: 'ether1', 'immediate-gw': 'ether1', distance: '0', dynamic: 'true', connect: 'true', active: 'true', local: 'false' },
        ],
        '/routing/route': [{ '.id': '*3', afi: 'ip4', 'dst-address': '0.0.0.0/0', gateway: '192.0.2.254', active: 'true' }],
        '/system/resource': [{ version: '7.19.1 (stable)' }],
        '/ip/firewall/filter': [{ '.id': '*4', chain: 'input', action: 'accept', bytes: '123', packets: '4', dynamic: 'false', invalid: 'false' }],
      },
    });
    if (!seeded.ok) throw new Error(seeded.message);
    const dump = seeded.store.dump();
    expect(dump.menus['/ip/route']).toEqual([{ '.id': '*3', 'dst-address': '0.0.0.0/0', gateway: '192.0.2.254', 'immediate-gw': '192.0.2.254%ether1', distance: '1', active: 'true', dynamic: 'false' }]);
    expect(dump.menus['/routing/route']).toBeUndefined();
    expect(dump.menus['/interface']?.[0]).toMatchObject({ '.id': '*1', name: 'ether1', type: 'ether' });
    expect(dump.menus['/ip/firewall/filter']).toEqual([{ '.id': '*4', chain: 'input', action: 'accept', bytes: '123', packets: '4', dynamic: 'false', invalid: 'false' }]);
  });
});

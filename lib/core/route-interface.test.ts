import { describe, expect, it } from 'vitest';
import type { RouterEntry } from '../router/state.js';
import { interfaceFor } from './route-interface.js';

const routes: RouterEntry[] = [
  { '.id': '*1', 'dst-address': '0.0.0.0/0', gateway: '203.0.113.1', 'immediate-gw': '203.0.113.1%ether1', active: 'true', distance: '1' },
  { '.id': '*2', 'dst-address': '198.51.100.0/24', gateway: 'vlan20', active: 'true', distance: '1' },
  { '.id': '*3', 'dst-address': '198.51.100.128/25', gateway: 'vlan30', active: 'false', distance: '1' },
  { '.id': '*4', 'dst-address': '2001:db8::/32', gateway: 'fe80::1%bridge', active: 'true', distance: '1' },
];
const addresses: RouterEntry[] = [
  { '.id': '*A', address: '192.0.2.1/24', interface: 'bridge', 'actual-interface': 'bridge' },
  { '.id': '*B', address: '198.51.100.200/32', interface: 'ether9', comment: 'mikrolb:svc=x:adv:198.51.100.200' },
];

describe('the interface an address is advertised on when its pool names none', () => {
  it.each([
    ['a connected network wins over the default route', 'IPv4', '192.0.2.77', 'bridge'],
    ['a more specific active route wins', 'IPv4', '198.51.100.150', 'vlan20'],
    ['the default route as the last resort', 'IPv4', '100.64.0.1', 'ether1'],
    ['IPv6 through a link-local gateway', 'IPv6', '2001:db8::10', 'bridge'],
    ['no route at all', 'IPv6', 'fd00::1', undefined],
  ] as const)('%s', (_what, family, address, iface) => {
    expect(interfaceFor(family, address, routes, addresses)).toBe(iface);
  });

  it.each([
    ['IPv4', '198.51.100.200', '198.51.100.200/32'],
    ['IPv6', '2001:db8::10', '2001:db8::10/128'],
  ] as const)('follows the routes, not the connected route its own %s advertisement made', (family, address, hostPrefix) => {
    // advertised on ether9 before; the network's route now leads elsewhere
    const own: RouterEntry = { '.id': '*9', 'dst-address': hostPrefix, gateway: 'ether9', distance: '0', active: 'true', dynamic: 'true', connect: 'true' };
    expect(interfaceFor(family, address, [...routes, own], addresses)).toBe(family === 'IPv4' ? 'vlan20' : 'bridge');
    // a static host route someone set up still counts
    const stat: RouterEntry = { '.id': '*8', 'dst-address': hostPrefix, gateway: 'vlan99', distance: '1', active: 'true' };
    expect(interfaceFor(family, address, [...routes, own, stat], addresses)).toBe('vlan99');
  });
});

import { describe, expect, it } from 'vitest';
import type { IPFamily } from '../ip/index.js';
import { applyPlanToState } from '../router/apply.js';
import { connectedNetworks } from '../router/hairpin.js';
import { baseRouter, NET, webService } from '../router/test-support.js';
import type { RouterState } from '../router/state.js';
import { createTracer } from '../../test/tracer/index.js';
import { planOwner } from './router-program.js';

/** `web` (no SNAT, so only the hairpin rules can rewrite a source) programmed on the home-lab router. */
function programmed(): RouterState {
  const router = baseRouter();
  const owner = { uid: webService().uid, service: webService({ snatEnabled: false }), adverts: [] };
  const { ops } = planOwner(owner, router.menus);
  return applyPlanToState(router, ops);
}

const ROUTER_ON = { IPv4: { bridge: '10.0.0.1', ether1: '192.0.2.1' }, IPv6: { bridge: 'fd00::1', ether1: '2001:db8:ffff::1' } } as const;

describe('hairpin: a client in the endpoints\' network connecting to the LB address', () => {
  const state = programmed();
  const tracer = createTracer(state);

  it.each<[string, IPFamily, string, 'bridge' | 'ether1', 'router' | 'client']>([
    ['a pod beside the endpoints (same LAN)', 'IPv4', NET.IPv4.other, 'bridge', 'router'],
    ['an endpoint calling its own Service', 'IPv4', NET.IPv4.ready[1], 'bridge', 'router'],
    ['an IPv6 pod beside the endpoints', 'IPv6', NET.IPv6.other, 'bridge', 'router'],
    ['a client on the internet keeps its address', 'IPv4', NET.IPv4.internet, 'ether1', 'client'],
    ['a client in the WAN network of the LB address keeps its address', 'IPv4', '192.0.2.77', 'ether1', 'client'],
    ['an IPv6 client on the internet keeps its address', 'IPv6', NET.IPv6.internet, 'ether1', 'client'],
  ])('%s', (_story, family, client, inInterface, source) => {
    for (let port = 40000; port < 40030; port++) {
      const t = tracer.trace({ srcAddress: client, srcPort: port, dstAddress: NET[family].lb, dstPort: 80, protocol: 'tcp', inInterface });
      if (!t.ok) throw new Error(t.message);
      expect(t.verdict).toBe('accept');
      expect(NET[family].ready.map((address) => `${address}:8080`)).toContain(`${t.dstAddress}:${t.dstPort ?? ''}`);
      expect(t.outInterface).toBe('bridge');
      // The endpoint answers whoever the source is now: the router (which un-NATs the reply
      // back to the client) or, from outside the network, the client through the router.
      expect(t.srcAddress).toBe(source === 'router' ? ROUTER_ON[family].bridge : client);
    }
  });

  it('plans one rule per connected network, and an unchanged router needs nothing more', () => {
    expect(connectedNetworks('IPv4', state.menus['/ip/address'] ?? [])).toEqual(['10.0.0.0/24', '192.0.2.0/24']);
    expect(connectedNetworks('IPv6', state.menus['/ipv6/address'] ?? [])).toEqual(['2001:db8:ffff::/64', 'fd00::/64']);
    const hairpins = (state.menus['/ip/firewall/nat'] ?? []).filter((e) => (e.comment ?? '').startsWith('mikrolb:default:global:nat-srcnat-hairpin:'));
    expect(hairpins.map((e) => e['src-address'])).toEqual(['10.0.0.0/24', '192.0.2.0/24']);
    const again = planOwner({ uid: webService().uid, service: webService({ snatEnabled: false }), adverts: [] }, state.menus);
    expect(again.ops).toEqual([]);
  });

  it('a narrowed read (without the router\'s own addresses) keeps the hairpin rules as they are', () => {
    const narrowed = { ...state.menus, '/ip/address': [], '/ipv6/address': [] };
    const owner = { uid: webService().uid, service: webService({ snatEnabled: false }), adverts: [] };
    expect(planOwner(owner, narrowed, 'own').ops).toEqual([]);
  });

  it('a narrowed read removes a hairpin rule two racing program runs both added, keeping one', () => {
    const nat = state.menus['/ip/firewall/nat'] ?? [];
    const hairpin = nat.find((e) => (e.comment ?? '').includes(':nat-srcnat-hairpin:10.0.0.0/24'));
    if (hairpin === undefined) throw new Error('no hairpin rule for 10.0.0.0/24');
    const raced = { ...state.menus, '/ip/address': [], '/ipv6/address': [], '/ip/firewall/nat': [...nat, { ...hairpin, '.id': '*DUP' }] };
    const owner = { uid: webService().uid, service: webService({ snatEnabled: false }), adverts: [] };
    const { ops } = planOwner(owner, raced, 'own');
    expect(ops).toEqual([{ op: 'remove', menu: '/ip/firewall/nat', ids: [expect.stringMatching(/^\*/)] }]);
    const after = applyPlanToState({ version: '7', menus: raced }, ops);
    expect(planOwner(owner, after.menus, 'own').ops).toEqual([]);
  });
});

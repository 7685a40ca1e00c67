import { describe, expect, it } from 'vitest';
import type { IPFamily } from '../ip/index.js';
import type { RouterState } from './state.js';
import { createTracer } from '../../test/tracer/index.js';
import type { ServiceProgram } from './layout.js';
import { isOrderedMenu } from './menus.js';
import { plan } from './planner.js';
import { scopes } from './names.js';
import type { Op } from './ops.js';
import { baseRouter, clients, converge, desiredFor, endpointsAt, FAMILIES, NET, opCounts, serviceDesired, spread, webService } from './test-support.js';

const web = webService();
const ready = (positions: number[]) => webService({ endpoints: endpointsAt(positions) });
const withPorts = (ports: ServiceProgram['ports']) => webService({ ports });
const HTTP = { protocol: 'tcp', port: 80, targetPort: 8080 } as const;
const DNS = { protocol: 'udp', port: 53, targetPort: 5353 } as const;

/** Programs `svc` on a fresh router (globals included), as a first `program` would. */
function programmed(svc: ServiceProgram): RouterState {
  return converge(baseRouter(), desiredFor([svc]), scopes.everything).state;
}

/** What `program` does for one Service: plan only that Service's entries. */
function reprogram(state: RouterState, svc: ServiceProgram): { ops: Op[]; state: RouterState } {
  return converge(state, serviceDesired(svc), scopes.service(svc.uid));
}

/** Every port of `svc` splits 900 connections evenly over its ready endpoints; dropped ports are refused. */
function expectTraffic(state: RouterState, family: IPFamily, svc: ServiceProgram, dropped: ServiceProgram['ports']): void {
  const tracer = createTracer(state);
  const readyAddresses = svc.endpoints.filter((e) => e.ready && e.family === family).map((e) => e.address);
  for (const port of svc.ports) {
    const counts = spread(tracer, clients(family, port.protocol, port.port, 900, port.port));
    const expected = svc.lbEnabled ? readyAddresses.map((address) => `${address}:${port.targetPort}`) : [`${NET[family].lb}:${port.port}`];
    expect(Object.keys(counts).sort(), `${family} ${port.protocol}/${port.port}`).toEqual(expected.sort());
    for (const count of Object.values(counts)) expect(Math.abs(count - 900 / expected.length)).toBeLessThanOrEqual(900 / expected.length / 20);
  }
  for (const port of dropped) {
    expect(spread(tracer, clients(family, port.protocol, port.port, 10, 1))).toEqual({ reject: 10 });
  }
}

/** Per menu and chain, the entries in order (address menus: as a set); where a chain sits in the menu does not matter. */
function layoutOf(state: RouterState): Record<string, string[]> {
  const layout: Record<string, string[]> = {};
  for (const [menu, entries] of Object.entries(state.menus)) {
    for (const entry of entries) {
      const key = `${menu} ${entry.chain ?? ''}`;
      layout[key] = [...(layout[key] ?? []), JSON.stringify({ ...entry, '.id': undefined })];
    }
    if (!isOrderedMenu(menu)) for (const key of Object.keys(layout).filter((k) => k.startsWith(`${menu} `))) layout[key]?.sort();
  }
  return layout;
}

const none = { add: 0, set: 0, remove: 0, move: 0 };

/** Op counts are for both families; each family's plan is exactly half. */
describe.each([
  { story: 'nothing changed', from: web, to: web, counts: none },
  { story: 'scaled 3 → 1, the first endpoint stays', from: web, to: ready([0]), counts: { ...none, remove: 4 } },
  { story: 'scaled 1 → 3', from: ready([0]), to: ready([0, 1, 2]), counts: { ...none, add: 12 } },
  { story: 'scaled 3 → 1, the last endpoint stays (slot 0 re-targeted)', from: web, to: ready([2]), counts: { ...none, remove: 4, set: 4 } },
  { story: 'one endpoint of three goes away', from: ready([0, 1, 2]), to: ready([0, 2]), counts: { ...none, remove: 4, set: 4 } },
  {
    story: 'the starting endpoint becomes ready (a fourth slot)',
    from: web,
    to: webService({ endpoints: web.endpoints.map((e) => ({ ...e, ready: true })) }),
    counts: { ...none, add: 4 },
  },
  { story: 'load-balancer-enabled switched off', from: web, to: webService({ lbEnabled: false }), counts: { ...none, remove: 4 } },
  { story: 'load-balancer-enabled switched on again', from: webService({ lbEnabled: false }), to: web, counts: { ...none, add: 20 } },
  { story: 'snat-enabled switched off', from: web, to: webService({ snatEnabled: false }), counts: { ...none, remove: 4 } },
  { story: 'the target port changes', from: web, to: withPorts([{ ...HTTP, targetPort: 9090 }, DNS]), counts: { ...none, set: 6 } },
  { story: 'the service port changes', from: web, to: withPorts([{ ...HTTP, port: 8000 }, DNS]), counts: { ...none, remove: 2, add: 8 } },
  { story: 'a port is added', from: web, to: withPorts([HTTP, DNS, { protocol: 'tcp', port: 443, targetPort: 8443 }]), counts: { ...none, add: 8 } },
  { story: 'a port is removed', from: web, to: withPorts([HTTP]), counts: { ...none, remove: 2 } },
])('$story', ({ from, to, counts }) => {
  const before = programmed(from);
  const { ops, state } = reprogram(before, to);

  it('is a minimal plan', () => {
    expect(opCounts(ops)).toEqual(counts);
  });

  it('converges: planning again changes nothing', () => {
    expect(reprogram(state, to).ops).toEqual([]);
    expect(converge(state, desiredFor([to]), scopes.everything).ops).toEqual([]);
  });

  it('runs the same rules, chain by chain, as programming from scratch', () => {
    expect(layoutOf(state)).toEqual(layoutOf(programmed(to)));
  });

  it.each(FAMILIES)('%s traffic follows the new intent', (family) => {
    const dropped = from.ports.filter((p) => !to.ports.some((q) => q.protocol === p.protocol && q.port === p.port));
    expectTraffic(state, family, to, to.lbEnabled ? dropped : []);
  });
});

describe('plans compare wire strings the way the router prints them', () => {
  const state = programmed(web);
  const printed: RouterState = {
    ...state,
    menus: Object.fromEntries(Object.entries(state.menus).map(([menu, entries]) => [
      menu,
      entries.map((entry) => (menu.includes('/firewall/') && menu !== '/ip/firewall/address-list' && menu !== '/ipv6/firewall/address-list'
        ? { ...entry, log: 'false', 'log-prefix': '', disabled: 'false', invalid: 'false', dynamic: 'false', bytes: '1234', packets: '12' }
        : { ...entry, disabled: 'false', dynamic: 'false' })),
    ])),
  };

  it('finds nothing to do when defaults and counters are printed', () => {
    expect(converge(printed, desiredFor([web]), scopes.everything).ops).toEqual([]);
  });

  // What RouterOS 7.22 prints on every address beyond what was written: vrf (7.21+; not writable
  // on /ip/address), and on IPv6 from-pool (empty) and auto-link-local (7.18+).
  const v722: RouterState = {
    ...printed,
    menus: {
      ...printed.menus,
      '/ip/address': (printed.menus['/ip/address'] ?? []).map((entry) => ({ ...entry, vrf: 'main' })),
      '/ipv6/address': (printed.menus['/ipv6/address'] ?? []).map((entry) => ({ ...entry, 'from-pool': '', 'auto-link-local': 'true', vrf: 'main' })),
    },
  };

  it('finds nothing to do on the properties a newer router prints on every address', () => {
    expect(converge(v722, desiredFor([web]), scopes.everything).ops).toEqual([]);
  });

  // RouterOS 7.23 added from-pool-policy to IPv6 addresses, default `recommended`
  // (community.routeros _api_data.py, PR #469).
  const v723: RouterState = {
    ...v722,
    menus: { ...v722.menus, '/ipv6/address': (v722.menus['/ipv6/address'] ?? []).map((entry) => ({ ...entry, 'from-pool-policy': 'recommended' })) },
  };

  it('finds nothing to do on the from-pool-policy RouterOS 7.23 prints on every IPv6 address', () => {
    expect(converge(v723, desiredFor([web]), scopes.everything).ops).toEqual([]);
  });

  const tamper = (change: Record<string, string>): RouterState => ({ ...v722, menus: { ...v722.menus, '/ipv6/address': (v722.menus['/ipv6/address'] ?? []).map((entry) =>
    entry.comment?.startsWith('mikrolb:') === true ? { ...entry, ...change } : entry) } });

  it('still puts back an advertisement changed by hand: auto-link-local turned off, or the address taken from a pool', () => {
    expect(converge(tamper({ 'auto-link-local': 'false' }), desiredFor([web]), scopes.everything).ops).toEqual([
      { op: 'set', menu: '/ipv6/address', id: expect.any(String), changes: { 'auto-link-local': 'true' } },
    ]);
    expect(converge(tamper({ 'from-pool': 'pool1' }), desiredFor([web]), scopes.everything).ops.map((op) => `${op.op} ${op.menu}`)).toEqual([
      'remove /ipv6/address', 'add /ipv6/address',
    ]);
  });

  it('puts back a from-pool-policy changed by hand (RouterOS 7.23)', () => {
    const changed = { ...v723, menus: { ...v723.menus, '/ipv6/address': (v723.menus['/ipv6/address'] ?? []).map((entry) =>
      entry.comment?.startsWith('mikrolb:') === true ? { ...entry, 'from-pool-policy': 'without-acquire' } : entry) } };
    expect(converge(changed, desiredFor([web]), scopes.everything).ops).toEqual([
      { op: 'set', menu: '/ipv6/address', id: expect.any(String), changes: { 'from-pool-policy': 'recommended' } },
    ]);
  });
});

describe('a property the router prints that MikroLB never writes and knows no default of', () => {
  // Each release that starts printing a new default (7.18 auto-link-local, 7.21/7.22 vrf, 7.23
  // from-pool-policy) must not make every run remove and re-add our entries; a hand-added
  // matcher (it narrows what our rule matches) is still reverted.
  const state = programmed(web);
  const ourDnat = (entry: Record<string, string>): boolean => entry.comment?.includes(':dnat:tcp/80:') === true;
  const withOn = (menu: string, change: Record<string, string>, which: (entry: Record<string, string>) => boolean): RouterState => ({
    ...state,
    menus: { ...state.menus, [menu]: (state.menus[menu] ?? []).map((entry) => (which(entry) ? { ...entry, ...change } : entry)) },
  });
  const ours = (entry: Record<string, string>): boolean => entry.comment?.startsWith('mikrolb:') === true;

  it.each(['/ip/firewall/nat', '/ipv6/firewall/nat', '/ip/firewall/filter', '/ipv6/firewall/mangle'])('plans nothing for a new flag printed on every rule of %s', (menu) => {
    expect(converge(withOn(menu, { 'some-new-flag': 'yes' }, () => true), desiredFor([web]), scopes.everything).ops).toEqual([]);
  });

  it.each(['/ip/address', '/ipv6/address', '/ip/firewall/address-list', '/ipv6/firewall/address-list'])('plans nothing for a new property printed on every entry of %s', (menu) => {
    expect(converge(withOn(menu, { 'vrf-like': 'main' }, () => true), desiredFor([web]), scopes.everything).ops).toEqual([]);
  });

  it('still sets back what differs beside it', () => {
    const changed = withOn('/ip/firewall/nat', { 'some-new-flag': 'yes', 'to-ports': '9999' }, ourDnat);
    expect(converge(changed, desiredFor([web]), scopes.everything).ops).toEqual(
      (state.menus['/ip/firewall/nat'] ?? []).filter(ourDnat).map((entry) => ({ op: 'set', menu: '/ip/firewall/nat', id: entry['.id'], changes: { 'to-ports': '8080' } })),
    );
  });

  /** Changes `which` entries of `menu`, plans, and expects exactly those removed and added again, and the result converged. */
  function expectReplaced(menu: string, change: Record<string, string>, which: (entry: Record<string, string>) => boolean): void {
    const tampered = (state.menus[menu] ?? []).filter(which).map((entry) => entry['.id']);
    const { ops, state: after } = converge(withOn(menu, change, which), desiredFor([web]), scopes.everything);
    expect(tampered.length).toBeGreaterThan(0);
    expect(ops.flatMap((op) => (op.op === 'remove' ? op.ids : [])).sort()).toEqual(tampered.sort());
    expect(ops.filter((op) => op.op === 'add')).toHaveLength(tampered.length);
    expect(ops.every((op) => op.menu === menu)).toBe(true);
    expect((after.menus[menu] ?? []).filter((entry) => Object.keys(change).some((property) => property in entry))).toEqual([]);
    expect(converge(after, desiredFor([web]), scopes.everything).ops).toEqual([]);
  }

  it.each<{ menu: string; change: Record<string, string> }>([
    { menu: '/ip/firewall/nat', change: { 'in-interface': 'bridge' } },
    { menu: '/ipv6/firewall/nat', change: { 'src-address-type': 'local' } },
    { menu: '/ip/firewall/nat', change: { 'tcp-flags': 'syn' } },
  ])('still replaces a rule narrowed by hand: $change', ({ menu, change }) => {
    expectReplaced(menu, change, ourDnat);
  });

  it('still replaces an address list entry given a timeout by hand (it would expire)', () => {
    const first = (state.menus['/ip/firewall/address-list'] ?? []).find(ours);
    expectReplaced('/ip/firewall/address-list', { timeout: '1d' }, (entry) => entry === first);
  });
});

describe('an address whose owner changes (a Service starting to share it)', () => {
  const entry = (id: string, owner: string, extra: Record<string, string> = {}) => ({ '.id': id, address: '192.0.2.80/32', interface: 'ether1', comment: `mikrolb:default:svc=${owner}:adv:192.0.2.80`, ...extra });
  const desired = [{ address: '192.0.2.80/32', interface: 'ether1', comment: 'mikrolb:default:svc=ip-192.0.2.80:adv:192.0.2.80' }];
  const both = () => true;

  it('keeps the entry and sets its tag: the router refuses a second entry for the address, and the address never leaves it', () => {
    expect(plan('/ip/address', [entry('*7', 'svc-uid')], desired, both)).toEqual([
      { op: 'set', menu: '/ip/address', id: '*7', changes: { comment: 'mikrolb:default:svc=ip-192.0.2.80:adv:192.0.2.80' } },
    ]);
  });

  it('removes it first and adds the new one when it cannot be set (a property to drop has no default)', () => {
    const v6 = { address: '2001:db8::80/128', interface: 'ether1', comment: 'mikrolb:default:svc=ip-2001:db8::80:adv:2001:db8::80' };
    const held = { '.id': '*7', ...v6, comment: 'mikrolb:default:svc=svc-uid:adv:2001:db8::80', 'from-pool': 'pool1' };
    const ops = plan('/ipv6/address', [held], [v6], both);
    expect(ops.map((op) => op.op)).toEqual(['remove', 'add']);
  });

  it('keeps and sets it beside a property the router prints that changes nothing and has no known default', () => {
    expect(plan('/ip/address', [entry('*7', 'svc-uid', { 'x-unknown': 'printed-by-a-newer-release' })], desired, both)).toEqual([
      { op: 'set', menu: '/ip/address', id: '*7', changes: { comment: 'mikrolb:default:svc=ip-192.0.2.80:adv:192.0.2.80' } },
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { parseCommand } from '../routeros/sim/command.js';
import { runMenuCommand } from '../routeros/sim/commands.js';
import { MENUS } from '../routeros/sim/menus.js';
import { printedItems } from '../routeros/sim/print.js';
import { storeFromState, type RouterStore } from '../routeros/sim/store.js';
import { versionAtLeast } from '../routeros/sim/menu-types.js';
import type { RouterState } from './state.js';
import { applyPlanToState } from './apply.js';
import { connectedNetworks, hairpinEntries } from './hairpin.js';
import { mergeDesired } from './menus.js';
import { scopes } from './names.js';
import type { Op } from './ops.js';
import { planState } from './planner.js';
import { ALL_MENUS, baseRouter, desiredFor, endpointsAt, FAMILIES, routerWithForeignRules, webService } from './test-support.js';

/**
 * The plans, sent as API sentences to the protocol-faithful simulator: every value is one the
 * router accepts, applyPlanToState agrees with the router about the result, and what the
 * router then prints (defaults, counters, derived values) plans to nothing.
 */

const attrs = (props: Readonly<Record<string, string>>): string[] => Object.entries(props).map(([key, value]) => `=${key}=${value}`);

function sentence(op: Op): string[] {
  switch (op.op) {
    case 'add':
      return [`${op.menu}/add`, ...attrs(op.entry), ...(op.placeBefore === undefined ? [] : [`=place-before=${op.placeBefore}`])];
    case 'set':
      return [`${op.menu}/set`, `=.id=${op.id}`, ...attrs(op.changes)];
    case 'remove':
      return [`${op.menu}/remove`, `=.id=${op.ids.join(',')}`];
    case 'move':
      return [`${op.menu}/move`, `=numbers=${op.ids.join(',')}`, ...(op.destination === undefined ? [] : [`=destination=${op.destination}`])];
  }
}

/** Sends the ops; returns the traps the router answered with (none expected). */
function send(store: RouterStore, ops: readonly Op[]): string[] {
  return ops.flatMap((op) => runMenuCommand(parseCommand(sentence(op)), store, 'full')
    .filter(([kind]) => kind === '!trap')
    .map((words) => `${op.op} ${op.menu}: ${words.join(' ')}`));
}

/** The router's state as `print` shows it, for the menus the layout uses. */
function printed(store: RouterStore): RouterState {
  const menus: RouterState['menus'] = {};
  for (const menu of ALL_MENUS) {
    const spec = MENUS.get(menu);
    if (spec !== undefined) menus[menu] = printedItems(spec, store).map((item) => Object.fromEntries(item));
  }
  return { version: store.version, menus };
}

function seededStore(state: RouterState): RouterStore {
  const seeded = storeFromState(state);
  if (!seeded.ok) throw new Error(seeded.message);
  return seeded.store;
}

const steps = [
  { story: 'first programming', svc: webService() },
  { story: 'scaled to one', svc: webService({ endpoints: endpointsAt([1]) }) },
  { story: 'scaled back to three', svc: webService() },
  { story: 'load balancer off', svc: webService({ lbEnabled: false }) },
  { story: 'load balancer on, ports changed', svc: webService({ ports: [{ protocol: 'tcp', port: 8443, targetPort: 443 }] }) },
  { story: 'source ranges set (one a host)', svc: webService({ sourceRanges: [{ family: 'IPv4', range: '198.51.100.0/24' }, { family: 'IPv4', range: '203.0.113.7' }, { family: 'IPv6', range: '2001:db8:7::/48' }] }) },
  { story: 'source ranges changed, IPv4 only', svc: webService({ sourceRanges: [{ family: 'IPv4', range: '198.51.101.0/24' }] }) },
  { story: 'ClientIP affinity on, ranges lifted', svc: webService({ sessionAffinity: 'ClientIP' }) },
  { story: 'ClientIP affinity, scaled to two', svc: webService({ sessionAffinity: 'ClientIP', endpoints: endpointsAt([0, 2]) }) },
  { story: 'ClientIP affinity off', svc: webService() },
];

describe('plans executed by the router simulator', () => {
  const store = seededStore(baseRouter());
  let model = baseRouter();

  it.each(steps)('$story: accepted, modelled faithfully, and stable once printed', ({ svc }) => {
    const ops = planState(printed(store), desiredFor([svc]), scopes.everything, ALL_MENUS);
    expect(send(store, ops)).toEqual([]);
    model = applyPlanToState(model, planState(model, desiredFor([svc]), scopes.everything, ALL_MENUS));
    // Ids may differ: a router's id counter survives removals, a RouterState does not record it.
    const withoutIds = (state: RouterState, menu: string) => (state.menus[menu] ?? []).map((entry) => ({ ...entry, '.id': undefined }));
    for (const menu of ALL_MENUS) expect(withoutIds(store.dump(), menu), menu).toEqual(withoutIds(model, menu));
    expect(planState(printed(store), desiredFor([svc]), scopes.everything, ALL_MENUS)).toEqual([]);
  });
});

describe('addresses the router prints in another text form than it was given', () => {
  // RFC 5952 lets an IPv4-mapped address be written `::ffff:192.0.2.77` (MikroLB's form) or
  // `::ffff:c000:24d` (the router's): the same address, so once written it is left alone.
  const mapped = webService({
    lbAddresses: [{ family: 'IPv6', address: '::ffff:192.0.2.77' }],
    snatAddresses: [{ family: 'IPv6', address: '::ffff:192.0.2.78' }],
    endpoints: [{ family: 'IPv6', address: '::ffff:10.0.0.5', ready: true }, { family: 'IPv6', address: 'fd00::6', ready: true }],
  });

  it('IPv4-mapped IPv6 addresses: accepted, and nothing to change on the next run', () => {
    const store = seededStore(baseRouter());
    expect(send(store, planState(printed(store), desiredFor([mapped]), scopes.everything, ALL_MENUS))).toEqual([]);
    expect(printed(store).menus['/ipv6/address']?.map((e) => e.address)).toContain('::ffff:c000:24d/128');
    expect(planState(printed(store), desiredFor([mapped]), scopes.everything, ALL_MENUS)).toEqual([]);
  });

  it('another address is still a change', () => {
    const store = seededStore(baseRouter());
    send(store, planState(printed(store), desiredFor([mapped]), scopes.everything, ALL_MENUS));
    const moved = { ...mapped, endpoints: [{ family: 'IPv6' as const, address: '::ffff:10.0.0.9', ready: true }, { family: 'IPv6' as const, address: 'fd00::6', ready: true }] };
    const ops = planState(printed(store), desiredFor([moved]), scopes.everything, ALL_MENUS);
    expect(ops.filter((op) => op.op === 'set').map((op) => op.op === 'set' ? Object.values(op.changes) : [])).toContainEqual(['::ffff:10.0.0.9']);
  });
});

describe('a host address printed with its /128', () => {
  // A router may print an IPv6 host given as `2001:db8::7` as `2001:db8::7/128` (one address
  // either way): what was written must not be written again on every run.
  const v6 = webService({
    lbAddresses: [{ family: 'IPv6', address: '2001:db8:5::7' }],
    endpoints: [{ family: 'IPv6', address: 'fd00::6', ready: true }, { family: 'IPv6', address: 'fd00::7', ready: true }],
    sourceRanges: [{ family: 'IPv6', range: '2001:db8:9::1' }],
  });
  const withPrefix = (state: RouterState): RouterState => ({
    ...state,
    menus: Object.fromEntries(Object.entries(state.menus).map(([menu, entries]) => [menu, menu.startsWith('/ipv6/firewall/')
      ? entries.map((e) => Object.fromEntries(Object.entries(e).map(([k, v]) =>
        [k, ['address', 'dst-address', 'src-address'].includes(k) && v.includes(':') && !v.includes('/') ? `${v}/128` : v])))
      : entries])),
  });

  it('plans nothing once written, and another host is still a change', () => {
    const store = seededStore(baseRouter());
    expect(send(store, planState(printed(store), desiredFor([v6]), scopes.everything, ALL_MENUS))).toEqual([]);
    const shown = withPrefix(printed(store));
    expect(Object.values(shown.menus).flat().some((e) => e.address === '2001:db8:5::7/128' || e['dst-address'] === '2001:db8:5::7/128')).toBe(true);
    expect(planState(shown, desiredFor([v6]), scopes.everything, ALL_MENUS)).toEqual([]);
    const moved = { ...v6, sourceRanges: [{ family: 'IPv6' as const, range: '2001:db8:9::2' }] };
    expect(planState(shown, desiredFor([moved]), scopes.everything, ALL_MENUS).length).toBeGreaterThan(0);
  });
});

describe('a router that prints more on its addresses (RouterOS 7.22)', () => {
  // 7.22 prints vrf=main on every address (7.21 for IPv4), and from-pool= and auto-link-local=true
  // on every IPv6 address: none of them may turn each run into removing and re-adding the
  // advertisements (the address would leave the router between the two).
  it('plans nothing once written', () => {
    const store = seededStore({ ...baseRouter(), version: '7.22' });
    expect(send(store, planState(printed(store), desiredFor([webService()]), scopes.everything, ALL_MENUS))).toEqual([]);
    expect(printed(store).menus['/ipv6/address']?.at(-1)).toMatchObject({ 'from-pool': '', 'auto-link-local': 'true', vrf: 'main' });
    expect(planState(printed(store), desiredFor([webService()]), scopes.everything, ALL_MENUS)).toEqual([]);
  });
});

describe('a router with fasttrack (its builtin dummy rules first in filter forward and mangle)', () => {
  // RouterOS shows a dynamic `special dummy rule to show fasttrack counters` at the top of
  // filter forward (and mangle prerouting ...) and refuses to move anything before it
  // (`failure: cannot move builtin`): MikroLB's global rules go first after it.
  const dummy = (id: string, chain: string): Record<string, string> => ({
    '.id': id, chain, action: 'passthrough', dynamic: 'true', comment: 'special dummy rule to show fasttrack counters',
  });
  const fasttrack = (): RouterState => {
    const base = routerWithForeignRules();
    return {
      ...base,
      menus: {
        ...base.menus,
        '/ip/firewall/filter': [dummy('*A5', 'forward'), { '.id': '*A6', chain: 'forward', action: 'fasttrack-connection', 'connection-state': 'established,related' }, ...(base.menus['/ip/firewall/filter'] ?? [])],
        '/ip/firewall/mangle': [dummy('*A7', 'prerouting'), dummy('*A8', 'forward')],
      },
    };
  };

  it('programs without a refusal, its rules first after the builtin ones, and plans nothing on the next run', () => {
    const store = seededStore(fasttrack());
    expect(send(store, planState(printed(store), desiredFor([webService()]), scopes.everything, ALL_MENUS))).toEqual([]);
    const forward = store.dump().menus['/ip/firewall/filter']?.filter((e) => e.chain === 'forward').map((e) => e.comment ?? e.action);
    expect(forward?.slice(0, 3)).toEqual(['special dummy rule to show fasttrack counters', 'mikrolb:default:global:filter-forward-accept-lb', 'fasttrack-connection']);
    expect(planState(printed(store), desiredFor([webService()]), scopes.everything, ALL_MENUS)).toEqual([]);
  });
});

describe('every kind of entry MikroLB writes, on every RouterOS release the simulator models', () => {
  // What a router prints beyond what was written (defaults, counters, derived and read-only
  // values, properties newer releases add) must never turn a run into writes: a freshly
  // printed entry plans nothing, while a hand edit of what MikroLB decides is put back with a
  // `set`, not a remove and add.
  const VERSIONS = ['7.12', '7.15.3', '7.17.2', '7.18', '7.19.1', '7.20.4', '7.21', '7.22', '7.23'];
  const ranged = webService({ sourceRanges: [{ family: 'IPv4', range: '198.51.100.0/24' }, { family: 'IPv6', range: '2001:db8:7::/48' }] });
  const sticky = webService({ uid: '0b7e5d1c-2a3f-4e6d-8c9b-1a2b3c4d5e6f', name: 'sticky', sessionAffinity: 'ClientIP', lbAddresses: [{ family: 'IPv4', address: '192.0.2.17' }, { family: 'IPv6', address: '2001:db8:ffff::17' }] });
  const desired = (state: RouterState) => mergeDesired(desiredFor([ranged, sticky]), ...FAMILIES.map((family) =>
    hairpinEntries(family, connectedNetworks(family, state.menus[family === 'IPv4' ? '/ip/address' : '/ipv6/address'] ?? []))));
  const plan = (store: RouterStore): Op[] => planState(printed(store), desired(printed(store)), scopes.everything, ALL_MENUS);

  function programmed(version: string): RouterStore {
    const store = seededStore({ ...baseRouter(), version });
    expect(send(store, plan(store))).toEqual([]);
    return store;
  }

  /** Our entry of `menu` whose comment ends with `key`. */
  function ours(store: RouterStore, menu: string, key: string): Record<string, string> {
    const entry = printed(store).menus[menu]?.find((e) => e.comment?.startsWith('mikrolb:') === true && e.comment.endsWith(key));
    if (entry === undefined) throw new Error(`no entry ${key} in ${menu}`);
    return entry;
  }

  it.each(VERSIONS)('%s: every kind is written, and plans nothing once printed', (version) => {
    const store = programmed(version);
    const shown = printed(store);
    const actions = new Set(Object.entries(shown.menus).flatMap(([menu, entries]) => menu.includes('/firewall/') ? entries.map((e) => `${menu.split('/')[1]} ${menu.split('/').pop()} ${e.action}`) : []));
    for (const family of ['ip', 'ipv6']) {
      for (const kind of ['filter accept', 'filter jump', 'filter reject', 'filter drop', 'mangle mark-connection', 'nat jump', 'nat return', 'nat dst-nat', 'nat src-nat', 'nat masquerade']) {
        expect(actions, `${family} ${kind}`).toContain(`${family} ${kind}`);
      }
      expect(shown.menus[`/${family}/firewall/address-list`]?.[0]).toHaveProperty('creation-time');
    }
    expect(ours(store, '/ipv6/address', 'adv:2001:db8:ffff::15')).toMatchObject({ 'from-pool': '' });
    expect(plan(store)).toEqual([]);
  });

  const edits: { menu: string; key: string; change: Record<string, string>; back: Record<string, string> }[] = [
    { menu: '/ip/firewall/nat', key: 'dnat:tcp/80:0', change: { 'to-ports': '9999' }, back: { 'to-ports': '8080' } },
    { menu: '/ipv6/firewall/nat', key: 'dnat:tcp/80:c3', change: { 'per-connection-classifier': 'src-address:8/3' }, back: { 'per-connection-classifier': 'src-address:32/3' } },
    { menu: '/ip/firewall/nat', key: ':snat', change: { 'to-addresses': '192.0.2.99' }, back: { 'to-addresses': '192.0.2.16' } },
    { menu: '/ip/firewall/nat', key: 'nat-srcnat-hairpin:10.0.0.0/24', change: { 'src-address': '10.9.0.0/24' }, back: { 'src-address': '10.0.0.0/24' } },
    { menu: '/ipv6/firewall/nat', key: 'source-gate', change: { 'src-address-list': 'other' }, back: { 'src-address-list': `!mikrolb-src-6f1c2a9e4b7d` } },
    { menu: '/ip/firewall/filter', key: 'filter-input-reject-tcp', change: { 'reject-with': 'icmp-host-unreachable' }, back: { 'reject-with': 'tcp-reset' } },
    { menu: '/ip/firewall/filter', key: 'filter-input-accept-icmp', change: { log: 'yes', 'log-prefix': 'x' }, back: { log: 'false', 'log-prefix': '' } },
    { menu: '/ipv6/firewall/filter', key: 'source-drop:2001:db8:ffff::15:tcp/80', change: { disabled: 'yes' }, back: { disabled: 'false' } },
    { menu: '/ip/firewall/mangle', key: 'mangle-prerouting-mark-lb', change: { passthrough: 'no' }, back: { passthrough: 'true' } },
    { menu: '/ipv6/firewall/address-list', key: 'lb-list:2001:db8:ffff::15', change: { list: 'elsewhere' }, back: { list: 'mikrolb-lb' } },
    { menu: '/ip/address', key: 'adv:192.0.2.15', change: { interface: 'bridge' }, back: { interface: 'ether1' } },
    { menu: '/ipv6/address', key: 'adv:2001:db8:ffff::15', change: { advertise: 'yes' }, back: { advertise: 'false' } },
  ];

  it.each(VERSIONS)('%s: a hand edit of an entry is set back, and nothing else is written', (version) => {
    const store = programmed(version);
    const extra = versionAtLeast(version, 7, 18) ? [{ menu: '/ipv6/address', key: 'adv:2001:db8:ffff::17', change: { 'auto-link-local': 'no' }, back: { 'auto-link-local': 'true' } }] : [];
    for (const { menu, key, change, back } of [...edits, ...extra]) {
      const id = ours(store, menu, key)['.id'] ?? '';
      expect(send(store, [{ op: 'set', menu, id, changes: change }]), key).toEqual([]);
      const ops = plan(store);
      expect(ops, key).toEqual([{ op: 'set', menu, id, changes: back }]);
      expect(send(store, ops)).toEqual([]);
      expect(plan(store), key).toEqual([]);
    }
  });

  it('a matcher added by hand to a rule has no default to go back to: the rule is replaced', () => {
    const store = programmed('7.22');
    const { '.id': id = '' } = ours(store, '/ip/firewall/nat', 'dnat:tcp/80:0');
    send(store, [{ op: 'set', menu: '/ip/firewall/nat', id, changes: { 'in-interface': 'bridge' } }]);
    expect(plan(store).map((op) => `${op.op} ${op.menu}`)).toEqual(['remove /ip/firewall/nat', 'add /ip/firewall/nat']);
  });
});

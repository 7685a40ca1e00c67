import { describe, expect, it } from 'vitest';
import type { RouterEntry, RouterState } from './state.js';
import { createTracer } from '../../test/tracer/index.js';
import { globalEntries } from './layout.js';
import { mergeDesired } from './menus.js';
import { ownerOf, scopes } from './names.js';
import type { Op } from './ops.js';
import { planState } from './planner.js';
import { ALL_MENUS, baseRouter, converge, desiredFor, endpointsAt, NET, opCounts, serviceDesired, webService } from './test-support.js';

/** Rules an operator had before MikroLB, some of whose comments merely mention it. */
const FOREIGN: Record<string, RouterEntry[]> = {
  '/ip/firewall/filter': [
    { '.id': '*101', chain: 'input', action: 'accept', 'connection-state': 'established,related', comment: 'my mikrolb notes' },
    { '.id': '*102', chain: 'input', action: 'drop', 'in-interface': 'ether1', comment: 'mikrolb-old' },
    { '.id': '*103', chain: 'forward', action: 'drop', 'in-interface': 'ether1', disabled: 'false' },
  ],
  '/ip/firewall/nat': [
    { '.id': '*111', chain: 'dstnat', action: 'dst-nat', protocol: 'tcp', 'dst-address': NET.IPv4.lb, 'dst-port': '80', 'to-addresses': '10.9.9.9', comment: 'mikrolb-old' },
    { '.id': '*112', chain: 'srcnat', action: 'masquerade', 'out-interface': 'ether1', comment: 'mikrolb:' },
    { '.id': '*113', chain: 'dstnat', action: 'dst-nat', protocol: 'tcp', 'dst-port': '2222', 'to-addresses': '10.0.0.99', comment: 'mikrolb:global' },
    { '.id': '*114', chain: 'mikrolb-lb', action: 'return', comment: 'MIKROLB:global:x' },
  ],
  '/ip/firewall/mangle': [
    { '.id': '*121', chain: 'prerouting', action: 'mark-connection', 'new-connection-mark': 'wan1', 'connection-mark': 'no-mark', 'in-interface': 'ether1', comment: 'xmikrolb:svc=a:b' },
  ],
  '/ip/firewall/address-list': [
    { '.id': '*131', list: 'blocklist', address: '203.0.113.66', comment: 'mikrolb-old' },
    { '.id': '*132', list: 'mikrolb-lb', address: '192.0.2.99', comment: 'added by hand: mikrolb' },
  ],
  '/ip/address': [{ '.id': '*141', address: '192.0.2.99/32', interface: 'ether1', comment: 'mikrolb-old' }],
  '/ipv6/firewall/nat': [{ '.id': '*151', chain: 'srcnat', action: 'masquerade', 'out-interface': 'ether1', comment: 'my mikrolb notes' }],
};

function seeded(): RouterState {
  const base = baseRouter();
  const menus = { ...base.menus };
  for (const [menu, entries] of Object.entries(FOREIGN)) menus[menu] = [...(menus[menu] ?? []), ...entries];
  return { ...base, menus };
}

const foreignIn = (state: RouterState) =>
  Object.fromEntries(Object.entries(state.menus).flatMap(([menu, entries]) => {
    const foreign = entries.filter((entry) => ownerOf(entry.comment) === undefined);
    return foreign.length > 0 ? [[menu, foreign]] : [];
  }));

/** Ids an op changes (a foreign id may serve as a place to put our entries before, nothing more). */
const changedIds = (ops: readonly Op[]) => ops.flatMap((op) => (op.op === 'set' ? [op.id] : op.op === 'add' ? [] : op.ids));

const web = webService();
const steps = [
  { story: 'first programming', svc: web },
  { story: 'scaled to one', svc: webService({ endpoints: endpointsAt([2]) }) },
  { story: 'scaled back to three', svc: web },
  { story: 'load balancer off', svc: webService({ lbEnabled: false }) },
  { story: 'load balancer on', svc: web },
  { story: 'ports changed', svc: webService({ ports: [{ protocol: 'tcp', port: 8000, targetPort: 8080 }] }) },
];

describe('foreign entries seeded beforehand', () => {
  const start = seeded();
  let state = start;
  const history = steps.map(({ story, svc }) => {
    state = converge(state, desiredFor([svc]), scopes.everything).state;
    return { story, state };
  });

  it.each(history)('are byte-identical, in the same order, after $story', ({ state: after }) => {
    expect(foreignIn(after)).toEqual(foreignIn(start));
  });

  it.each(history)('are never changed by a plan from the state after $story', ({ state: after }) => {
    const foreignIds = new Set(Object.values(FOREIGN).flat().map((entry) => entry['.id']));
    const ops = planState(after, desiredFor([web]), scopes.everything, ALL_MENUS);
    expect(changedIds(ops).filter((id) => foreignIds.has(id))).toEqual([]);
  });

  it.each(['input', 'forward', 'prerouting', 'dstnat', 'srcnat'])('puts our global rules first in %s', (chain) => {
    const after = history[0]?.state ?? start;
    for (const [menu, entries] of Object.entries(after.menus)) {
      const owners = entries.filter((entry) => entry.chain === chain).map((entry) => ownerOf(entry.comment)?.kind ?? 'foreign');
      const firstForeign = owners.indexOf('foreign');
      if (firstForeign >= 0) expect(owners.slice(firstForeign), `${menu} ${chain}`).not.toContain('global');
    }
  });

  it('keeps LB traffic away from a stale port forward and endpoint egress away from masquerade', () => {
    const tracer = createTracer(history[0]?.state ?? start);
    const inbound = tracer.trace({ srcAddress: '198.51.100.7', srcPort: 40000, dstAddress: NET.IPv4.lb, dstPort: 80, inInterface: 'ether1' });
    expect(inbound).toMatchObject({ ok: true, verdict: 'accept' });
    expect(NET.IPv4.ready).toContain(inbound.ok ? inbound.dstAddress : '');
    const outbound = tracer.trace({ srcAddress: NET.IPv4.ready[0] ?? '', srcPort: 40000, dstAddress: NET.IPv4.internet, dstPort: 443, inInterface: 'bridge' });
    expect(outbound).toMatchObject({ ok: true, verdict: 'accept', srcAddress: NET.IPv4.snat });
  });
});

describe('global jumps pushed down by rules added later', () => {
  const programmed = converge(baseRouter(), desiredFor([web]), scopes.everything).state;
  const nat = programmed.menus['/ip/firewall/nat'] ?? [];
  const pushedDown: RouterState = {
    ...programmed,
    menus: {
      ...programmed.menus,
      '/ip/firewall/nat': [
        { '.id': '*201', chain: 'srcnat', action: 'masquerade', 'out-interface': 'ether1' },
        { '.id': '*202', chain: 'dstnat', action: 'dst-nat', 'dst-address': NET.IPv4.lb, protocol: 'tcp', 'dst-port': '80', 'to-addresses': '10.9.9.9' },
        { '.id': '*203', chain: 'dstnat', action: 'redirect', protocol: 'udp', 'dst-port': '53', 'to-ports': '53' },
        ...nat,
      ],
    },
  };
  const { ops, state } = converge(pushedDown, mergeDesired(globalEntries('IPv4'), globalEntries('IPv6')), scopes.global());

  it('are moved back to the top with one move per chain and nothing else', () => {
    expect(opCounts(ops)).toEqual({ add: 0, set: 0, remove: 0, move: 2 });
    expect(ops.map((op) => (op.op === 'move' ? [op.ids.length, op.destination] : []))).toEqual([[1, '*202'], [1, '*201']]);
  });

  it('leave the foreign rules in their relative order', () => {
    const order = (s: RouterState) => (s.menus['/ip/firewall/nat'] ?? []).filter((e) => ownerOf(e.comment) === undefined).map((e) => e['.id']);
    expect(order(state)).toEqual(order(pushedDown));
    const firstOfChain = (chain: string) => (state.menus['/ip/firewall/nat'] ?? []).find((e) => e.chain === chain)?.comment;
    expect([firstOfChain('dstnat'), firstOfChain('srcnat')]).toEqual(['mikrolb:default:global:nat-dstnat-jump-lb', 'mikrolb:default:global:nat-srcnat-jump-snat']);
  });

  it('send LB traffic to the Service again', () => {
    const before = createTracer(pushedDown).trace({ srcAddress: '198.51.100.7', srcPort: 40000, dstAddress: NET.IPv4.lb, dstPort: 80, inInterface: 'ether1' });
    const after = createTracer(state).trace({ srcAddress: '198.51.100.7', srcPort: 40000, dstAddress: NET.IPv4.lb, dstPort: 80, inInterface: 'ether1' });
    expect(before).toMatchObject({ dstAddress: '10.9.9.9' });
    expect(NET.IPv4.ready).toContain(after.ok ? after.dstAddress : '');
  });
});

describe('scope isolation', () => {
  const api = webService({
    uid: '0a1b2c3d-0000-4000-8000-00000000a91e',
    name: 'api',
    lbAddresses: [{ family: 'IPv4', address: '192.0.2.20' }],
    snatAddresses: [],
    snatEnabled: false,
    endpoints: [{ family: 'IPv4', address: '10.0.0.21', ready: true }, { family: 'IPv4', address: '10.0.0.22', ready: true }],
  });
  const both = converge(baseRouter(), desiredFor([web, api]), scopes.everything).state;
  const apiEntries = (state: RouterState) => Object.values(state.menus).flat().filter((e) => ownerOf(e.comment)?.kind === 'service' && e.comment?.includes(api.uid));
  const apiIds = new Set(apiEntries(both).map((entry) => entry['.id']));

  it.each([
    { story: 'scaling web to one endpoint', desired: serviceDesired(webService({ endpoints: endpointsAt([1]) })) },
    { story: 'switching web\'s load balancer off', desired: serviceDesired(webService({ lbEnabled: false })) },
    { story: 'releasing web (nothing desired)', desired: {} },
  ])('$story never touches api\'s entries', ({ desired }) => {
    const { ops, state } = converge(both, desired, scopes.service(web.uid));
    expect(ops.length).toBeGreaterThan(0);
    expect(changedIds(ops).filter((id) => apiIds.has(id))).toEqual([]);
    expect(apiEntries(state)).toEqual(apiEntries(both));
    const trace = createTracer(state).trace({ srcAddress: '198.51.100.7', srcPort: 40000, dstAddress: '192.0.2.20', dstPort: 80, inInterface: 'ether1' });
    expect(['10.0.0.21', '10.0.0.22']).toContain(trace.ok ? trace.dstAddress : '');
  });

  it('refuses a desired entry outside the scope (a bug in the caller)', () => {
    expect(() => planState(both, serviceDesired(api), scopes.service(web.uid), ALL_MENUS)).toThrow(/outside the plan's scope/);
  });
});

import { describe, expect, it } from 'vitest';
import { createTracer, type Connection } from '../../test/tracer/index.js';
import { parseSourceRange, type SourceRange } from './access.js';
import { applyPlanToState } from './apply.js';
import { serviceEntries } from './layout.js';
import { scopes, serviceChain, sourceList } from './names.js';
import { planState } from './planner.js';
import { stagePlan } from './stages.js';
import type { RouterState } from './state.js';
import { ALL_MENUS, baseRouter, converge, desiredFor, FAMILIES, NET, opCounts, serviceDesired, webService } from './test-support.js';

const svc = webService();
const LIST = sourceList(svc.uid);
const OFFICE: readonly SourceRange[] = [{ family: 'IPv4', range: '198.51.100.0/24' }, { family: 'IPv6', range: '2001:db8:7::/48' }];
const programmed = (sourceRanges?: readonly SourceRange[], from: RouterState = baseRouter()) =>
  converge(from, desiredFor([webService(sourceRanges ? { sourceRanges } : {})]), scopes.everything).state;

/** A client outside (`203.0.113.x`, `2001:db8:9::x`) or inside the office range opening tcp/80 or udp/53. */
function client(family: 'IPv4' | 'IPv6', inside: boolean, host: number, extra: Partial<Connection> = {}): Connection {
  const v4 = inside ? `198.51.100.${host}` : `203.0.113.${host}`;
  const v6 = inside ? `2001:db8:7::${host.toString(16)}` : `2001:db8:9::${host.toString(16)}`;
  return { srcAddress: family === 'IPv4' ? v4 : v6, srcPort: 40000 + host, dstAddress: NET[family].lb, dstPort: 80, inInterface: 'ether1', ...extra };
}

describe('parseSourceRange', () => {
  it.each([
    { text: '198.51.100.0/24', expected: { family: 'IPv4', range: '198.51.100.0/24' } },
    { text: ' 10.1.2.3/8 ', expected: { family: 'IPv4', range: '10.0.0.0/8' } },
    { text: '0.0.0.0/0', expected: { family: 'IPv4', range: '0.0.0.0/0' } },
    { text: '203.0.113.7/32', expected: { family: 'IPv4', range: '203.0.113.7' } },
    { text: '203.0.113.7', expected: { family: 'IPv4', range: '203.0.113.7' } },
    { text: '2001:DB8:7:0:1::/48', expected: { family: 'IPv6', range: '2001:db8:7::/48' } },
    { text: '::/0', expected: { family: 'IPv6', range: '::/0' } },
    { text: '10.0.0.0/33', expected: undefined },
    { text: '10.0.0.0/', expected: undefined },
    { text: '10.0.0.0/8/8', expected: undefined },
    { text: 'office', expected: undefined },
    { text: '2001:db8::/129', expected: undefined },
  ])('$text', ({ text, expected }) => {
    expect(parseSourceRange(text)).toEqual(expected);
  });
});

describe('the layout of source ranges', () => {
  const entries = serviceEntries(webService({ sourceRanges: OFFICE }));
  it.each(FAMILIES)('%s: a list of the family\'s ranges and a gate first in the Service\'s chain', (family) => {
    const prefix = family === 'IPv4' ? '/ip' : '/ipv6';
    const range = OFFICE.find((r) => r.family === family)?.range;
    expect(entries[`${prefix}/firewall/address-list`]?.filter((e) => e.list === LIST)).toEqual([
      { list: LIST, address: range, comment: `mikrolb:default:svc=${svc.uid}:source-list:${range ?? ''}` },
    ]);
    const chain = (entries[`${prefix}/firewall/nat`] ?? []).filter((e) => e.chain === serviceChain(svc.uid));
    expect(chain.map((e) => e.comment.split(':').slice(3).join(':'))).toEqual(['source-gate', 'port-jump:tcp/80', 'port-jump:udp/53']);
    expect(chain[0]).toMatchObject({ action: 'return', 'src-address-list': `!${LIST}` });
  });

  it.each(FAMILIES)('%s: a drop rule per LB address and port in mikrolb-input, for every source outside the list', (family) => {
    const prefix = family === 'IPv4' ? '/ip' : '/ipv6';
    expect(entries[`${prefix}/firewall/filter`]).toEqual([
      { chain: 'mikrolb-input', action: 'drop', 'dst-address': NET[family].lb, protocol: 'tcp', 'dst-port': '80', 'src-address-list': `!${LIST}`, comment: `mikrolb:default:svc=${svc.uid}:source-drop:${NET[family].lb}:tcp/80` },
      { chain: 'mikrolb-input', action: 'drop', 'dst-address': NET[family].lb, protocol: 'udp', 'dst-port': '53', 'src-address-list': `!${LIST}`, comment: `mikrolb:default:svc=${svc.uid}:source-drop:${NET[family].lb}:udp/53` },
    ]);
  });

  it('writes nothing when the Service sets no ranges', () => {
    const all = Object.values(serviceEntries(svc)).flat();
    expect(all.filter((e) => e.list === LIST || e.comment.endsWith(':source-gate') || e.chain === 'mikrolb-input')).toEqual([]);
  });

  it('writes nothing while the load balancer is off', () => {
    const all = Object.values(serviceEntries(webService({ sourceRanges: OFFICE, lbEnabled: false }))).flat();
    expect(all.filter((e) => e.list === LIST || e.comment.endsWith(':source-gate') || e.chain === 'mikrolb-input')).toEqual([]);
  });
});

describe.each(FAMILIES)('%s: traffic from inside and outside the ranges (packet tracer)', (family) => {
  const restricted = createTracer(programmed(OFFICE));

  it('is a configuration the tracer understands completely', () => {
    expect(restricted.problems).toEqual([]);
  });

  it('lets every source inside the ranges reach a ready endpoint, on every port', () => {
    for (let host = 1; host <= 200; host++) {
      for (const port of [{ dstPort: 80, protocol: 'tcp', target: 8080 }, { dstPort: 53, protocol: 'udp', target: 5353 }]) {
        const result = restricted.trace(client(family, true, host, { dstPort: port.dstPort, protocol: port.protocol }));
        expect(result).toMatchObject({ ok: true, verdict: 'accept', delivery: 'forward', dstPort: port.target });
        expect(result.ok && (NET[family].ready as readonly string[]).includes(result.dstAddress)).toBe(true);
      }
    }
  });

  it.each([
    { story: 'TCP from outside is dropped by the router', protocol: 'tcp', dstPort: 80 },
    { story: 'UDP from outside is dropped by the router', protocol: 'udp', dstPort: 53 },
  ])('$story, never dst-natted to a pod', ({ protocol, dstPort }) => {
    for (let host = 1; host <= 200; host++) {
      const result = restricted.trace(client(family, false, host, { protocol, dstPort }));
      expect(result).toMatchObject({ ok: true, verdict: 'drop', delivery: 'input', chain: 'filter/mikrolb-input', dstAddress: NET[family].lb, natState: { dstnat: false } });
    }
  });

  it('a port no Service serves is refused (reset) as for anyone, the router\'s own ssh included', () => {
    for (const [inside, host] of [[false, 3], [true, 3]] as const) {
      const result = restricted.trace(client(family, inside, host, { protocol: 'tcp', dstPort: 22 }));
      expect(result).toMatchObject({ ok: true, verdict: 'reject', rejectWith: 'tcp-reset', delivery: 'input', chain: 'filter/input', natState: { dstnat: false } });
    }
  });

  it('drops outsiders even where a foreign rule accepts everything on input', () => {
    const state = programmed(OFFICE);
    const filter = `${family === 'IPv4' ? '/ip' : '/ipv6'}/firewall/filter`;
    const open = { ...state, menus: { ...state.menus, [filter]: [...(state.menus[filter] ?? []), { '.id': '*F00', chain: 'input', action: 'accept' }] } };
    const result = createTracer(open).trace(client(family, false, 9));
    expect(result).toMatchObject({ ok: true, verdict: 'drop' });
  });

  it('without ranges, everyone reaches the endpoints', () => {
    const open = createTracer(programmed());
    expect(open.trace(client(family, false, 9))).toMatchObject({ ok: true, verdict: 'accept', delivery: 'forward', dstPort: 8080 });
  });
});

describe('ranges of one family only', () => {
  it('admit no one on the other family\'s address (the list is empty, the gate still there)', () => {
    const tracer = createTracer(programmed([{ family: 'IPv4', range: '198.51.100.0/24' }]));
    expect(tracer.trace(client('IPv4', true, 5))).toMatchObject({ ok: true, verdict: 'accept', delivery: 'forward' });
    expect(tracer.trace(client('IPv6', true, 5))).toMatchObject({ ok: true, verdict: 'drop' });
  });

  it('an empty set of ranges (none parsed) admits no one', () => {
    const tracer = createTracer(programmed([]));
    for (const family of FAMILIES) expect(tracer.trace(client(family, true, 5))).toMatchObject({ ok: true, verdict: 'drop' });
  });
});

describe('planning source ranges', () => {
  const scope = scopes.service(svc.uid);
  const plan = (from: RouterState, sourceRanges?: readonly SourceRange[]) =>
    converge(from, serviceDesired(webService(sourceRanges ? { sourceRanges } : {})), scope);

  it('adding ranges adds the lists, gates and drop rules only, and a second plan changes nothing', () => {
    const { ops, state } = plan(programmed(), OFFICE);
    expect(opCounts(ops)).toEqual({ add: 8, set: 0, remove: 0, move: 0 }); // per family: a list entry, a gate, a drop rule per port
    expect(plan(state, OFFICE).ops).toEqual([]);
  });

  it('changing a range replaces that list entry only', () => {
    const changed = OFFICE.map((r) => (r.family === 'IPv4' ? { ...r, range: '198.51.101.0/24' } : r));
    const { ops } = plan(programmed(OFFICE), changed);
    expect(ops).toEqual([
      { op: 'add', menu: '/ip/firewall/address-list', entry: expect.objectContaining({ list: LIST, address: '198.51.101.0/24' }) },
      { op: 'remove', menu: '/ip/firewall/address-list', ids: [expect.any(String)] },
    ]);
  });

  it('removing the ranges removes the gates, the drop rules and the lists, and opens the port again', () => {
    const { ops, state } = plan(programmed(OFFICE));
    expect(opCounts(ops)).toEqual({ add: 0, set: 0, remove: 6, move: 0 }); // a family's two drop rules go in one remove
    expect(Object.values(state.menus).flat().filter((e) => e.list === LIST || e.comment?.endsWith(':source-gate') || e.chain === 'mikrolb-input')).toEqual([]);
    expect(createTracer(state).trace(client('IPv4', false, 9))).toMatchObject({ ok: true, verdict: 'accept', delivery: 'forward' });
  });

  it('release removes them with the rest of the Service, foreign entries of the same list stay', () => {
    const state = programmed(OFFICE);
    const lists = '/ip/firewall/address-list';
    const foreign = { '.id': '*F01', list: LIST, address: '192.0.2.200', comment: 'added by hand' };
    const withForeign = { ...state, menus: { ...state.menus, [lists]: [...(state.menus[lists] ?? []), foreign] } };
    const released = applyPlanToState(withForeign, planState(withForeign, {}, scope, ALL_MENUS));
    expect(released.menus[lists]?.filter((e) => e.list === LIST)).toEqual([foreign]);
    expect(Object.values(released.menus).flat().filter((e) => e.comment?.endsWith(':source-gate') || e.chain === 'mikrolb-input')).toEqual([]);
  });

  it.each([
    { story: 'restricting', from: undefined, to: OFFICE },
    { story: 'lifting the restriction', from: OFFICE, to: undefined },
  ])('$story: after the first round trip alone, insiders are never refused', ({ from, to }) => {
    const start = programmed(from);
    const stages = stagePlan(planState(start, serviceDesired(webService(to ? { sourceRanges: to } : {})), scope, ALL_MENUS));
    const midway = applyPlanToState(start, stages[0] ?? []);
    for (const family of FAMILIES) {
      expect(createTracer(midway).trace(client(family, true, 7))).toMatchObject({ ok: true, verdict: 'accept', delivery: 'forward' });
    }
  });
});

import { describe, expect, it, vi } from 'vitest';
import { createTracer } from '../../test/tracer/index.js';
import { applyPlanToState } from './apply.js';
import { scopes } from './names.js';
import type { Op } from './ops.js';
import { stagePlan } from './stages.js';
import { ALL_MENUS, FAMILIES, NET, backendSpread, baseRouter, converge, desiredFor, endpointsAt, serviceDesired, webService } from './test-support.js';
import type { ServiceProgram } from './layout.js';
import type { IPFamily } from '../ip/index.js';
import { planState } from './planner.js';
import type { RouterState } from './state.js';

const entry = { list: 'mikrolb-lb', address: '192.0.2.15', comment: 'mikrolb:svc=u:lb-list:192.0.2.15' };
const rule = { chain: 'mikrolb-lb', action: 'jump', 'jump-target': 'mikrolb-svc-x', comment: 'mikrolb:svc=u:lb-jump:192.0.2.15' };
const adv = { address: '192.0.2.15/32', interface: 'ether1', comment: 'mikrolb:svc=u:adv:192.0.2.15' };
const L = '/ip/firewall/address-list';
const N = '/ip/firewall/nat';
const A = '/ip/address';
const show = (stages: Op[][]): string[][] => stages.map((s) => s.map((op) => `${op.op} ${op.menu}${op.op === 'remove' ? ` ${op.ids.join(',')}` : ''}`));

describe('stagePlan: what reaches the router first', () => {
  it.each<{ story: string; ops: Op[]; stages: string[][] }>([
    {
      story: 'a new address: lists and the advertisement first, NAT only once they are in',
      ops: [{ op: 'add', menu: L, entry }, { op: 'add', menu: N, entry: rule }, { op: 'add', menu: A, entry: adv }],
      stages: [[`add ${L}`, `add ${A}`], [`add ${N}`]],
    },
    {
      story: 'a released address: NAT goes before the advertisement and the list entry',
      ops: [{ op: 'remove', menu: L, ids: ['*1'] }, { op: 'remove', menu: N, ids: ['*2'] }, { op: 'remove', menu: A, ids: ['*3'] }],
      stages: [[`remove ${N} *2`, `remove ${L} *1`, `remove ${A} *3`]],
    },
    {
      story: 'an entry replaced under its key is removed before its successor is added; leftovers go at the end',
      ops: [{ op: 'remove', menu: L, ids: ['*1'] }, { op: 'add', menu: L, entry }, { op: 'remove', menu: L, ids: ['*4'] }],
      stages: [[`remove ${L} *1`, `add ${L}`], [`remove ${L} *4`]],
    },
    {
      story: 'endpoints changed: NAT only, one round trip',
      ops: [{ op: 'set', menu: N, id: '*2', changes: { 'to-addresses': '10.0.0.6' } }, { op: 'remove', menu: N, ids: ['*5'] }],
      stages: [[`set ${N}`, `remove ${N} *5`]],
    },
    {
      story: 'an address changed: the old address\'s NAT rules go only once the new ones are in, with the other removals',
      ops: [
        { op: 'add', menu: L, entry }, { op: 'remove', menu: L, ids: ['*1'] }, { op: 'add', menu: N, entry: rule }, { op: 'remove', menu: N, ids: ['*2'] },
        { op: 'add', menu: A, entry: adv }, { op: 'remove', menu: A, ids: ['*3'] },
      ],
      stages: [[`add ${L}`, `add ${A}`], [`add ${N}`], [`remove ${N} *2`, `remove ${L} *1`, `remove ${A} *3`]],
    },
    { story: 'nothing to do', ops: [], stages: [] },
  ])('$story', ({ ops, stages }) => {
    const staged = stagePlan(ops);
    expect(show(staged)).toEqual(stages);
    expect(staged.flat()).toHaveLength(ops.length);
  });

  it('after the first round trip alone, no connection to the new LB address is dst-natted and the router still answers on its own address', () => {
    const ops = planState(baseRouter(), desiredFor([webService()]), scopes.everything, ALL_MENUS);
    const [build, divert] = stagePlan(ops);
    expect(build?.some((op) => op.menu.endsWith('/nat'))).toBe(false);
    expect(divert?.some((op) => op.menu.endsWith('/nat'))).toBe(true);
    const half = createTracer(applyPlanToState(baseRouter(), build ?? []));
    for (const family of ['IPv4', 'IPv6'] as const) {
      const t = half.trace({ srcAddress: family === 'IPv4' ? '198.51.100.7' : '2001:db8:4::7', srcPort: 40000, dstAddress: NET[family].lb, dstPort: 80, protocol: 'tcp', inInterface: 'ether1' });
      expect(t).toMatchObject({ ok: true, verdict: 'reject' });
    }
    expect(half.trace({ srcAddress: '10.0.0.9', srcPort: 40000, dstAddress: '192.0.2.1', dstPort: 22, protocol: 'tcp', inInterface: 'bridge' })).toMatchObject({ ok: true, verdict: 'accept', dstAddress: '192.0.2.1' });
    const full = createTracer(applyPlanToState(baseRouter(), ops));
    expect(full.trace({ srcAddress: '198.51.100.7', srcPort: 40000, dstAddress: NET.IPv4.lb, dstPort: 80, protocol: 'tcp', inInterface: 'ether1' })).toMatchObject({ ok: true, dstPort: 8080 });
  });

  it('a scale-down (NAT changes and SNAT list removals) is one round trip, NAT first', () => {
    const { state } = converge(baseRouter(), desiredFor([webService()]), scopes.everything);
    const ops = planState(state, desiredFor([webService({ endpoints: endpointsAt([0]) })]), scopes.everything, ALL_MENUS);
    const staged = stagePlan(ops);
    expect(staged).toHaveLength(1);
    const firstOther = staged[0]?.findIndex((op) => !op.menu.endsWith('/nat')) ?? -1;
    expect(staged[0]?.slice(0, firstOther).every((op) => op.menu.endsWith('/nat'))).toBe(true);
    expect(staged[0]?.slice(firstOther).every((op) => op.op === 'remove' && !op.menu.endsWith('/nat'))).toBe(true);
  });
});

describe('stagePlan: a round trip cut short', () => {
  const OFFICE = [{ family: 'IPv4', range: '198.51.100.0/24' }, { family: 'IPv6', range: '2001:db8:7::/48' }] as const;
  const svc = webService({ sourceRanges: OFFICE });
  const inside = { srcAddress: '198.51.100.9', srcPort: 40000, dstAddress: NET.IPv4.lb, dstPort: 80, protocol: 'tcp', inInterface: 'ether1' } as const;

  /** Sends the stages as the executor does; in a round trip, `fails` ops are refused and the others land, and no later round trip is sent. */
  function cutShort(state: RouterState, stages: readonly Op[][], fails: (op: Op) => boolean): RouterState {
    let now = state;
    for (const stage of stages) {
      now = applyPlanToState(now, stage.filter((op) => !fails(op)));
      if (stage.some(fails)) break;
    }
    return now;
  }

  it('lifting source ranges, the gate\'s removal (NAT) refused: a client inside the ranges is still served, not turned away by a gate matching an emptied list', () => {
    const fails = (op: Op): boolean => op.op === 'remove' && op.menu === N;
    const { state: from } = converge(baseRouter(), desiredFor([svc]), scopes.everything);
    expect(createTracer(from).trace(inside)).toMatchObject({ ok: true, dstPort: 8080 });
    const ops = planState(from, serviceDesired(webService()), scopes.service(svc.uid), ALL_MENUS);
    const after = cutShort(from, stagePlan(ops, from.menus), fails);
    expect(createTracer(after).trace(inside)).toMatchObject({ ok: true, dstPort: 8080 });
    expect(createTracer(applyPlanToState(from, ops)).trace(inside)).toMatchObject({ ok: true, dstPort: 8080 });
  });

  const natAdd = (op: Op): boolean => op.op === 'add' && op.menu === N;
  /** Refuses the plan's first NAT add only. */
  const firstNatAdd = (ops: readonly Op[]): ((op: Op) => boolean) => {
    const first = ops.find(natAdd);
    return (op) => op === first;
  };
  const every = (): ((op: Op) => boolean) => natAdd;
  it.each<{ story: string; from: ServiceProgram; to: ServiceProgram; refuse: (ops: readonly Op[]) => (op: Op) => boolean }>([
    { story: 'switching to sessionAffinity ClientIP, every per-client rule refused (a router without the property)', from: webService(), to: webService({ sessionAffinity: 'ClientIP' }), refuse: every },
    { story: 'switching to sessionAffinity ClientIP, one per-client rule refused', from: webService(), to: webService({ sessionAffinity: 'ClientIP' }), refuse: firstNatAdd },
    { story: 'a port renumbered (tcp/80 to tcp/81), the new port\'s rules refused', from: webService(), to: webService({ ports: [{ protocol: 'tcp', port: 81, targetPort: 8080, name: 'http' }, { protocol: 'udp', port: 53, targetPort: 5353, name: 'dns' }] }), refuse: every },
  ])('$story: every client still reaches an endpoint, none is refused', ({ from, to, refuse }) => {
    const { state: start } = converge(baseRouter(), desiredFor([from]), scopes.everything);
    const ops = planState(start, serviceDesired(to), scopes.service(to.uid), ALL_MENUS);
    expect(ops.some((op) => op.menu === N && op.op === 'remove')).toBe(true);
    const after = cutShort(start, stagePlan(ops, start.menus), refuse(ops));
    const reached = (state: RouterState, family: IPFamily): Record<string, string[]> =>
      Object.fromEntries(Object.entries(backendSpread(state, family)).map(([port, spread]) => [port, Object.keys(spread).sort()]));
    for (const family of FAMILIES) {
      expect(reached(after, family)).toEqual(reached(start, family));
    }
  });
});

describe('stagePlan of a collection removing every orphaned Service\'s list entries', () => {
  it('sets the source lists apart without comparing each id with each of them', () => {
    const entries = Array.from({ length: 4000 }, (_, i) => ({ '.id': `*${(i + 1).toString(16)}`, list: i % 2 === 0 ? 'mikrolb-lb' : `mikrolb-src-${i}`, address: `10.0.${i >> 8}.${i & 255}` }));
    const ids = entries.map((e) => e['.id']);
    const scanned = countScanned('includes');
    const stages = stagePlan([{ op: 'remove', menu: L, ids }], { [L]: entries });
    const elements = scanned.stop();
    expect(stages).toEqual([[{ op: 'remove', menu: L, ids: ids.filter((_, i) => i % 2 === 0) }], [{ op: 'remove', menu: L, ids: ids.filter((_, i) => i % 2 === 1) }]]);
    // one look-up per id: comparing each id with every source list entry walked ~2,000 per id
    expect(elements / ids.length).toBeLessThan(4);
  });
});

/** How many array elements `Array.prototype[method]` walks until `stop()`, counting each call's whole array. */
function countScanned(method: 'includes'): { stop(): number } {
  let elements = 0;
  const original = Array.prototype[method];
  const spy = vi.spyOn(Array.prototype, method).mockImplementation(function (this: unknown[], ...args: Parameters<typeof original>) {
    elements += this.length;
    return original.apply(this, args);
  });
  return { stop: () => (spy.mockRestore(), elements) };
}

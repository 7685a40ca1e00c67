import { describe, expect, it } from 'vitest';
import type { RouterEntry, RouterState } from './state.js';
import { createTracer } from '../../test/tracer/index.js';
import { forCluster, type DesiredMenus } from './menus.js';
import { legacyComment, ownerOf, scopes } from './names.js';
import type { Op } from './ops.js';
import { planState, type Scope } from './planner.js';
import { ALL_MENUS, baseRouter, converge, desiredFor, NET, webService } from './test-support.js';

/**
 * Ownership by cluster: two installations (MIKROLB_CLUSTER_NAME `default` and `lab`) share one
 * router; each plans only its own entries, and neither moves, changes or removes the other's.
 */

const web = webService();
const api = webService({
  uid: '0a1b2c3d-0000-4000-8000-000000000002', name: 'api',
  lbAddresses: [{ family: 'IPv4', address: '192.0.2.25' }], snatEnabled: false, snatAddresses: [],
  ports: [{ protocol: 'tcp', port: 80, targetPort: 9090 }], endpoints: [{ family: 'IPv4', address: '10.0.0.60', ready: true }],
});

/** What one cluster's program wants (its Services, globals) and which entries it may change. */
const cluster = (name: string, services = name === 'default' ? [web] : [api]): { desired: DesiredMenus; scope: Scope } => ({
  desired: forCluster(desiredFor(services), name),
  scope: scopes.cluster(name),
});
const everyService: Scope = (o) => o.kind === 'service';

const changedIds = (ops: readonly Op[]) => ops.flatMap((op) => (op.op === 'set' ? [op.id] : op.op === 'add' ? [] : op.ids));
const idsOf = (state: RouterState, name: string) => new Set(Object.values(state.menus).flat().filter((e) => ownerOf(e.comment)?.cluster === name).map((e) => e['.id']));

function bothProgrammed(): RouterState {
  const a = cluster('default');
  const b = cluster('lab');
  let state = converge(baseRouter(), a.desired, a.scope).state;
  state = converge(state, b.desired, b.scope).state;
  return state;
}

describe('two clusters on one router', () => {
  const state = bothProgrammed();

  it('each cluster plans around the other without touching it', () => {
    const a = cluster('default');
    const b = cluster('lab');
    const fromA = planState(state, a.desired, a.scope, ALL_MENUS);
    const fromB = planState(state, b.desired, b.scope, ALL_MENUS);
    // converged: neither wants a move to put its globals "ahead" of the other's (no flapping)
    expect([fromA, fromB]).toEqual([[], []]);
  });

  it('the second cluster never named one of the first one\'s entries', () => {
    const a = cluster('default');
    const b = cluster('lab');
    const first = converge(baseRouter(), a.desired, a.scope).state;
    const ops = planState(first, b.desired, b.scope, ALL_MENUS);
    expect(changedIds(ops).filter((id) => idsOf(first, 'default').has(id))).toEqual([]);
  });

  it('both clusters\' Services receive their traffic', () => {
    const tracer = createTracer(state);
    const toWeb = tracer.trace({ srcAddress: '198.51.100.7', srcPort: 40000, dstAddress: NET.IPv4.lb, dstPort: 80, inInterface: 'ether1' });
    const toApi = tracer.trace({ srcAddress: '198.51.100.7', srcPort: 40001, dstAddress: '192.0.2.25', dstPort: 80, inInterface: 'ether1' });
    expect(toWeb).toMatchObject({ ok: true, verdict: 'accept' });
    expect(NET.IPv4.ready).toContain(toWeb.ok ? toWeb.dstAddress : '');
    expect(toApi).toMatchObject({ ok: true, verdict: 'accept', dstAddress: '10.0.0.60', dstPort: 9090 });
  });

  it('one cluster\'s garbage collection (nothing live) and uninstall remove only its own entries', () => {
    const lab = idsOf(state, 'lab');
    const gc = planState(state, {}, (o) => o.cluster === 'lab' && o.kind === 'service', ALL_MENUS);
    const uninstall = converge(state, {}, scopes.cluster('lab'));
    expect(new Set(changedIds(gc))).toEqual(new Set([...lab].filter((id) => ownerOf(Object.values(state.menus).flat().find((e) => e['.id'] === id)?.comment)?.kind === 'service')));
    expect(new Set(changedIds(uninstall.ops))).toEqual(lab);
    expect(idsOf(uninstall.state, 'default')).toEqual(idsOf(state, 'default'));
    const tracer = createTracer(uninstall.state);
    const toWeb = tracer.trace({ srcAddress: '198.51.100.7', srcPort: 40000, dstAddress: NET.IPv4.lb, dstPort: 80, inInterface: 'ether1' });
    expect(toWeb).toMatchObject({ ok: true, verdict: 'accept' });
  });
});

/** The router as a version without cluster names left it: the same entries, comments without a cluster. */
function writtenBeforeClusterNames(state: RouterState): RouterState {
  const legacy = (e: RouterEntry): RouterEntry => (e.comment === undefined ? e : { ...e, comment: legacyComment(e.comment) ?? e.comment });
  return { ...state, menus: Object.fromEntries(Object.entries(state.menus).map(([menu, entries]) => [menu, entries.map(legacy)])) };
}

describe('entries written before cluster names', () => {
  const before = writtenBeforeClusterNames(converge(baseRouter(), cluster('default').desired, cluster('default').scope).state);

  it('are adopted by the default cluster: each comment is rewritten in place, nothing removed or added', () => {
    const { ops, state } = converge(before, cluster('default').desired, cluster('default').scope);
    expect(ops.length).toBeGreaterThan(0);
    expect(ops.every((op) => op.op === 'set' && Object.keys(op.changes).join() === 'comment')).toBe(true);
    expect(planState(state, cluster('default').desired, cluster('default').scope, ALL_MENUS)).toEqual([]);
    expect(Object.values(state.menus).flat().filter((e) => ownerOf(e.comment) !== undefined).every((e) => e.comment?.startsWith('mikrolb:default:'))).toBe(true);
  });

  it('are never touched by another cluster', () => {
    const { ops } = converge(before, {}, scopes.cluster('lab'));
    expect(ops).toEqual([]);
  });

  it('are removed by the default cluster\'s uninstall', () => {
    const { state } = converge(before, {}, scopes.cluster('default'));
    expect(Object.values(state.menus).flat().filter((e) => ownerOf(e.comment) !== undefined)).toEqual([]);
  });
});

describe('entries that only look like ours', () => {
  const router = baseRouter();
  const lookalikes: RouterState = {
    ...router,
    menus: {
      ...router.menus,
      '/ip/address': [
        { '.id': '*10', address: '192.0.2.1/24', interface: 'ether1', comment: 'mikrolb:svc=deadbeef-0000-4000-8000-000000000000:adv:192.0.2.1' },
        { '.id': '*11', address: '192.0.2.2/31', interface: 'ether1', comment: 'mikrolb:default:svc=deadbeef-0000-4000-8000-000000000000:adv:192.0.2.2' },
      ],
      '/ipv6/address': [{ '.id': '*12', address: '2001:db8:ffff::1/64', interface: 'ether1', comment: 'mikrolb:svc=dead:adv:2001:db8:ffff::1' }],
      '/ip/firewall/filter': [
        { '.id': '*20', chain: 'input', action: 'drop', 'in-interface': 'ether1', comment: 'mikrolb:global:admin-wan-drop' },
        { '.id': '*21', chain: 'input', action: 'drop', 'in-interface': 'ether1', comment: 'mikrolb:default:global:admin-wan-drop' },
      ],
    },
  };

  it.each([
    { story: 'garbage collection of every Service', scope: everyService },
    { story: 'garbage collection of the globals', scope: scopes.global() },
    { story: 'uninstall', scope: scopes.cluster('default') },
  ])('survive $story: no wider address than a host address, no global role we never write', ({ scope }) => {
    expect(planState(lookalikes, {}, scope, ALL_MENUS)).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import type { RouterEntry } from './state.js';
import { applyPlanToState } from './apply.js';
import type { DesiredEntry } from './menus.js';
import { scopes } from './names.js';
import { longestIncreasing } from './order.js';
import { plan } from './planner.js';

const NAT = '/ip/firewall/nat';
const LIST = '/ip/firewall/address-list';
const key = (name: string) => `mikrolb:svc=u1:${name}`;
const rule = (name: string, extra: Record<string, string> = {}): DesiredEntry => ({ chain: 'mikrolb-x', action: 'return', ...extra, comment: key(name) });
const at = (id: string, entry: Record<string, string>): RouterEntry => ({ '.id': id, ...entry });
const scope = scopes.service('u1');

/** Plans, applies, and returns the ops and the resulting menu's comments (or ids of foreign entries). */
function run(menu: string, existing: RouterEntry[], desired: DesiredEntry[]) {
  const ops = plan(menu, existing, desired, scope);
  const after = applyPlanToState({ version: '7.19.1', menus: { [menu]: existing } }, ops).menus[menu] ?? [];
  return { ops, after, labels: after.map((entry) => entry.comment ?? entry['.id']) };
}

describe('matching by key', () => {
  it.each([
    {
      story: 'a duplicate of our key: keep the unchanged one, remove the other',
      existing: [at('*1', { ...rule('a', { action: 'accept' }) }), at('*2', { ...rule('a') })],
      desired: [rule('a')],
      ops: [{ op: 'remove', menu: NAT, ids: ['*1'] }],
    },
    {
      story: 'our entry disabled by hand is enabled again',
      existing: [at('*1', { ...rule('a'), disabled: 'true' })],
      desired: [rule('a')],
      ops: [{ op: 'set', menu: NAT, id: '*1', changes: { disabled: 'false' } }],
    },
    {
      story: 'a property with a default goes back to the default',
      existing: [at('*1', { ...rule('a'), log: 'true', 'log-prefix': 'x' })],
      desired: [rule('a')],
      ops: [{ op: 'set', menu: NAT, id: '*1', changes: { log: 'false', 'log-prefix': '' } }],
    },
    {
      story: 'yes/no and true/false are the same on the wire',
      existing: [at('*1', { ...rule('a', { passthrough: 'yes' }), disabled: 'no' })],
      desired: [rule('a', { passthrough: 'true' })],
      ops: [],
    },
    {
      story: 'counters and flags the router prints are ignored',
      existing: [at('*1', { ...rule('a'), bytes: '99', packets: '3', invalid: 'false', dynamic: 'false', '.nextid': '*FFFFFFFF' })],
      desired: [rule('a')],
      ops: [],
    },
    {
      // nor a place to put ours before: the router refuses that (`failure: cannot move builtin`)
      story: 'a dynamic entry carrying our key is not ours to change',
      existing: [at('*1', { ...rule('a', { action: 'accept' }), dynamic: 'true' })],
      desired: [rule('a')],
      ops: [{ op: 'add', menu: NAT, entry: rule('a') }],
    },
    {
      story: 'a builtin dynamic rule first in the chain keeps its place: ours go first after it, and stay there',
      existing: [at('*1', { chain: 'mikrolb-x', action: 'passthrough', dynamic: 'true' }), at('*2', { chain: 'mikrolb-x', action: 'accept' })],
      desired: [rule('a')],
      ops: [{ op: 'add', menu: NAT, entry: rule('a'), placeBefore: '*2' }],
    },
    {
      story: 'our rule right after a builtin dynamic rule is in place',
      existing: [at('*1', { chain: 'mikrolb-x', action: 'passthrough', dynamic: 'true' }), at('*3', rule('a')), at('*2', { chain: 'mikrolb-x', action: 'accept' })],
      desired: [rule('a')],
      ops: [],
    },
  ])('$story', ({ existing, desired, ops }) => {
    expect(plan(NAT, existing, desired, scope)).toEqual(ops);
  });

  it('replaces, in place, an entry whose extra matcher has no default to go back to', () => {
    const existing = [at('*1', rule('a')), at('*2', rule('b', { 'src-address': '10.9.9.9' })), at('*3', rule('c'))];
    const { ops, after, labels } = run(NAT, existing, [rule('a'), rule('b'), rule('c')]);
    expect(ops).toEqual([{ op: 'remove', menu: NAT, ids: ['*2'] }, { op: 'add', menu: NAT, entry: rule('b'), placeBefore: '*3' }]);
    expect(labels).toEqual([key('a'), key('b'), key('c')]);
    expect(after[1]).toEqual({ '.id': '*4', ...rule('b') });
  });

  it('adds to an address list without placement, then removes what is no longer wanted (make before break)', () => {
    const existing = [at('*1', { list: 'l', address: '10.0.0.1', comment: key('l:10.0.0.1') })];
    const desired = [{ list: 'l', address: '10.0.0.2', comment: key('l:10.0.0.2') }];
    expect(plan(LIST, existing, desired, scope)).toEqual([
      { op: 'add', menu: LIST, entry: desired[0] },
      { op: 'remove', menu: LIST, ids: ['*1'] },
    ]);
  });

  it('removes an entry it must replace before adding it again, which would clash otherwise', () => {
    const desired = { list: 'l', address: '10.0.0.1', comment: key('l:10.0.0.1') };
    const existing = [at('*1', { ...desired, timeout: '1d' }), at('*2', { list: 'l', address: '10.0.0.9', comment: key('l:10.0.0.9') })];
    expect(plan(LIST, existing, [desired], scope)).toEqual([
      { op: 'remove', menu: LIST, ids: ['*1'] },
      { op: 'add', menu: LIST, entry: desired },
      { op: 'remove', menu: LIST, ids: ['*2'] },
    ]);
  });
});

describe('order within a chain', () => {
  const foreign = (id: string, chain = 'mikrolb-x') => at(id, { chain, action: 'log' });

  it.each([
    { story: 'already in order', existing: ['a', 'b', 'c'], moves: 0, ops: 0 },
    { story: 'the last one belongs first', existing: ['b', 'c', 'a'], moves: 1, ops: 1 },
    { story: 'reversed: two entries move as one block', existing: ['c', 'b', 'a'], moves: 2, ops: 1 },
    { story: 'two swapped pairs', existing: ['b', 'a', 'd', 'c'], moves: 2, ops: 2 },
    { story: 'a missing one is added between its neighbours', existing: ['a', 'c'], moves: 0, ops: 1 },
  ])('$story: moves only what must move', ({ existing, moves, ops: count }) => {
    const entries = existing.map((name, i) => at(`*${i + 1}`, rule(name)));
    const desired = ['a', 'b', 'c', 'd'].filter((name) => existing.includes(name) || name === 'b').map((name) => rule(name));
    const { ops, labels } = run(NAT, entries, desired);
    expect(ops.length).toBe(count);
    expect(ops.flatMap((op) => (op.op === 'move' ? op.ids : [])).length).toBe(moves);
    expect(labels).toEqual(desired.map((entry) => entry.comment));
  });

  it('puts our entries ahead of a foreign entry in the same chain, leaving foreign order alone', () => {
    const existing = [foreign('*1'), at('*2', rule('a')), foreign('*3', 'other'), foreign('*4'), at('*5', rule('b'))];
    const { ops, labels } = run(NAT, existing, [rule('a'), rule('b')]);
    expect(ops).toEqual([{ op: 'move', menu: NAT, ids: ['*2', '*5'], destination: '*1' }]);
    expect(labels).toEqual([key('a'), key('b'), '*1', '*3', '*4']);
  });

  it('adds new entries after their placed predecessor, never naming an entry the plan itself added', () => {
    const existing = [foreign('*1', 'other'), at('*2', rule('a')), foreign('*3', 'other')];
    const { ops, labels } = run(NAT, existing, [rule('a'), rule('b'), rule('c')]);
    expect(ops).toEqual([
      { op: 'add', menu: NAT, entry: rule('b'), placeBefore: '*3' },
      { op: 'add', menu: NAT, entry: rule('c'), placeBefore: '*3' },
    ]);
    expect(labels).toEqual(['*1', key('a'), key('b'), key('c'), '*3']);
  });

  it('ignores where other owners\' entries sit, and never moves them', () => {
    const other = (id: string, name: string) => at(id, { chain: 'mikrolb-x', action: 'return', comment: `mikrolb:svc=u2:${name}` });
    const existing = [other('*1', 'x'), at('*2', rule('b')), other('*3', 'y'), at('*4', rule('a'))];
    const { ops, labels } = run(NAT, existing, [rule('a'), rule('b')]);
    expect(ops).toEqual([{ op: 'move', menu: NAT, ids: ['*2'] }]);
    expect(labels).toEqual(['mikrolb:svc=u2:x', 'mikrolb:svc=u2:y', key('a'), key('b')]);
  });
});

describe('longestIncreasing', () => {
  it.each([
    { seq: [], kept: [] },
    { seq: [0, 1, 2], kept: [0, 1, 2] },
    { seq: [2, 1, 0], kept: [2] },
    { seq: [1, 2, 0], kept: [0, 1] },
    { seq: [3, 0, 1, 4, 2], kept: [1, 2, 4] },
  ])('$seq keeps positions $kept', ({ seq, kept }) => {
    expect([...longestIncreasing(seq)].sort()).toEqual(kept);
  });
});

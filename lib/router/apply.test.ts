import { describe, expect, it } from 'vitest';
import type { RouterState } from './state.js';
import { applyPlanToState } from './apply.js';
import type { Op } from './ops.js';

const NAT = '/ip/firewall/nat';
const state = (): RouterState => ({
  version: '7.19.1',
  menus: {
    '/interface': [{ '.id': '*A', name: 'ether1' }],
    [NAT]: ['*1', '*2', '*3', '*4'].map((id) => ({ '.id': id, chain: 'c', action: 'return', comment: id })),
  },
});
const order = (s: RouterState) => (s.menus[NAT] ?? []).map((entry) => entry.comment);
const entry = { chain: 'c', action: 'accept', comment: 'new' };

describe('applyPlanToState', () => {
  it.each<{ story: string; ops: Op[]; order: string[] }>([
    { story: 'add appends', ops: [{ op: 'add', menu: NAT, entry }], order: ['*1', '*2', '*3', '*4', 'new'] },
    { story: 'add with place-before inserts', ops: [{ op: 'add', menu: NAT, entry, placeBefore: '*2' }], order: ['*1', 'new', '*2', '*3', '*4'] },
    { story: 'remove takes several ids', ops: [{ op: 'remove', menu: NAT, ids: ['*1', '*3'] }], order: ['*2', '*4'] },
    { story: 'move puts a block before the destination', ops: [{ op: 'move', menu: NAT, ids: ['*4', '*3'], destination: '*1' }], order: ['*4', '*3', '*1', '*2'] },
    { story: 'move without destination goes to the end', ops: [{ op: 'move', menu: NAT, ids: ['*1'] }], order: ['*2', '*3', '*4', '*1'] },
    { story: 'move before a moved entry lands where it was', ops: [{ op: 'move', menu: NAT, ids: ['*1', '*3'], destination: '*3' }], order: ['*2', '*1', '*3', '*4'] },
  ])('$story', ({ ops, order: expected }) => {
    expect(order(applyPlanToState(state(), ops))).toEqual(expected);
  });

  it('gives new entries fresh ids above every id of the router, never reused', () => {
    const after = applyPlanToState(state(), [
      { op: 'add', menu: NAT, entry },
      { op: 'remove', menu: NAT, ids: ['*1'] },
      { op: 'add', menu: '/ip/firewall/filter', entry },
    ]);
    expect(after.menus[NAT]?.at(-1)?.['.id']).toBe('*B');
    expect(after.menus['/ip/firewall/filter']).toEqual([{ '.id': '*C', ...entry }]);
  });

  it('sets only the changed properties and leaves the input state alone', () => {
    const before = state();
    const after = applyPlanToState(before, [{ op: 'set', menu: NAT, id: '*2', changes: { action: 'accept' } }]);
    expect(after.menus[NAT]?.[1]).toEqual({ '.id': '*2', chain: 'c', action: 'accept', comment: '*2' });
    expect(before).toEqual(state());
  });

  it.each<Op>([
    { op: 'set', menu: NAT, id: '*9', changes: {} },
    { op: 'remove', menu: NAT, ids: ['*9'] },
    { op: 'move', menu: NAT, ids: ['*1'], destination: '*9' },
    { op: 'add', menu: NAT, entry, placeBefore: '*9' },
  ])('refuses a $op naming an item that does not exist', (op) => {
    expect(() => applyPlanToState(state(), [op])).toThrow(/no such item \*9/);
  });
});

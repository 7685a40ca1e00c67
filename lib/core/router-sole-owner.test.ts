import { describe, expect, it } from 'vitest';
import { applyPlanToState, type Op } from '../router/index.js';
import type { RouterEntry } from '../router/state.js';
import { partitionState, soleOwnerOf } from './router-program.js';

/**
 * A resync keeps its whole read of the router after an owner's write only when the write
 * touched that owner's share of it alone (soleOwnerOf): every other owner's share of a read
 * taken after the write is then its share of the one before.
 */
const A = 'mikrolb:default:svc=uid-a';
const B = 'mikrolb:default:svc=uid-b';
const STATE: Record<string, RouterEntry[]> = {
  '/ip/firewall/nat': [
    { '.id': '*1', chain: 'dstnat', action: 'jump', 'jump-target': 'mikrolb-lb', comment: 'mikrolb:default:global:nat-dstnat-jump-lb' },
    { '.id': '*2', chain: 'dstnat', action: 'dst-nat', protocol: 'tcp', 'dst-port': '2222', 'to-addresses': '10.0.0.9', comment: 'ssh forward' },
    { '.id': '*3', chain: 'mikrolb-lb', action: 'jump', 'jump-target': 'mikrolb-svc-a', 'dst-address': '192.0.2.10', comment: `${A}:lb-jump:192.0.2.10` },
    { '.id': '*4', chain: 'mikrolb-lb', action: 'jump', 'jump-target': 'mikrolb-svc-b', 'dst-address': '192.0.2.11', comment: `${B}:lb-jump:192.0.2.11` },
    { '.id': '*5', chain: 'mikrolb-svc-a', action: 'dst-nat', 'to-addresses': '10.0.0.1', comment: `${A}:dnat:tcp/80:0` },
  ],
  '/ip/firewall/address-list': [
    { '.id': '*6', list: 'mikrolb-lb', address: '192.0.2.10', comment: `${A}:lb-list:192.0.2.10` },
    { '.id': '*7', list: 'mikrolb-lb', address: '192.0.2.20', comment: 'mikrolb:default:svc=ip-192-0-2-20:lb-list:192.0.2.20' },
  ],
};
const NAT = '/ip/firewall/nat';
const LIST = '/ip/firewall/address-list';

describe('the one owner whose share of a whole read some ops changed', () => {
  it.each<[string, Op[], string | undefined]>([
    ['its endpoint changed', [{ op: 'set', menu: NAT, id: '*5', changes: { 'to-addresses': '10.0.0.2' } }], 'uid-a'],
    ['a rule added, placed before its own', [{ op: 'add', menu: NAT, entry: { chain: 'mikrolb-svc-a', action: 'dst-nat', 'to-addresses': '10.0.0.3', comment: `${A}:dnat:tcp/80:1` }, placeBefore: '*5' }], 'uid-a'],
    ['its entries moved and removed', [{ op: 'move', menu: NAT, ids: ['*5'], destination: '*3' }, { op: 'remove', menu: LIST, ids: ['*6'] }], 'uid-a'],
    ['a global rule added too', [{ op: 'set', menu: NAT, id: '*5', changes: { 'to-addresses': '10.0.0.2' } }, { op: 'add', menu: NAT, entry: { chain: 'srcnat', action: 'jump', 'jump-target': 'mikrolb-snat', comment: 'mikrolb:default:global:nat-srcnat-jump-snat' } }], undefined],
    ['a global rule moved', [{ op: 'move', menu: NAT, ids: ['*1'] }], undefined],
    ['a shared address\'s entry written', [{ op: 'set', menu: LIST, id: '*7', changes: { comment: 'mikrolb:default:svc=uid-a:lb-list:192.0.2.20' } }], undefined],
    ['another Service\'s entry', [{ op: 'remove', menu: NAT, ids: ['*5', '*4'] }], undefined],
    ['its rule set into a built-in chain', [{ op: 'set', menu: NAT, id: '*5', changes: { chain: 'dstnat' } }], undefined],
    ['an entry the read does not hold', [{ op: 'remove', menu: NAT, ids: ['*99'] }], undefined],
    ['nothing', [], undefined],
  ])('%s', (_, ops, sole) => {
    expect(soleOwnerOf(STATE)(ops)).toBe(sole);
  });

  it('when it is one owner, every other owner\'s share of the state after the ops is its share before', () => {
    const ops: Op[] = [
      { op: 'add', menu: NAT, entry: { chain: 'mikrolb-svc-a', action: 'dst-nat', 'to-addresses': '10.0.0.3', comment: `${A}:dnat:tcp/80:1` }, placeBefore: '*5' },
      { op: 'move', menu: NAT, ids: ['*3'], destination: '*2' },
      { op: 'remove', menu: LIST, ids: ['*6'] },
    ];
    expect(soleOwnerOf(STATE)(ops)).toBe('uid-a');
    const after = applyPlanToState({ version: '7.19.1', menus: STATE }, ops).menus;
    for (const [uid, also] of [['uid-b', []], ['uid-b', ['ip-192-0-2-20']], ['uid-c', []]] as const) {
      expect(partitionState(after)(uid, also)).toEqual(partitionState(STATE)(uid, also));
    }
    expect(partitionState(after)('uid-a')).not.toEqual(partitionState(STATE)('uid-a'));
  });
});

import { describe, expect, it } from 'vitest';
import type { IPFamily } from '../ip/index.js';
import { IPAllocationSchema } from '../k8s/schemas.js';
import { applyPlanToState, type Op } from '../router/index.js';
import { baseRouter, webService } from '../router/test-support.js';
import type { RouterEntry } from '../router/state.js';
import { createTracer } from '../../test/tracer/index.js';
import type { AdvertisementWant } from './program-model.js';
import { partitionState, planOwner, programOwner, readsFor, type OwnerProgram } from './router-program.js';
import { connectRouter } from '../routeros/client/index.js';
import { startRouterSim } from '../routeros/sim/index.js';

/**
 * Addresses the router itself holds are refused before anything is written: the story of the
 * security review (pool 192.0.2.0/24, a tenant asks for 192.0.2.1, the router's LAN address).
 */

const UID = webService().uid;

function want(family: IPFamily, address: string, name: string): AdvertisementWant {
  const allocation = IPAllocationSchema.parse({ apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name, uid: `${name}-uid` }, spec: { address }, status: { phase: 'Allocated', address } });
  return { allocation, family, address, advertise: true, interfaceName: 'ether1', pool: 'lan' };
}

function owner(addresses: { family: IPFamily; address: string }[]): OwnerProgram {
  return {
    uid: UID,
    service: webService({ lbAddresses: addresses, snatAddresses: addresses }),
    adverts: addresses.map((a, i) => want(a.family, a.address, `ip-${i}`)),
  };
}

const state = (extra: Record<string, RouterEntry[]> = {}): Record<string, RouterEntry[]> => {
  const menus = { ...baseRouter().menus };
  for (const [menu, entries] of Object.entries(extra)) menus[menu] = [...(menus[menu] ?? []), ...entries];
  return menus;
};

/** Every address an op writes or names, as text. */
const mentioned = (ops: readonly Op[]): string => JSON.stringify(ops.filter((op) => op.op === 'add' || op.op === 'set'));

describe('planOwner refuses an address the router itself holds', () => {
  it.each<{ story: string; family: IPFamily; address: string; extra: Record<string, RouterEntry[]>; refused: boolean }>([
    { story: "the router's LAN address (192.0.2.1/24 on ether1)", family: 'IPv4', address: '192.0.2.1', extra: {}, refused: true },
    { story: 'a DHCP client address (dynamic, even with a comment that looks like ours)', family: 'IPv4', address: '192.0.2.77',
      extra: { '/ip/address': [{ '.id': '*90', address: '192.0.2.77/24', interface: 'ether1', dynamic: 'true', comment: `mikrolb:svc=${UID}:adv:192.0.2.77` }] }, refused: true },
    { story: 'an operator\'s /32 with a comment of its own', family: 'IPv4', address: '192.0.2.50',
      extra: { '/ip/address': [{ '.id': '*91', address: '192.0.2.50/32', interface: 'ether1', comment: 'vpn endpoint' }] }, refused: true },
    { story: "the router's IPv6 address", family: 'IPv6', address: '2001:db8:ffff::1', extra: {}, refused: true },
    { story: 'our own advertisement of the address', family: 'IPv4', address: '192.0.2.15',
      extra: { '/ip/address': [{ '.id': '*92', address: '192.0.2.15/32', interface: 'ether1', comment: `mikrolb:svc=${UID}:adv:192.0.2.15` }] }, refused: false },
    { story: 'another host of the router\'s subnet', family: 'IPv4', address: '192.0.2.15', extra: {}, refused: false },
    { story: 'our own advertisement, tagged with our cluster\'s name', family: 'IPv4', address: '192.0.2.15',
      extra: { '/ip/address': [{ '.id': '*93', address: '192.0.2.15/32', interface: 'ether1', comment: `mikrolb:default:svc=${UID}:adv:192.0.2.15` }] }, refused: false },
    // our advertisement widened by hand into an interface address: the planner never touches an
    // address wider than a host (it is the router's now), so neither is it ours to stand beside
    { story: 'a /24 address whose comment is our tag (our advertisement widened by hand)', family: 'IPv4', address: '192.0.2.60',
      extra: { '/ip/address': [{ '.id': '*95', address: '192.0.2.60/24', interface: 'ether2', comment: `mikrolb:default:svc=${UID}:adv:192.0.2.60` }] }, refused: true },
    { story: 'a /64 IPv6 address whose comment is our tag', family: 'IPv6', address: '2001:db8:5::60',
      extra: { '/ipv6/address': [{ '.id': '*96', address: '2001:db8:5::60/64', interface: 'ether2', comment: `mikrolb:default:svc=${UID}:adv:2001:db8:5::60` }] }, refused: true },
  ])('$story: refused $refused', ({ family, address, extra, refused }) => {
    const result = planOwner(owner([{ family, address }]), state(extra));
    const outcome = result.outcomes.get('ip-0');
    if (refused) {
      expect(outcome).toMatchObject({ kind: 'refused', reason: 'AddressInUseByRouter', message: expect.stringContaining(`Address ${address} of pool lan is the router's own`) });
      expect(mentioned(result.ops)).not.toContain(address);
    } else {
      expect(outcome).toMatchObject({ kind: 'advertised' });
      expect(mentioned(result.ops)).toContain(address);
    }
  });

  it('refuses before writing anything: no input reject, no dst-nat, no list entry for the address; the router still serves itself there', () => {
    const before = baseRouter();
    const result = planOwner(owner([{ family: 'IPv4', address: '192.0.2.1' }]), before.menus);
    expect(mentioned(result.ops)).not.toContain('192.0.2.1');
    const after = applyPlanToState(before, result.ops);
    const tracer = createTracer(after);
    expect(tracer.trace({ srcAddress: '10.0.0.9', srcPort: 40000, dstAddress: '192.0.2.1', dstPort: 53, protocol: 'udp' })).toMatchObject({ ok: true, dstAddress: '192.0.2.1', verdict: 'accept' });
  });

  it('the other address of the Service is programmed; entries already written for the refused one are removed', () => {
    const both = owner([{ family: 'IPv4', address: '192.0.2.15' }, { family: 'IPv4', address: '192.0.2.50' }]);
    const first = planOwner(both, state());
    const programmed = applyPlanToState(baseRouter(), first.ops);
    // the operator puts 192.0.2.50 on the router afterwards
    programmed.menus['/ip/address'] = [...(programmed.menus['/ip/address'] ?? []), { '.id': '*99', address: '192.0.2.50/24', interface: 'bridge' }];
    const second = planOwner(both, programmed.menus);
    expect(second.outcomes.get('ip-0')).toMatchObject({ kind: 'advertised' });
    expect(second.outcomes.get('ip-1')).toMatchObject({ kind: 'refused' });
    const after = applyPlanToState(programmed, second.ops);
    const left = Object.values(after.menus).flat().filter((e) => (e.comment ?? '').startsWith('mikrolb:') && JSON.stringify(e).includes('192.0.2.50'));
    expect(left).toEqual([]);
    expect(after.menus['/ip/address']).toContainEqual(expect.objectContaining({ address: '192.0.2.50/24', interface: 'bridge' }));
    expect(after.menus['/ip/address']).toContainEqual(expect.objectContaining({ address: '192.0.2.15/32' }));
  });

  it('a refusal keeps the installation\'s cluster name: the other address\'s entries are tagged with it', () => {
    const both = { ...owner([{ family: 'IPv4', address: '192.0.2.1' }, { family: 'IPv4', address: '192.0.2.50' }]), cluster: 'lab' };
    const result = planOwner(both, state());
    expect(result.outcomes.get('ip-0')).toMatchObject({ kind: 'refused' });
    const comments = result.ops.flatMap((op) => (op.op === 'add' ? [op.entry.comment ?? ''] : []));
    expect(comments.length).toBeGreaterThan(0);
    expect(comments.every((c) => c.startsWith('mikrolb:lab:'))).toBe(true);
  });

  it('the narrowed read asks the router for any entry holding the addresses, whatever its prefix length', () => {
    const reads = readsFor(owner([{ family: 'IPv4', address: '192.0.2.1' }, { family: 'IPv6', address: '2001:db8:ffff::1' }]));
    const v4 = reads.find((r) => r.menu === '/ip/address')?.query ?? [];
    const v6 = reads.find((r) => r.menu === '/ipv6/address')?.query ?? [];
    for (const len of [0, 24, 32]) expect(v4).toContain(`?address=192.0.2.1/${len}`);
    for (const len of [0, 64, 128]) expect(v6).toContain(`?address=2001:db8:ffff::1/${len}`);
  });
});

describe('planOwner refuses an address another cluster sharing the router advertises', () => {
  const theirs: RouterEntry = { '.id': '*94', address: '192.0.2.15/32', interface: 'ether1', comment: 'mikrolb:west:svc=their-uid:adv:192.0.2.15' };

  it('is refused, naming the cluster, and nothing of ours is written for it', () => {
    const result = planOwner(owner([{ family: 'IPv4', address: '192.0.2.15' }]), state({ '/ip/address': [theirs] }));
    expect(result.outcomes.get('ip-0')).toMatchObject({
      kind: 'refused', reason: 'AddressInUseByRouter',
      message: expect.stringContaining('is the router\'s own (192.0.2.15/32 on ether1, added by the MikroLB of cluster "west")'),
    });
    expect(mentioned(result.ops)).not.toContain('192.0.2.15');
  });

  it('is ours in the cluster that wrote it', () => {
    const result = planOwner({ ...owner([{ family: 'IPv4', address: '192.0.2.15' }]), cluster: 'west' }, state({ '/ip/address': [theirs] }));
    expect(result.outcomes.get('ip-0')).toMatchObject({ kind: 'advertised' });
  });

  it('a tag without a cluster belongs to the cluster default, not to another', () => {
    const legacy: RouterEntry = { ...theirs, comment: `mikrolb:svc=${UID}:adv:192.0.2.15` };
    const result = planOwner({ ...owner([{ family: 'IPv4', address: '192.0.2.15' }]), cluster: 'west' }, state({ '/ip/address': [legacy] }));
    expect(result.outcomes.get('ip-0')).toMatchObject({ kind: 'refused', message: expect.stringContaining('added by the MikroLB of cluster "default"') });
  });
});

describe('an entry of the LB address list that is not this cluster\'s holds the address', () => {
  const LIST = '/ip/firewall/address-list';
  const byHand: RouterEntry = { '.id': '*95', list: 'mikrolb-lb', address: '192.0.2.15', comment: 'test by hand' };
  // another cluster's address of a pool with advertise: false: its list entry, no advertisement
  const west: RouterEntry = { '.id': '*96', list: 'mikrolb-lb', address: '192.0.2.15', comment: 'mikrolb:west:svc=their-uid:lb-list:192.0.2.15' };

  it.each<{ story: string; entry: RouterEntry; whose: string }>([
    { story: 'made by hand', entry: byHand, whose: 'entry *95, comment "test by hand", not added by MikroLB' },
    { story: 'another cluster\'s (a pool with advertise: false)', entry: west, whose: 'entry *96, added by the MikroLB of cluster "west"' },
  ])('$story: refused, naming the entry, and nothing of ours is written for it', ({ entry, whose }) => {
    const result = planOwner(owner([{ family: 'IPv4', address: '192.0.2.15' }]), state({ [LIST]: [entry] }));
    expect(result.outcomes.get('ip-0')).toMatchObject({
      kind: 'refused', reason: 'AddressInUseByRouter',
      message: expect.stringContaining(`Address 192.0.2.15 of pool lan is in the router's address list mikrolb-lb already (${whose})`),
    });
    expect(mentioned(result.ops)).not.toContain('192.0.2.15');
  });

  it('our own entry, and an entry of another list, do not', () => {
    const ours: RouterEntry = { '.id': '*97', list: 'mikrolb-lb', address: '192.0.2.15', comment: `mikrolb:default:svc=${UID}:lb-list:192.0.2.15` };
    const otherList: RouterEntry = { '.id': '*98', list: 'office', address: '192.0.2.15', comment: 'test by hand' };
    const result = planOwner(owner([{ family: 'IPv4', address: '192.0.2.15' }]), state({ [LIST]: [ours, otherList] }));
    expect(result.outcomes.get('ip-0')).toMatchObject({ kind: 'advertised' });
  });

  it('program against the simulator: the allocation is refused with that message, not a BackendError after four conflicts', async () => {
    const sim = await startRouterSim({ initialState: { ...baseRouter(), menus: { ...baseRouter().menus, [LIST]: [west] } }, users: [{ name: 'mikrolb', password: 'pw' }] });
    const client = connectRouter({ url: sim.url, username: 'mikrolb', password: 'pw', timeoutMs: 5000 });
    try {
      const result = await programOwner(client, owner([{ family: 'IPv4', address: '192.0.2.15' }]));
      expect(result.outcomes.get('ip-0')).toMatchObject({ kind: 'refused', message: expect.stringContaining('added by the MikroLB of cluster "west"') });
      const after = sim.state();
      expect(after.menus[LIST]).toEqual([west]);
      expect(JSON.stringify(after.menus['/ip/address'])).not.toContain('192.0.2.15');
    } finally {
      await client.close();
      await sim.close();
    }
  });
});

describe('a resync\'s whole read, split by owner, shows each owner the LB list entries that are not this cluster\'s', () => {
  it('so the owner is refused there too', () => {
    const west: RouterEntry = { '.id': '*96', list: 'mikrolb-lb', address: '192.0.2.15', comment: 'mikrolb:west:svc=their-uid:lb-list:192.0.2.15' };
    const view = partitionState(state({ '/ip/firewall/address-list': [west] }))(UID);
    expect(view['/ip/firewall/address-list']).toEqual([west]);
    expect(planOwner(owner([{ family: 'IPv4', address: '192.0.2.15' }]), view).outcomes.get('ip-0')).toMatchObject({ kind: 'refused' });
  });
});

describe('a resync\'s whole read, split by owner, shows every owner an address wider than a host, whatever its comment', () => {
  it.each([
    ['its own tag', UID],
    ['another Service\'s tag', 'other-uid'],
  ])('with %s: the owner is refused there as in its narrowed read', (_story, tagged) => {
    const widened: RouterEntry = { '.id': '*97', address: '192.0.2.60/24', interface: 'ether2', comment: `mikrolb:default:svc=${tagged}:adv:192.0.2.60` };
    const view = partitionState(state({ '/ip/address': [widened] }))(UID);
    expect(view['/ip/address']).toContainEqual(widened);
    expect(planOwner(owner([{ family: 'IPv4', address: '192.0.2.60' }]), view).outcomes.get('ip-0')).toMatchObject({ kind: 'refused', reason: 'AddressInUseByRouter' });
  });
});

describe('a resync\'s whole read, split by owner, shows each owner the advertisements that are not this cluster\'s', () => {
  // another cluster's SNAT-only Service: its address is advertised but in no LB list
  const west: RouterEntry = { '.id': '*98', address: '192.0.2.15/32', interface: 'ether2', comment: 'mikrolb:west:svc=their-uid:adv:192.0.2.15' };

  it('so the owner is refused there as in its narrowed read', () => {
    const view = partitionState(state({ '/ip/address': [west] }))(UID);
    expect(view['/ip/address']).toContainEqual(west);
    expect(planOwner(owner([{ family: 'IPv4', address: '192.0.2.15' }]), view).outcomes.get('ip-0')).toMatchObject({
      kind: 'refused', reason: 'AddressInUseByRouter', message: expect.stringContaining('added by the MikroLB of cluster "west"'),
    });
  });

  it('and in the cluster that wrote it, it stays its owner\'s alone', () => {
    const view = partitionState(state({ '/ip/address': [west] }), 'west');
    expect(view(UID)['/ip/address']).not.toContainEqual(west);
    expect(view('their-uid')['/ip/address']).toContainEqual(west);
  });
});

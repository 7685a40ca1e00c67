import { describe, expect, it } from 'vitest';
import type { Op } from '../../router/ops.js';
import { connectRouter } from './client.js';
import { isAlreadyExists, isBadArgument, isNotFound, isPermission, isRouterError, type RouterError } from '../../router/errors.js';
import { client, sim, USER } from './test-support.js';

const NAT = '/ip/firewall/nat';
const caught = (promise: Promise<unknown>): Promise<RouterError> =>
  promise.then(
    () => expect.fail('expected a RouterError'),
    (error: unknown) => (isRouterError(error) ? error : expect.fail(`expected a RouterError, got ${String(error)}`)),
  );

describe('the router client against the simulator', () => {
  it('connects lazily, then keeps one connection for every call', async () => {
    const router = await sim();
    const api = client(router);
    expect(router.stats.connections).toBe(0);
    await api.print('/interface');
    await api.print('/ip/address');
    await api.version();
    expect(router.stats.connections).toBe(1);
    expect(api.stats).toEqual({ commands: 3, roundTrips: 3, connects: 1 });
  });

  it.each(['7.19.1', '7.18', '7.17.2'])('returns [] for a print that matches nothing on %s (!empty from 7.18)', async (version) => {
    const router = await sim({ version });
    const api = client(router);
    expect(await api.print(NAT, { query: ['?comment=nothing'] })).toEqual([]);
    expect(await api.print('/ip/address')).toEqual([]);
    expect(await api.version()).toBe(version);
  });

  it('returns raw strings under the router property names', async () => {
    const api = client(await sim());
    const id = await api.add(NAT, { chain: 'dstnat', action: 'dst-nat', 'dst-address': '192.0.2.10', 'to-addresses': '10.0.0.1', comment: '123' });
    const [rule] = await api.print(NAT, { query: [`?.id=${id}`] });
    expect(rule).toMatchObject({ '.id': id, 'dst-address': '192.0.2.10', 'to-addresses': '10.0.0.1', comment: '123', disabled: 'false' });
    const [only] = await api.print(NAT, { proplist: ['.id', 'comment'] });
    expect(only).toEqual({ '.id': id, comment: '123' });
  });

  it('adds before, sets, moves and removes by id', async () => {
    const router = await sim();
    const api = client(router);
    const a = await api.add(NAT, { chain: 'dstnat', comment: 'a' });
    const b = await api.add(NAT, { chain: 'dstnat', comment: 'b' });
    const c = await api.add(NAT, { chain: 'dstnat', comment: 'c' }, a);
    const comments = async (): Promise<(string | undefined)[]> => (await api.print(NAT)).map((rule) => rule.comment);
    expect(await comments()).toEqual(['c', 'a', 'b']);
    await api.move(NAT, [b], c);
    expect(await comments()).toEqual(['b', 'c', 'a']);
    await api.set(NAT, a, { comment: 'a2', disabled: 'true' });
    await api.remove(NAT, [b, c]);
    expect(await api.print(NAT)).toMatchObject([{ '.id': a, comment: 'a2', disabled: 'true' }]);
  });

  it('writes by id only: a missing id is isNotFound and nothing else changes', async () => {
    const router = await sim();
    const api = client(router);
    await api.add(NAT, { chain: 'dstnat', comment: 'keep-1' });
    await api.add(NAT, { chain: 'srcnat', comment: 'keep-2' });
    const before = router.state();
    const set = await caught(api.set(NAT, '*999', { comment: 'overwritten' }));
    const removed = await caught(api.remove(NAT, ['*998']));
    expect([isNotFound(set), isNotFound(removed)]).toEqual([true, true]);
    expect(set).toMatchObject({ kind: 'trap', routerMessage: 'no such item', category: 0, command: '/ip/firewall/nat/set' });
    await api.remove(NAT, []);
    await api.move(NAT, []);
    expect(router.state()).toEqual(before);
    const untagged = router.commandLog().map((words) => words.filter((word) => !word.startsWith('.tag=')));
    expect(untagged.slice(-2)).toEqual([
      ['/ip/firewall/nat/set', '=.id=*999', '=comment=overwritten'],
      ['/ip/firewall/nat/remove', '=.id=*998'],
    ]);
  });

  it('refuses ids, menus and non-ASCII values before sending anything', async () => {
    const router = await sim();
    const api = client(router);
    const refused = await Promise.all([
      caught(api.add('/ip/address', { address: '192.0.2.1/24', interface: 'ether1', comment: 'mikrolb: café' })),
      caught(api.set(NAT, 'chain=dstnat', { comment: 'x' })),
      caught(api.remove(NAT, [''])),
      caught(api.print('ip address')),
      caught(api.print(NAT, { query: ['comment=x'] })),
    ]);
    expect(refused.map((error) => [error.kind, isBadArgument(error)])).toEqual(Array(5).fill(['input', true]));
    expect(refused[0]?.message).toMatch(/comment "mikrolb: café" holds non-ASCII characters/);
    expect(router.stats.commands).toBe(0);
  });

  it('recognises the router traps with predicates', async () => {
    const router = await sim();
    const api = client(router);
    await api.add('/ip/address', { address: '192.0.2.1/24', interface: 'ether1' });
    const duplicate = await caught(api.add('/ip/address', { address: '192.0.2.1/24', interface: 'ether1' }));
    const badInterface = await caught(api.add('/ip/address', { address: '192.0.2.2/24', interface: 'nope' }));
    const badValue = await caught(api.add('/ip/address', { address: 'not-an-address', interface: 'ether1' }));
    const unknown = await caught(api.add(NAT, { chain: 'dstnat', colour: 'red' }));
    expect([isAlreadyExists(duplicate), isBadArgument(badInterface), isBadArgument(badValue), isBadArgument(unknown)]).toEqual([true, true, true, true]);
    expect(unknown.message).toBe('/ip/firewall/nat/add: unknown parameter colour');
    const reader = client(router, { username: 'reader', password: 'ro' });
    const denied = await caught(reader.add(NAT, { chain: 'dstnat' }));
    expect([isPermission(denied), isNotFound(denied), isBadArgument(denied)]).toEqual([true, false, false]);
    expect(await reader.print('/ip/address')).toHaveLength(1);
  });

  it('reads five menus in one round trip, all in flight at once', async () => {
    const router = await sim();
    const api = client(router);
    await api.version();
    const menus = ['/ip/address', '/ip/firewall/address-list', '/ip/firewall/filter', '/ip/firewall/mangle', NAT];
    const [commands, trips] = [router.stats.commands, api.stats.roundTrips];
    router.faults.delayReplies(300);
    const read = await api.readMany(menus);
    expect(Object.keys(read)).toEqual(menus);
    // Pipelined: all five prints go out before the first reply comes back (one round trip), so a
    // slow router costs one delay, not five.
    expect(api.stats.roundTrips - trips).toBe(1);
    expect(router.stats.commands - commands).toBe(5);
  });

  it('executes planner ops in one round trip and reports the op that failed', async () => {
    const router = await sim();
    const api = client(router);
    const keep = await api.add(NAT, { chain: 'dstnat', comment: 'mikrolb:keep' });
    const ops: Op[] = [
      { op: 'add', menu: NAT, entry: { chain: 'dstnat', comment: 'mikrolb:new' }, placeBefore: keep },
      { op: 'set', menu: NAT, id: keep, changes: { comment: 'mikrolb:kept' } },
      { op: 'remove', menu: NAT, ids: [] },
    ];
    const result = await api.execute(ops);
    expect(result.ids).toEqual(['*6', undefined, undefined]);
    expect((await api.print(NAT)).map((rule) => rule.comment)).toEqual(['mikrolb:new', 'mikrolb:kept']);
    const failing = await caught(api.execute([...ops.slice(1), { op: 'remove', menu: NAT, ids: ['*77'] }]));
    expect(failing).toMatchObject({ opIndex: 2, routerMessage: 'no such item' });
    expect(failing.message).toBe('remove /ip/firewall/nat *77 failed: /ip/firewall/nat/remove: no such item');
    expect(isNotFound(failing)).toBe(true);
  });

  // a Service's allocations all carry the message of its failed write: the address says which
  // of them (which pool's interface) the router refused
  it('names the address of an add the router refused', async () => {
    const router = await sim();
    const api = client(router);
    const failing = await caught(api.execute([
      { op: 'add', menu: '/ip/firewall/address-list', entry: { list: 'mikrolb-lb', address: '192.0.2.50', comment: 'mikrolb:list' } },
      { op: 'add', menu: '/ip/address', entry: { address: '192.0.2.50/32', interface: 'ether99', comment: 'mikrolb:adv' } },
    ]));
    expect(failing.message).toBe('add /ip/address 192.0.2.50/32 failed: /ip/address/add: input does not match any value of interface');
  });

  it('rejects a bad configuration with one clear line', () => {
    const bad = (url: string): unknown => () => connectRouter({ url, username: USER.name, password: USER.password });
    expect(bad('http://router:8728')).toThrow(/router URL must look like api:\/\/host\[:8728\] or api-ssl:\/\/host\[:8729\]/);
    expect(bad('api://u:p@router')).toThrow(/must not hold credentials/);
  });
});

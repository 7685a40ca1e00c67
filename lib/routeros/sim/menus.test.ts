import { afterEach, describe, expect, it } from 'vitest';
import type { RouterState } from '../../router/state.js';
import { startLoggedIn, type SimFixture } from './testing.js';

let fixture: SimFixture | undefined;
afterEach(async () => {
  await fixture?.stop();
  fixture = undefined;
});

async function router(options: Parameters<typeof startLoggedIn>[0] = {}): Promise<SimFixture> {
  fixture = await startLoggedIn(options);
  return fixture;
}

const ids = (state: RouterState, menu: string): (string | undefined)[] => state.menus[menu]?.map((e) => e['.id']) ?? [];

describe('firewall rules', () => {
  it('adds at the end, or before place-before, and returns =ret=*ID', async () => {
    const { client, sim } = await router();
    const a = (await client.command(['/ip/firewall/nat/add', '=chain=dstnat', '=action=dst-nat', '=to-addresses=10.0.0.1'])).done.ret;
    const b = (await client.command(['/ip/firewall/nat/add', '=chain=srcnat', '=action=masquerade'])).done.ret;
    const c = (await client.command(['/ip/firewall/nat/add', '=chain=dstnat', `=place-before=${a}`])).done.ret;
    expect([a, b, c]).toEqual(['*5', '*6', '*7']);
    expect(ids(sim.state(), '/ip/firewall/nat')).toEqual(['*7', '*5', '*6']);
  });

  it('prints stored values with the defaults a router shows', async () => {
    const { client } = await router();
    await client.command(['/ip/firewall/nat/add', '=chain=dstnat', '=action=dst-nat', '=nth=3,1', '=dst-port=80', '=protocol=tcp']);
    const [rule] = (await client.command(['/ip/firewall/nat/print'])).items;
    expect(rule).toEqual({
      '.id': '*5', chain: 'dstnat', action: 'dst-nat', protocol: 'tcp', 'dst-port': '80', nth: '3,1',
      log: 'false', 'log-prefix': '', disabled: 'false', bytes: '0', packets: '0', invalid: 'false', dynamic: 'false',
    });
  });

  it('sets by .id or numbers, several at once, storing booleans as true/false', async () => {
    const { client, sim } = await router();
    await client.command(['/ip/firewall/filter/add', '=chain=input']);
    await client.command(['/ip/firewall/filter/add', '=chain=forward']);
    expect((await client.command(['/ip/firewall/filter/set', '=.id=*5', '=comment=mikrolb:a'])).trap).toBeNull();
    expect((await client.command(['/ip/firewall/filter/set', '=numbers=*5,*6', '=disabled=yes'])).trap).toBeNull();
    expect(sim.state().menus['/ip/firewall/filter']).toEqual([
      { '.id': '*5', chain: 'input', comment: 'mikrolb:a', disabled: 'true' },
      { '.id': '*6', chain: 'forward', disabled: 'true' },
    ]);
  });

  it('unsets a property back to its default', async () => {
    const { client } = await router();
    await client.command(['/ip/firewall/nat/add', '=chain=dstnat', '=comment=x', '=log=yes']);
    await client.command(['/ip/firewall/nat/unset', '=numbers=*5', '=value-name=comment,log']);
    const [rule] = (await client.command(['/ip/firewall/nat/print'])).items;
    expect(rule?.comment).toBeUndefined();
    expect(rule?.log).toBe('false');
    expect((await client.command(['/ip/firewall/nat/unset', '=numbers=*5', '=value-name=chain'])).trap?.message).toBe(
      'invalid value for argument value-name',
    );
  });

  it('moves rules before a destination, or to the end', async () => {
    const { client, sim } = await router();
    for (const chain of ['a', 'b', 'c', 'd']) await client.command(['/ip/firewall/mangle/add', `=chain=${chain}`]);
    await client.command(['/ip/firewall/mangle/move', '=numbers=*8,*7', '=destination=*5']);
    expect(ids(sim.state(), '/ip/firewall/mangle')).toEqual(['*8', '*7', '*5', '*6']);
    await client.command(['/ip/firewall/mangle/move', '=numbers=*8']);
    expect(ids(sim.state(), '/ip/firewall/mangle')).toEqual(['*7', '*5', '*6', '*8']);
  });

  it('keeps a builtin dynamic rule where it is: nothing moves it or goes before it', async () => {
    const dummy = { '.id': '*A0', chain: 'forward', action: 'passthrough', dynamic: 'true', comment: 'special dummy rule to show fasttrack counters' };
    const { client, sim } = await router({
      initialState: { version: '7.19.1', menus: { '/ip/firewall/filter': [dummy, { '.id': '*1', chain: 'forward', action: 'fasttrack-connection' }] } },
    });
    const builtin = { message: 'failure: cannot move builtin' };
    expect((await client.command(['/ip/firewall/filter/add', '=chain=forward', '=place-before=*A0'])).trap).toEqual(builtin);
    expect((await client.command(['/ip/firewall/filter/move', '=numbers=*1', '=destination=*A0'])).trap).toEqual(builtin);
    expect((await client.command(['/ip/firewall/filter/move', '=numbers=*A0'])).trap).toEqual(builtin);
    expect((await client.command(['/ip/firewall/filter/add', '=chain=forward', '=place-before=*1'])).trap).toBeNull();
    expect(ids(sim.state(), '/ip/firewall/filter')).toEqual(['*A0', '*A1', '*1']);
  });

  it('removes by .id and by numbers lists', async () => {
    const { client, sim } = await router();
    for (const chain of ['a', 'b', 'c']) await client.command(['/ip/firewall/filter/add', `=chain=${chain}`]);
    await client.command(['/ip/firewall/filter/remove', '=.id=*6']);
    await client.command(['/ip/firewall/filter/remove', '=numbers=*5,*7']);
    expect(sim.state().menus['/ip/firewall/filter']).toEqual([]);
  });

  it('disables and enables', async () => {
    const { client, sim } = await router();
    await client.command(['/ip/firewall/filter/add', '=chain=a']);
    await client.command(['/ip/firewall/filter/disable', '=numbers=*5']);
    expect(sim.state().menus['/ip/firewall/filter']?.[0]?.disabled).toBe('true');
    await client.command(['/ip/firewall/filter/enable', '=.id=*5']);
    expect(sim.state().menus['/ip/firewall/filter']?.[0]?.disabled).toBe('false');
  });

  it('uses to-addresses in IPv4 NAT and to-address in IPv6 NAT', async () => {
    const { client } = await router();
    expect((await client.command(['/ipv6/firewall/nat/add', '=chain=dstnat', '=action=dst-nat', '=to-address=fd00::10'])).trap).toBeNull();
    expect((await client.command(['/ipv6/firewall/nat/add', '=chain=dstnat', '=to-addresses=fd00::10'])).trap).toEqual({
      message: 'unknown parameter to-addresses', category: '1',
    });
    expect((await client.command(['/ip/firewall/nat/add', '=chain=dstnat', '=to-addresses=fd00::10'])).trap).toEqual({
      message: 'invalid value for argument to-addresses', category: '1',
    });
  });

  it.each([
    [['/ip/firewall/nat/add', '=action=dst-nat'], { message: 'missing value(s) of argument(s) chain', category: '1' }],
    [['/ip/firewall/nat/add', '=chain=x', '=action=teleport'], { message: 'input does not match any value of action', category: '1' }],
    [['/ip/firewall/nat/add', '=chain=x', '=in-interface=ether9'], { message: 'input does not match any value of in-interface', category: '1' }],
    [['/ip/firewall/nat/add', '=chain=x', '=dst-address=10.0.0.0/33'], { message: 'invalid value for argument dst-address', category: '1' }],
    [['/ip/firewall/nat/add', '=chain=x', '=nth=1,2'], { message: 'invalid value for argument nth', category: '1' }],
    [['/ip/firewall/nat/add', '=chain=x', '=bytes=5'], { message: 'unknown parameter bytes', category: '1' }],
    [['/ip/firewall/nat/add', '=chain=x', '=reject-with=tcp-reset'], { message: 'unknown parameter reject-with', category: '1' }],
    [['/ip/firewall/nat/add', '=chain=x', '=place-before=*99'], { message: 'no such item', category: '0' }],
    [['/ip/firewall/nat/set', '=.id=*99', '=comment=x'], { message: 'no such item', category: '0' }],
    [['/ip/firewall/nat/set', '=.id=*ZZ', '=comment=x'], { message: 'invalid internal item number', category: '1' }],
    [['/ip/firewall/nat/set', '=comment=x'], { message: 'missing value(s) of argument(s) numbers', category: '1' }],
    [['/ip/firewall/nat/remove', '=numbers=*99'], { message: 'no such item', category: '0' }],
    [['/ip/firewall/nat/move', '=numbers=*99'], { message: 'no such item', category: '0' }],
    [['/ip/firewall/address-list/move', '=numbers=*1'], { message: 'no such command', category: '0' }],
  ])('traps %j', async (words, trap) => {
    const { client, sim } = await router();
    const before = sim.state();
    expect((await client.command(words)).trap).toEqual(trap);
    expect(sim.state()).toEqual(before);
  });

  it('refuses a duplicate address-list entry', async () => {
    const { client } = await router();
    await client.command(['/ip/firewall/address-list/add', '=list=lb', '=address=192.0.2.1']);
    expect((await client.command(['/ip/firewall/address-list/add', '=list=lb', '=address=192.0.2.1'])).trap).toEqual({
      message: 'failure: already have such entry',
    });
    expect((await client.command(['/ip/firewall/address-list/add', '=list=other', '=address=192.0.2.1'])).trap).toBeNull();
  });

  it('prints a list entry with its creation-time, which cannot be written and stays out of the state', async () => {
    const { client, sim } = await router();
    await client.command(['/ip/firewall/address-list/add', '=list=lb', '=address=192.0.2.1']);
    expect((await client.command(['/ip/firewall/address-list/print'])).items[0]).toEqual({
      '.id': '*5', list: 'lb', address: '192.0.2.1', 'creation-time': expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
      disabled: 'false', dynamic: 'false',
    });
    expect((await client.command(['/ip/firewall/address-list/set', '=numbers=*5', '=creation-time=2025-01-01 00:00:00'])).trap).toEqual({
      message: 'unknown parameter creation-time', category: '1',
    });
    expect(sim.state().menus['/ip/firewall/address-list']).toEqual([{ '.id': '*5', list: 'lb', address: '192.0.2.1' }]);
  });
});

describe('addresses', () => {
  it('adds an address on an existing interface and derives network and actual-interface', async () => {
    const { client } = await router();
    await client.command(['/ip/address/add', '=address=192.0.2.10/24', '=interface=ether1', '=comment=mikrolb:x']);
    expect((await client.command(['/ip/address/print'])).items).toEqual([
      {
        '.id': '*5', address: '192.0.2.10/24', network: '192.0.2.0', interface: 'ether1', 'actual-interface': 'ether1',
        comment: 'mikrolb:x', disabled: 'false', invalid: 'false', dynamic: 'false',
      },
    ]);
  });

  it.each([
    [['/ip/address/add', '=address=192.0.2.10/24', '=interface=nope0'], { message: 'input does not match any value of interface', category: '1' }],
    [['/ip/address/add', '=address=192.0.2.300/24', '=interface=ether1'], { message: 'invalid value for argument address', category: '1' }],
    [['/ip/address/add', '=address=fd00::1/64', '=interface=ether1'], { message: 'invalid value for argument address', category: '1' }],
    [['/ipv6/address/add', '=address=192.0.2.1/24', '=interface=ether1'], { message: 'invalid value for argument address', category: '1' }],
    [['/ip/address/add', '=interface=ether1'], { message: 'missing value(s) of argument(s) address', category: '1' }],
    [['/ip/address/add', '=address=192.0.2.1/24', '=interface=ether1', '=network=1.2.3.0'], { message: 'unknown parameter network', category: '1' }],
  ])('traps %j', async (words, trap) => {
    const { client } = await router();
    expect((await client.command(words)).trap).toEqual(trap);
  });

  it('refuses the same address twice on one interface, but not on another', async () => {
    const { client } = await router();
    await client.command(['/ip/address/add', '=address=192.0.2.10/24', '=interface=ether1']);
    expect((await client.command(['/ip/address/add', '=address=192.0.2.10/32', '=interface=ether1'])).trap).toEqual({
      message: 'failure: already have such address',
    });
    expect((await client.command(['/ip/address/add', '=address=192.0.2.10/32', '=interface=ether2'])).trap).toBeNull();
    expect((await client.command(['/ip/address/set', '=.id=*6', '=interface=ether1'])).trap?.message).toBe('failure: already have such address');
  });

  it('keeps IPv6 addresses canonical and shows IPv6 defaults', async () => {
    const { client } = await router();
    await client.command(['/ipv6/address/add', '=address=FD00:0:0::10/64', '=interface=bridge', '=advertise=no']);
    await client.command(['/ipv6/address/add', '=address=fd00:1::10/128', '=interface=bridge']);
    const items = (await client.command(['/ipv6/address/print', '=.proplist=address,advertise,eui-64,no-dad'])).items;
    expect(items).toEqual([
      { address: 'fd00::10/64', advertise: 'false', 'eui-64': 'false', 'no-dad': 'false' },
      { address: 'fd00:1::10/128', advertise: 'false', 'eui-64': 'false', 'no-dad': 'false' },
    ]);
  });

  it('prints what a real router adds to every address: from-pool, auto-link-local, and vrf on newer releases', async () => {
    // Real v7 prints: from-pool (empty) on every IPv6 address, auto-link-local=true since 7.18,
    // vrf=main since 7.21 (IPv4) and 7.22 (IPv6); vrf cannot be written on /ip/address.
    const print = async (version: string): Promise<[Record<string, string> | undefined, Record<string, string> | undefined]> => {
      const { client } = await router({ version });
      await client.command(['/ip/address/add', '=address=192.0.2.10/32', '=interface=ether1']);
      await client.command(['/ipv6/address/add', '=address=fd00::10/128', '=interface=ether1', '=advertise=no']);
      const v4 = (await client.command(['/ip/address/print'])).items[0];
      const v6 = (await client.command(['/ipv6/address/print'])).items[0];
      await fixture?.stop();
      fixture = undefined;
      return [v4, v6];
    };
    const [v4, v6] = await print('7.22');
    expect(v4).toMatchObject({ address: '192.0.2.10/32', vrf: 'main' });
    expect(v6).toMatchObject({ address: 'fd00::10/128', 'from-pool': '', 'auto-link-local': 'true', vrf: 'main' });
    const [oldV4, oldV6] = await print('7.20.4');
    expect(oldV4?.vrf).toBeUndefined();
    expect(oldV6).toMatchObject({ 'from-pool': '', 'auto-link-local': 'true' });
    expect(oldV6?.vrf).toBeUndefined();
    const { client } = await router({ version: '7.22' });
    expect((await client.command(['/ip/address/add', '=address=192.0.2.11/32', '=interface=ether1', '=vrf=main'])).trap).toEqual({
      message: 'unknown parameter vrf', category: '1',
    });
  });

  it('prints and takes an IPv6 address property only from the release that added it', async () => {
    // auto-link-local came with 7.18, from-pool-policy (default recommended) with 7.23.
    const printed = async (version: string): Promise<{ item: Record<string, string> | undefined; traps: (string | undefined)[] }> => {
      const { client } = await router({ version });
      await client.command(['/ipv6/address/add', '=address=fd00::10/128', '=interface=ether1', '=advertise=no']);
      const traps = [
        (await client.command(['/ipv6/address/set', '=numbers=*5', '=auto-link-local=no'])).trap?.message,
        (await client.command(['/ipv6/address/set', '=numbers=*5', '=from-pool-policy=recommended'])).trap?.message,
      ];
      const item = (await client.command(['/ipv6/address/print'])).items[0];
      await fixture?.stop();
      fixture = undefined;
      return { item, traps };
    };
    const old = await printed('7.17.2');
    expect(old.traps).toEqual(['unknown parameter auto-link-local', 'unknown parameter from-pool-policy']);
    expect(Object.keys(old.item ?? {})).not.toContain('auto-link-local');
    const v722 = await printed('7.22');
    expect(v722.traps).toEqual([undefined, 'unknown parameter from-pool-policy']);
    expect(v722.item).toMatchObject({ 'auto-link-local': 'false' });
    expect(Object.keys(v722.item ?? {})).not.toContain('from-pool-policy');
    const v723 = await printed('7.23');
    expect(v723.traps).toEqual([undefined, undefined]);
    expect(v723.item).toMatchObject({ 'auto-link-local': 'false', 'from-pool-policy': 'recommended' });
  });

  it('marks an address invalid when its interface is missing (seeded)', async () => {
    const { client } = await router({
      initialState: { version: '7.19.1', menus: { '/interface': [], '/ip/address': [{ '.id': '*1', address: '10.0.0.1/24', interface: 'gone' }] } },
    });
    expect((await client.command(['/ip/address/print', '=.proplist=invalid'])).items).toEqual([{ invalid: 'true' }]);
  });
});

describe('routes, interfaces and system menus', () => {
  it('derives immediate-gw and active from connected addresses', async () => {
    const { client } = await router();
    await client.command(['/ip/address/add', '=address=10.0.0.2/24', '=interface=ether1']);
    await client.command(['/ip/route/add', '=dst-address=192.0.2.0/24', '=gateway=10.0.0.1']);
    await client.command(['/ip/route/add', '=dst-address=198.51.100.7/24', '=gateway=10.9.9.9', '=distance=5']);
    const routes = await client.command(['/ip/route/print', '=.proplist=dst-address,gateway,immediate-gw,active,distance']);
    expect(routes.items).toEqual([
      { 'dst-address': '192.0.2.0/24', gateway: '10.0.0.1', 'immediate-gw': '10.0.0.1%ether1', active: 'true', distance: '1' },
      { 'dst-address': '198.51.100.0/24', gateway: '10.9.9.9', active: 'false', distance: '5' },
      // the dynamic connected route RouterOS derives from the address
      { 'dst-address': '10.0.0.0/24', gateway: 'ether1', 'immediate-gw': 'ether1', active: 'true', distance: '0' },
    ]);
    const connected = await client.command(['/ip/route/print', '?connect=true', '=.proplist=dst-address,dynamic,connect']);
    expect(connected.items).toEqual([{ 'dst-address': '10.0.0.0/24', dynamic: 'true', connect: 'true' }]);
    const merged = await client.command(['/routing/route/print', '?active=true', '=.proplist=.id,afi,dst-address']);
    expect(merged.items).toEqual([{ '.id': '*6', afi: 'ip4', 'dst-address': '192.0.2.0/24' }, { '.id': '*80000005', afi: 'ip4', 'dst-address': '10.0.0.0/24' }]);
    await client.command(['/ip/address/disable', '=numbers=*5']);
    expect((await client.command(['/ip/route/print', '?connect=true'])).items).toEqual([]);
    expect((await client.command(['/routing/route/add', '=dst-address=1.0.0.0/8'])).trap?.message).toBe('no such command');
  });

  it('sets interfaces by name and reflects disabled in running', async () => {
    const { client } = await router();
    await client.command(['/interface/disable', '=numbers=ether2']);
    const items = (await client.command(['/interface/print', '?name=ether2', '=.proplist=name,running,disabled'])).items;
    expect(items).toEqual([{ name: 'ether2', running: 'false', disabled: 'true' }]);
  });

  it('reports the version in /system/resource and /system/package', async () => {
    const { client } = await router({ version: '7.17.2' });
    const resource = (await client.command(['/system/resource/print'])).items[0];
    expect(resource?.version).toBe('7.17.2 (stable)');
    expect(resource?.['.id']).toBeUndefined();
    expect((await client.command(['/system/package/print', '?name=routeros'])).items[0]?.version).toBe('7.17.2');
    expect((await client.command(['/system/resource/get', '=value-name=board-name'])).done.ret).toBe('CHR');
  });

  it('answers get with =ret=', async () => {
    const { client } = await router();
    expect((await client.command(['/interface/get', '=number=ether1', '=value-name=type'])).done.ret).toBe('ether');
  });
});

describe('permissions', () => {
  it('lets a read-only user print but not write', async () => {
    const { client, sim } = await router({ users: [{ name: 'viewer', password: 'v', group: 'read' }] });
    expect((await client.command(['/interface/print', '=count-only='])).done.ret).toBe('4');
    for (const words of [
      ['/ip/firewall/nat/add', '=chain=x'],
      ['/interface/set', '=numbers=ether1', '=comment=x'],
      ['/ip/firewall/nat/remove', '=numbers=*1'],
    ]) {
      expect((await client.command(words)).trap).toEqual({ message: 'not enough permissions (9)' });
    }
    expect(sim.state().menus['/ip/firewall/nat']).toBeUndefined();
  });
});

describe('seed and dump', () => {
  it('replaces the state at runtime and keeps the version with the state', async () => {
    const { client, sim } = await router();
    sim.seed({ version: '7.17', menus: { '/ip/firewall/nat': [{ '.id': '*20', chain: 'dstnat' }] } });
    // 7.17: an empty print is a bare !done.
    expect((await client.command(['/ip/firewall/filter/print'])).sentences).toEqual([['!done', '.tag=t2']]);
    expect((await client.command(['/ip/firewall/nat/add', '=chain=srcnat'])).done.ret).toBe('*21');
    expect(sim.state()).toEqual({
      version: '7.17',
      menus: { '/ip/firewall/nat': [{ '.id': '*20', chain: 'dstnat' }, { '.id': '*21', chain: 'srcnat' }] },
    });
    expect(() => sim.seed({ version: '7.17', menus: { '/nope': [] } })).toThrow('unknown menu /nope');
  });
});

describe('derived values', () => {
  // a query on a settable field (an address, a comment) never derives: only read-only fields may be derived
  const samples: Record<string, [string, string][]> = {
    '/ip/address': [['address', '10.0.0.1/24'], ['interface', 'ether1']],
    '/ipv6/address': [['address', 'fd00::1/64'], ['interface', 'ether1']],
    '/ip/route': [['dst-address', '10.9.0.0/16'], ['gateway', '10.0.0.254']],
    '/ipv6/route': [['dst-address', 'fd09::/32'], ['gateway', 'fd00::fe']],
    '/interface': [['name', 'ether1'], ['disabled', 'true']],
    '/ip/firewall/address-list': [['list', 'x'], ['address', '10.0.0.1']],
    '/ipv6/firewall/address-list': [['list', 'x'], ['address', 'fd00::1']],
  };
  const address = { id: 1, props: new Map([['address', '10.0.0.1/24'], ['interface', 'ether1']]) };
  const reader = {
    version: '7.19.1', startedAt: 0, now: () => 0, interfaceExists: () => false,
    entries: (menu: string) => (menu === '/ip/address' ? [address] : []), find: () => undefined,
  };

  it('come only from read-only fields, in every menu that derives any', async () => {
    const { MENUS } = await import('./menus.js');
    const deriving = [...MENUS.values()].filter((spec) => spec.derive !== undefined);
    expect(deriving.map((spec) => spec.path).sort()).toEqual(Object.keys(samples).sort());
    for (const spec of deriving) {
      const derived = Object.keys(spec.derive?.(new Map(samples[spec.path]), reader) ?? {});
      expect(derived.length, spec.path).toBeGreaterThan(0);
      for (const key of derived) expect(spec.fields[key]?.check, `${spec.path} ${key}`).toBeUndefined();
    }
  });
});

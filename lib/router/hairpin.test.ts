import { describe, expect, it } from 'vitest';
import type { IPFamily } from '../ip/index.js';
import type { RouterEntry } from './state.js';
import { connectedNetworks, hairpinEntries, hairpinNetworks } from './hairpin.js';

const at = (address: string, extra: Record<string, string> = {}): RouterEntry => ({ '.id': '*1', address, interface: 'bridge', disabled: 'false', ...extra });

describe('the connected networks hairpin rules cover', () => {
  it.each<[string, IPFamily, RouterEntry[], string[]]>([
    ['a LAN address gives its network', 'IPv4', [at('10.0.0.1/24')], ['10.0.0.0/24']],
    ['two addresses in one network give it once, in numeric order', 'IPv4', [at('192.0.2.1/24'), at('10.0.0.9/24'), at('10.0.0.1/24')], ['10.0.0.0/24', '192.0.2.0/24']],
    ['host addresses and MikroLB\'s advertisements are no networks', 'IPv4', [at('192.0.2.9/32'), at('192.0.2.15/24', { comment: 'mikrolb:svc=abc:adv:192.0.2.15' })], []],
    ['disabled and invalid addresses connect nothing', 'IPv4', [at('10.1.0.1/16', { disabled: 'true' }), at('10.2.0.1/16', { invalid: 'true' })], []],
    ['a foreign comment does not matter', 'IPv4', [at('10.3.0.1/16', { comment: 'defconf' })], ['10.3.0.0/16']],
    ['IPv6 link-local addresses are left out', 'IPv6', [at('fe80::1/64'), at('fd00::1/64'), at('2001:db8:ffff::1/64')], ['2001:db8:ffff::/64', 'fd00::/64']],
    ['the other family is left out', 'IPv4', [at('fd00::1/64')], []],
    ['IPv4-mapped IPv6 addresses are left out (no IPv6 traffic hairpins through them)', 'IPv6', [at('::ffff:192.168.0.1/120'), at('fd00::1/64')], ['fd00::/64']],
  ])('%s', (_story, family, addresses, want) => {
    expect(connectedNetworks(family, addresses)).toEqual(want);
  });

  it('reads back the networks its own rules cover', () => {
    const rules = hairpinEntries('IPv4', ['10.0.0.0/24', '192.0.2.0/24'])['/ip/firewall/nat'] ?? [];
    const entries = [{ '.id': '*9', chain: 'srcnat', action: 'masquerade', comment: 'defconf: masquerade' }, ...rules.map((r, i) => ({ '.id': `*${i}`, ...r }))];
    expect(hairpinNetworks(entries)).toEqual(['10.0.0.0/24', '192.0.2.0/24']);
  });

  it('reads a network once when two racing program runs both added its rule', () => {
    const [rule] = hairpinEntries('IPv6', ['2001:db8:4040::/64'])['/ipv6/firewall/nat'] ?? [];
    const entries = [{ '.id': '*1', ...rule }, { '.id': '*2', ...rule }];
    expect(hairpinNetworks(entries)).toEqual(['2001:db8:4040::/64']);
  });
});

import { describe, expect, it } from 'vitest';
import { changesBehaviour, diffEntry } from './compare.js';

const NAT = '/ip/firewall/nat';
const desired = { chain: 'mikrolb-x', action: 'dst-nat', 'to-addresses': '10.0.0.5', 'to-ports': '8080', comment: 'mikrolb:default:svc=u1:dnat:tcp/80:0' };
const printed = { '.id': '*5', ...desired, log: 'false', 'log-prefix': '', disabled: 'false', bytes: '0', packets: '0' };

describe('diffEntry and a printed property without a known default', () => {
  it('ignores one that changes nothing, and names it for the caller to report', () => {
    expect(diffEntry(NAT, { ...printed, 'some-new-flag': 'yes' }, desired)).toEqual({ kind: 'same', ignored: ['some-new-flag'] });
    expect(diffEntry(NAT, { ...printed, 'some-new-flag': 'yes', 'to-ports': '9999' }, desired))
      .toEqual({ kind: 'set', changes: { 'to-ports': '8080' }, ignored: ['some-new-flag'] });
    expect(diffEntry('/ipv6/address', { '.id': '*1', address: '2001:db8::7/128', interface: 'ether1', comment: 'c', 'vrf-like': 'main' },
      { address: '2001:db8::7/128', interface: 'ether1', advertise: 'false', comment: 'c' })).toEqual({ kind: 'same', ignored: ['vrf-like'] });
  });

  it('names nothing when nothing was ignored', () => {
    expect(diffEntry(NAT, printed, desired)).toEqual({ kind: 'same' });
    expect(diffEntry(NAT, printed, desired)).not.toHaveProperty('ignored');
  });

  it('replaces the entry for a matcher or action parameter added by hand', () => {
    const added: Record<string, string>[] = [{ 'in-interface': 'ether2' }, { 'in-interface-list': 'WAN' }, { 'src-address-type': 'local' }, { 'tcp-flags': 'syn' }, { 'jump-target': 'x' }];
    for (const extra of added) {
      expect(diffEntry(NAT, { ...printed, ...extra }, desired), JSON.stringify(extra)).toEqual({ kind: 'replace' });
    }
    expect(diffEntry('/ipv6/firewall/address-list', { '.id': '*1', list: 'l', address: '2001:db8::7', comment: 'c', timeout: '1d' },
      { list: 'l', address: '2001:db8::7', comment: 'c' })).toEqual({ kind: 'replace' });
    expect(diffEntry('/ipv6/address', { '.id': '*1', address: '2001:db8::7/128', interface: 'ether1', comment: 'c', 'from-pool': 'p' },
      { address: '2001:db8::7/128', interface: 'ether1', advertise: 'false', comment: 'c' })).toEqual({ kind: 'replace' });
  });

  it('counts every property of a menu it has no list for as changing behaviour', () => {
    expect(changesBehaviour('/ip/route', 'some-new-flag')).toBe(true);
    expect(changesBehaviour('/ip/firewall/raw', 'some-new-flag')).toBe(false);
    expect(changesBehaviour('/ip/firewall/raw', 'in-interface')).toBe(true);
  });
});

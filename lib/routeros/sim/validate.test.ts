import { describe, expect, it } from 'vitest';
import * as v from './validate.js';

const ctx = (field: string) => ({ field, interfaceExists: (name: string) => name === 'ether1' });

describe('field checks', () => {
  it.each([
    ['bool yes', v.bool, 'yes', 'true'],
    ['bool false', v.bool, 'false', 'false'],
    ['IPv4 interface address keeps host bits', v.interfaceAddress('ip4'), '192.0.2.10/24', '192.0.2.10/24'],
    ['IPv4 interface address without prefix is /32', v.interfaceAddress('ip4'), '192.0.2.10', '192.0.2.10/32'],
    ['IPv6 interface address is canonical', v.interfaceAddress('ip6'), '2001:DB8:0:0::1/64', '2001:db8::1/64'],
    ['IPv6 interface address without prefix is /64', v.interfaceAddress('ip6'), 'fd00::5', 'fd00::5/64'],
    ['firewall address range', v.addressMatcher('ip4'), '10.0.0.1-10.0.0.9', '10.0.0.1-10.0.0.9'],
    ['negated prefix', v.negatable(v.addressMatcher('ip4')), '!10.0.0.0/8', '!10.0.0.0/8'],
    ['route destination loses host bits', v.network('ip4'), '10.1.2.3/16', '10.1.0.0/16'],
    ['port list', v.portList, '80,443,8000-8080', '80,443,8000-8080'],
    ['to-ports range', v.portRange, '8080-8081', '8080-8081'],
    ['nth', v.nth, '3,1', '3,1'],
    ['nth where packet equals every', v.nth, '2,2', '2,2'],
    ['pcc', v.perConnectionClassifier, 'both-addresses:3/2', 'both-addresses:3/2'],
    ['protocol by number', v.protocol, '006', '6'],
    ['connection states', v.negatable(v.setOf(['established', 'related', 'new'])), '!established,related', '!established,related'],
    ['gateway via interface', v.gateway('ip4'), '10.0.0.1%ether1', '10.0.0.1%ether1'],
    ['gateway as interface', v.gateway('ip4'), 'ether1', 'ether1'],
    ['duration', v.duration, '1d2h', '1d2h'],
    ['clock duration', v.duration, '00:05:00', '00:05:00'],
  ])('accepts %s', (_story, check, raw, stored) => {
    expect(check(raw, ctx('f'))).toEqual({ ok: true, value: stored });
  });

  it.each([
    ['bool maybe', v.bool, 'maybe', 'invalid value for argument f'],
    ['IPv6 in an IPv4 menu', v.interfaceAddress('ip4'), 'fd00::1/64', 'invalid value for argument f'],
    ['IPv4 in an IPv6 menu', v.interfaceAddress('ip6'), '10.0.0.1/24', 'invalid value for argument f'],
    ['octet above 255', v.interfaceAddress('ip4'), '10.0.0.256/24', 'invalid value for argument f'],
    ['prefix above 32', v.interfaceAddress('ip4'), '10.0.0.1/33', 'invalid value for argument f'],
    ['leading zero octet', v.address('ip4'), '10.0.0.01', 'invalid value for argument f'],
    ['zone index', v.address('ip6'), 'fe80::1%ether1', 'invalid value for argument f'],
    ['backwards range', v.addressMatcher('ip4'), '10.0.0.9-10.0.0.1', 'invalid value for argument f'],
    ['port 65536', v.portList, '65536', 'invalid value for argument f'],
    ['nth packet above every', v.nth, '2,3', 'invalid value for argument f'],
    ['nth zero', v.nth, '0,0', 'invalid value for argument f'],
    ['pcc remainder too large', v.perConnectionClassifier, 'both-addresses:3/3', 'invalid value for argument f'],
    ['unknown protocol', v.protocol, 'tcpx', 'input does not match any value of f'],
    ['missing interface', v.interfaceName, 'ether9', 'input does not match any value of f'],
    ['gateway through a missing interface', v.gateway('ip4'), '10.0.0.1%ether9', 'invalid value for argument f'],
  ])('refuses %s', (_story, check, raw, message) => {
    const checked = check(raw, ctx('f'));
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.trap.message).toBe(message);
  });
});

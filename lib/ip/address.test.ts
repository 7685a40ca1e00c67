import { describe, expect, it } from 'vitest';
import { formatAddress, parseAddress } from './address.js';

describe('parseAddress', () => {
  it.each([
    ['0.0.0.0', 'IPv4', 0n],
    ['10.0.0.1', 'IPv4', 0x0a000001n],
    ['255.255.255.255', 'IPv4', 0xffffffffn],
    ['::', 'IPv6', 0n],
    ['2001:DB8::1', 'IPv6', 0x20010db8000000000000000000000001n],
    ['2001:db8:0:0:0:0:0:1', 'IPv6', 0x20010db8000000000000000000000001n],
    ['::ffff:10.0.0.1', 'IPv6', 0xffff0a000001n],
  ] as const)('reads %s as %s', (text, family, value) => {
    expect(parseAddress(text)).toEqual({ ok: true, family, value });
  });

  it.each([
    ['10.1', 'a shortened IPv4 address'],
    ['010.0.0.1', 'a leading zero (octal to some tools)'],
    ['0x0a.0.0.1', 'a hexadecimal octet'],
    ['10.0.0.256', 'an octet above 255'],
    ['10.0.0.1.', 'a trailing dot'],
    [' 10.0.0.1', 'surrounding spaces (entries are trimmed before this)'],
    ['', 'nothing'],
  ])('rejects %j: %s', (text) => {
    expect(parseAddress(text)).toEqual({
      ok: false,
      message: `"${text}" is not a valid address (IPv4 must be four decimal octets like 192.0.2.10)`,
    });
  });

  it.each([['2001:db8::g'], ['1::2::3'], ['::ffff:010.0.0.1'], ['1:2:3:4:5:6:7:8:9']])(
    'rejects the malformed IPv6 address %s',
    (text) => {
      expect(parseAddress(text)).toEqual({ ok: false, message: `"${text}" is not a valid IPv6 address` });
    },
  );

  it('rejects a zone id, which binds an address to one interface', () => {
    expect(parseAddress('fe80::1%eth0')).toEqual({
      ok: false,
      message: '"fe80::1%eth0" has a zone id (%eth0), which is not allowed in an address',
    });
  });
});

describe('formatAddress', () => {
  it.each([
    ['IPv4', 0x0a000001n, '10.0.0.1'],
    ['IPv4', 0n, '0.0.0.0'],
    ['IPv6', 0n, '::'],
    ['IPv6', 1n, '::1'],
    ['IPv6', 0x20010db8000000000001000000000001n, '2001:db8::1:0:0:1'],
    ['IPv6', 0x20010db8000000010000000000000000n, '2001:db8:0:1::'],
    ['IPv6', 0xfe800000000000000000000000abcdefn, 'fe80::ab:cdef'],
    ['IPv6', 0xffff0a000001n, '::ffff:10.0.0.1'],
  ] as const)('writes %s %s as %s', (family, value, text) => {
    expect(formatAddress(family, value)).toBe(text);
  });

  it.each(['10.0.0.1', '2001:db8::1', '::ffff:192.0.2.1', '2001:db8:0:1::', '::'])('round-trips %s', (text) => {
    const parsed = parseAddress(text);
    expect(parsed.ok && formatAddress(parsed.family, parsed.value)).toBe(text);
  });

  it('refuses a value outside the family, which is a bug in the caller', () => {
    expect(() => formatAddress('IPv4', 1n << 32n)).toThrow(RangeError);
  });
});

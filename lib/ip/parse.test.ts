import { describe, expect, it } from 'vitest';
import type { IPFamily } from './address.js';
import { AVOID_BUGGY_IPV4_LIMIT, NO_ADDRESSES_LEFT, parsePoolAddresses, validatePoolAddresses } from './parse.js';
import { count, toRanges } from './set.js';

/** The pool as display ranges, or the first error's message, so tables read as text. */
function pool(family: IPFamily, entries: readonly string[], avoidBuggyIPs = false): string[] {
  const result = parsePoolAddresses(family, entries, avoidBuggyIPs);
  return result.ok ? toRanges(result.set) : result.errors.map((e) => `error: ${e.message}`);
}

describe('pool entries', () => {
  it.each([
    ['a CIDR', ['192.0.2.0/30'], ['192.0.2.0-192.0.2.3']],
    ['a single address', ['192.0.2.10'], ['192.0.2.10']],
    ['a single address as /32', ['192.0.2.10/32'], ['192.0.2.10']],
    ['a range', ['10.0.0.1-10.0.0.9'], ['10.0.0.1-10.0.0.9']],
    ['a range with spaces', ['  10.0.0.1 - 10.0.0.9 '], ['10.0.0.1-10.0.0.9']],
    ['a one-address range', ['10.0.0.5-10.0.0.5'], ['10.0.0.5']],
    ['a range crossing octets', ['10.0.0.250-10.0.1.5'], ['10.0.0.250-10.0.1.5']],
    ['a CIDR with host bits set, read as its network', ['10.0.0.5/30'], ['10.0.0.4-10.0.0.7']],
    ['spaces around the slash', ['10.0.0.0 / 30'], ['10.0.0.0-10.0.0.3']],
    ['overlapping entries, merged', ['10.0.0.0/30', '10.0.0.2-10.0.0.5'], ['10.0.0.0-10.0.0.5']],
    ['adjacent entries, merged', ['10.0.0.4', '10.0.0.0/30'], ['10.0.0.0-10.0.0.4']],
    ['separate entries, kept apart and sorted', ['10.0.1.1', '10.0.0.1'], ['10.0.0.1', '10.0.1.1']],
  ])('IPv4: %s', (_, entries, expected) => {
    expect(pool('IPv4', entries)).toEqual(expected);
  });

  it.each([
    ['a CIDR', ['2001:db8::/126'], ['2001:db8::-2001:db8::3']],
    ['a /64', ['2001:db8:0:1::/64'], ['2001:db8:0:1::-2001:db8:0:1:ffff:ffff:ffff:ffff']],
    ['a range in any notation', ['2001:DB8:0:0::10 - 2001:db8::1f'], ['2001:db8::10-2001:db8::1f']],
    ['an IPv4-mapped address, which stays IPv6 (and, special-purpose, is never handed out)', ['::ffff:10.0.0.1'], []],
  ])('IPv6: %s', (_, entries, expected) => {
    expect(pool('IPv6', entries)).toEqual(expected);
  });

  it('counts a /64 exactly without enumerating it', () => {
    const result = parsePoolAddresses('IPv6', ['2001:db8::/64'], false);
    expect(result.ok && count(result.set)).toBe(1n << 64n);
  });
});

describe('exclusions win over inclusions, wherever they are listed', () => {
  it.each([
    ['a single address', ['10.0.0.0/29', '!10.0.0.3'], ['10.0.0.0-10.0.0.2', '10.0.0.4-10.0.0.7']],
    ['listed first', ['!10.0.0.3', '10.0.0.0/29'], ['10.0.0.0-10.0.0.2', '10.0.0.4-10.0.0.7']],
    ['with a space after !', ['10.0.0.0/29', '! 10.0.0.3'], ['10.0.0.0-10.0.0.2', '10.0.0.4-10.0.0.7']],
    ['a CIDR', ['10.0.0.0/28', '!10.0.0.0/30'], ['10.0.0.4-10.0.0.15']],
    ['a range', ['10.0.0.0/28', '!10.0.0.2-10.0.0.13'], ['10.0.0.0-10.0.0.1', '10.0.0.14-10.0.0.15']],
    ['a range with spaces', ['10.0.0.0/28', ' ! 10.0.0.2 - 10.0.0.13 '], ['10.0.0.0-10.0.0.1', '10.0.0.14-10.0.0.15']],
    ['outside the pool: no effect', ['10.0.0.0/30', '!10.9.9.9'], ['10.0.0.0-10.0.0.3']],
    ['everything', ['10.0.0.0/30', '!10.0.0.0/29'], []],
  ])('excluding %s', (_, entries, expected) => {
    expect(pool('IPv4', entries)).toEqual(expected);
  });

  it('an IPv6 exclusion carves a hole in a /64', () => {
    expect(pool('IPv6', ['2001:db8::/64', '!2001:db8::1-2001:db8::ffff'])).toEqual([
      '2001:db8::',
      '2001:db8::1:0-2001:db8::ffff:ffff:ffff:ffff',
    ]);
  });
});

describe('avoidBuggyIPs', () => {
  it.each([
    ['IPv4', '10.0.0.0/24', ['10.0.0.1-10.0.0.254']],
    ['IPv4', '10.0.0.0/30', ['10.0.0.1-10.0.0.3']],
    ['IPv4', '10.0.0.252/30', ['10.0.0.252-10.0.0.254']],
    ['IPv4', '10.0.0.4/30', ['10.0.0.4-10.0.0.7']],
    ['IPv4', '10.0.0.0/31', ['10.0.0.1']],
    ['IPv4', '10.0.0.254/31', ['10.0.0.254']],
    ['IPv4', '10.0.0.7/32', ['10.0.0.7']],
    ['IPv4', '10.0.0.0/23', ['10.0.0.1-10.0.0.254', '10.0.1.1-10.0.1.254']],
    ['IPv6', '2001:db8::/120', ['2001:db8::1-2001:db8::fe']],
    ['IPv6', '2001:db8::/126', ['2001:db8::1-2001:db8::2']],
    ['IPv6', '2001:db8::/64', ['2001:db8::1-2001:db8::ffff:ffff:ffff:fffe']],
  ] as const)('%s %s keeps %j', (family, entry, expected) => {
    expect(pool(family, [entry], true)).toEqual(expected);
  });

  it.each([
    ['10.0.0.0/16', 65536n - 512n],
    ['10.0.0.0/8', (1n << 24n) - 2n * 65536n],
    ['2001:db8::/64', (1n << 64n) - 2n],
  ])('%s keeps %s addresses', (entry, expected) => {
    const family = entry.includes(':') ? 'IPv6' : 'IPv4';
    const result = parsePoolAddresses(family, [entry], true);
    expect(result.ok && count(result.set)).toBe(expected);
  });

  it.each([
    ['ranges', '10.0.0.0-10.0.0.255', ['10.0.0.0-10.0.0.255']],
    ['single addresses', '10.0.0.255', ['10.0.0.255']],
  ])('never touches %s', (_, entry, expected) => {
    expect(pool('IPv4', [entry], true)).toEqual(expected);
  });

  it('never widens exclusions: excluding a /30 removes its .0 too', () => {
    expect(pool('IPv4', ['10.0.0.0-10.0.0.9', '!10.0.0.0/30'], true)).toEqual(['10.0.0.4-10.0.0.9']);
  });

  it.each([
    ['IPv4', '10.0.0.255/32', 'it skips IPv4 addresses ending in .0 or .255'],
    ['IPv4', '10.0.0.0/32', 'it skips IPv4 addresses ending in .0 or .255'],
    ['IPv6', '2001:db8::/127', 'it skips the first and last address of an IPv6 CIDR'],
    ['IPv6', '2001:db8::1/128', 'it skips the first and last address of an IPv6 CIDR'],
  ] as const)('rejects the %s CIDR %s, which it leaves empty', (family, entry, why) => {
    expect(pool(family, [entry], true)).toEqual([`error: ${entry} has no usable addresses with avoidBuggyIPs (${why})`]);
  });

  it('refuses IPv4 CIDRs beyond a /8 in total, which would cost seconds and gigabytes', () => {
    const result = parsePoolAddresses('IPv4', ['10.0.0.0/8', '11.0.0.0/24', '12.0.0.0/7'], true);
    expect(result.ok ? [] : result.errors.map((e) => [e.index, e.code])).toEqual([
      [1, 'TooLargeForAvoidBuggyIPs'],
      [2, 'TooLargeForAvoidBuggyIPs'],
    ]);
    expect(AVOID_BUGGY_IPV4_LIMIT).toBe(1n << 24n);
  });

  it('allows a /8 and a /0 without it', () => {
    expect(parsePoolAddresses('IPv4', ['10.0.0.0/8'], true).ok).toBe(true);
    expect(parsePoolAddresses('IPv4', ['0.0.0.0/0'], false).ok).toBe(true);
  });

  it('splits a /8 into its 65,536 /24 runs quickly', () => {
    const started = performance.now();
    const result = parsePoolAddresses('IPv4', ['10.0.0.0/8'], true);
    expect(result.ok && result.set.ranges.length).toBe(65536);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('bad entries, each with its own message', () => {
  it.each([
    ['IPv4', '', 'EmptyEntry', 'empty entry'],
    ['IPv4', '   ', 'EmptyEntry', 'empty entry'],
    ['IPv4', '!', 'EmptyEntry', 'exclusion "!" names no address'],
    ['IPv4', '10.1', 'InvalidAddress', '"10.1" is not a valid address (IPv4 must be four decimal octets like 192.0.2.10)'],
    ['IPv4', '010.0.0.1', 'InvalidAddress', '"010.0.0.1" is not a valid address (IPv4 must be four decimal octets like 192.0.2.10)'],
    ['IPv4', '!!10.0.0.1', 'InvalidAddress', '"!10.0.0.1" is not a valid address (IPv4 must be four decimal octets like 192.0.2.10)'],
    ['IPv6', '2001:db8::zz', 'InvalidAddress', '"2001:db8::zz" is not a valid IPv6 address'],
    ['IPv6', 'fe80::1%eth0', 'InvalidAddress', '"fe80::1%eth0" has a zone id (%eth0), which is not allowed in an address'],
    ['IPv4', '10.0.0.0/33', 'InvalidPrefixLength', 'prefix length "/33" is not valid for IPv4 (use /0 to /32)'],
    ['IPv6', '2001:db8::/129', 'InvalidPrefixLength', 'prefix length "/129" is not valid for IPv6 (use /0 to /128)'],
    ['IPv4', '10.0.0.0/', 'InvalidPrefixLength', 'prefix length "/" is not valid for IPv4 (use /0 to /32)'],
    ['IPv4', '10.0.0.0/x', 'InvalidPrefixLength', 'prefix length "/x" is not valid for IPv4 (use /0 to /32)'],
    ['IPv4', '10.0.0.0/255.255.255.0', 'InvalidPrefixLength', 'prefix length "/255.255.255.0" is not valid for IPv4 (use /0 to /32)'],
    ['IPv4', '/24', 'InvalidAddress', '"" is not a valid address (IPv4 must be four decimal octets like 192.0.2.10)'],
    ['IPv4', '10.0.0.9-10.0.0.1', 'ReversedRange', 'range 10.0.0.9-10.0.0.1 is reversed: its start is after its end'],
    ['IPv4', '10.0.0.1-2001:db8::1', 'MixedFamilies', 'range 10.0.0.1-2001:db8::1 mixes IPv4 and IPv6'],
    ['IPv6', '::ffff:10.0.0.1-10.0.0.9', 'MixedFamilies', 'range ::ffff:10.0.0.1-10.0.0.9 mixes IPv6 and IPv4'],
    ['IPv4', '10.0.0.1-', 'InvalidRange', 'range "10.0.0.1-" has no end address'],
    ['IPv4', '- 10.0.0.1', 'InvalidRange', 'range "- 10.0.0.1" has no start address'],
    ['IPv4', '10.0.0.1-10.0.0.5-10.0.0.9', 'InvalidRange', '"10.0.0.1-10.0.0.5-10.0.0.9" is not a valid range (expected start-end)'],
    ['IPv4', '10.0.0.0/24-10.0.1.0/24', 'InvalidAddress', '"10.0.0.0/24" is not a valid address (IPv4 must be four decimal octets like 192.0.2.10)'],
    ['IPv4', '2001:db8::/64', 'FamilyMismatch', "2001:db8::/64 is IPv6, but the pool's ipFamily is IPv4"],
    ['IPv4', '!2001:db8::1', 'FamilyMismatch', "2001:db8::1 is IPv6, but the pool's ipFamily is IPv4"],
    ['IPv6', '10.0.0.1 - 10.0.0.9', 'FamilyMismatch', "10.0.0.1 - 10.0.0.9 is IPv4, but the pool's ipFamily is IPv6"],
  ] as const)('%s pool, %j: %s', (family, entry, code, message) => {
    const good = family === 'IPv4' ? '10.0.0.0/24' : '2001:db8::/64';
    expect(parsePoolAddresses(family, [good, entry], false)).toEqual({
      ok: false,
      errors: [{ code, index: 1, entry, message }],
    });
  });

  it('reports every bad entry at once, by position', () => {
    const result = parsePoolAddresses('IPv4', ['10.1', '10.0.0.0/24', '', '10.0.0.9-10.0.0.1'], false);
    expect(result.ok ? [] : result.errors.map((e) => [e.index, e.code])).toEqual([
      [0, 'InvalidAddress'],
      [2, 'EmptyEntry'],
      [3, 'ReversedRange'],
    ]);
  });
});

describe('a pool with nothing left', () => {
  const allExcluded = ['10.0.0.0/30', '!10.0.0.0-10.0.0.3'];

  it('parses to an empty set, for the allocator to call exhausted', () => {
    const result = parsePoolAddresses('IPv4', allExcluded, false);
    expect(result.ok && toRanges(result.set)).toEqual([]);
  });

  it('is refused by validatePoolAddresses, for the admission webhook', () => {
    expect(validatePoolAddresses('IPv4', allExcluded, false)).toEqual({
      ok: false,
      errors: [{ code: 'NoAddressesLeft', index: NO_ADDRESSES_LEFT, entry: '', message: 'no addresses left after exclusions' }],
    });
  });

  it('validatePoolAddresses refuses an empty list too', () => {
    const result = validatePoolAddresses('IPv4', [], false);
    expect(result.ok ? [] : result.errors.map((e) => [e.index, e.code, e.message])).toEqual([
      [NO_ADDRESSES_LEFT, 'NoAddressesLeft', 'the pool lists no addresses'],
    ]);
  });

  it('validatePoolAddresses passes per-entry errors and good pools through', () => {
    expect(validatePoolAddresses('IPv4', ['10.0.0.1'], false)).toEqual(parsePoolAddresses('IPv4', ['10.0.0.1'], false));
    expect(validatePoolAddresses('IPv4', [''], false)).toEqual(parsePoolAddresses('IPv4', [''], false));
  });
});

describe('special-purpose addresses: never in a pool, whatever its entries say', () => {
  it.each([
    ['IPv4', '0.0.0.0/0', [
      '1.0.0.0-126.255.255.255', '128.0.0.0-169.253.255.255', '169.255.0.0-223.255.255.255',
    ], ['0.0.0.0-0.255.255.255', '127.0.0.0-127.255.255.255', '169.254.0.0-169.254.255.255', '224.0.0.0-255.255.255.255']],
    ['IPv4', '169.253.255.254-169.255.0.1', ['169.253.255.254-169.253.255.255', '169.255.0.0-169.255.0.1'], ['169.254.0.0-169.254.255.255']],
    ['IPv4', '126.255.255.254-128.0.0.1', ['126.255.255.254-126.255.255.255', '128.0.0.0-128.0.0.1'], ['127.0.0.0-127.255.255.255']],
    ['IPv4', '239.255.255.0-240.0.0.3', [], ['239.255.255.0-240.0.0.3']],
    ['IPv4', '255.255.255.255', [], ['255.255.255.255']],
    ['IPv6', '::/0', [
      '::2-::fffe:ffff:ffff', '::1:0:0:0-fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'fec0::-feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    ], ['::-::1', '::ffff:0.0.0.0-::ffff:255.255.255.255', 'fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ff00::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']],
    ['IPv6', 'ff02::1', [], ['ff02::1']],
    ['IPv6', '2001:db8::/64', ['2001:db8::-2001:db8::ffff:ffff:ffff:ffff'], []],
  ] as const)('%s %s keeps %j and leaves out %j', (family, entry, kept, left) => {
    const result = parsePoolAddresses(family, [entry], false);
    expect(result.ok && toRanges(result.set)).toEqual(kept);
    expect(result.ok && toRanges(result.specialPurpose)).toEqual(left);
  });

  it('are left out of a pool with avoidBuggyIPs as well: an IPv6 ::/0 hands out no multicast address', () => {
    const result = parsePoolAddresses('IPv6', ['::/0'], true);
    expect(result.ok && toRanges(result.set).at(-1)).toBe('fec0::-feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
  });

  it('a pool of nothing else is refused by validatePoolAddresses, which says why', () => {
    expect(validatePoolAddresses('IPv4', ['127.0.0.1', '224.0.0.0/24'], false)).toEqual({
      ok: false,
      errors: [{
        code: 'NoAddressesLeft', index: NO_ADDRESSES_LEFT, entry: '',
        message: 'no addresses left: every address the pool lists is special-purpose (127.0.0.1, 224.0.0.0-224.0.0.255), which MikroLB never hands out',
      }],
    });
  });
});

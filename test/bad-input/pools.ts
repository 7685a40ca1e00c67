import { describe, expect, it } from 'vitest';
import { reviewPool, type AdmissionRequest } from '../../functions/webhook/review.js';
import { validatePoolAddresses, type PoolEntryCode } from '../../lib/ip/index.js';
import { IPPoolSpecSchema, type IPPool } from '../../lib/k8s/schemas.js';
import { bounded, snapshot, type Tally } from './support.js';

/**
 * Pool specs through the admission webhook's pure review: every malformed spec is denied with a
 * field error that names the entry and says what is wrong; valid neighbours are never touched.
 */

const v4 = (addresses: unknown, extra: Record<string, unknown> = {}) => ({ ipFamily: 'IPv4', addresses, ...extra });
const v6 = (addresses: unknown) => ({ ipFamily: 'IPv6', addresses });
const many = (n: number, entry: (i: number) => string): string[] => Array.from({ length: n }, (_, i) => entry(i));

/** [story, spec, denied field, message part, code from validatePoolAddresses when the schema admits the spec] */
type PoolCase = [string, unknown, string, string | RegExp, PoolEntryCode?];

const CASES: PoolCase[] = [
  ['a prefix longer than the family', v4(['10.0.0.0/33']), 'spec.addresses[0]', 'prefix length "/33" is not valid for IPv4 (use /0 to /32)', 'InvalidPrefixLength'],
  ['a huge IPv6 prefix', v6(['2001:db8::/999']), 'spec.addresses[0]', 'prefix length "/999" is not valid for IPv6 (use /0 to /128)', 'InvalidPrefixLength'],
  ['a CIDR with three octets', v4(['10.0.0/24']), 'spec.addresses[0]', '"10.0.0" is not a valid address', 'InvalidAddress'],
  ['a non-numeric prefix', v4(['10.0.0.0/x']), 'spec.addresses[0]', 'prefix length "/x" is not valid for IPv4', 'InvalidPrefixLength'],
  ['a reversed range', v4(['10.0.0.9-10.0.0.1']), 'spec.addresses[0]', 'range 10.0.0.9-10.0.0.1 is reversed: its start is after its end', 'ReversedRange'],
  ['a range of mixed families', v4(['10.0.0.1-2001:db8::1']), 'spec.addresses[0]', 'range 10.0.0.1-2001:db8::1 mixes IPv4 and IPv6', 'MixedFamilies'],
  ['a range of three parts', v4(['10.0.0.1-10.0.0.2-10.0.0.3']), 'spec.addresses[0]', 'is not a valid range (expected start-end)', 'InvalidRange'],
  ['a range with no start', v4(['-10.0.0.3']), 'spec.addresses[0]', 'range "-10.0.0.3" has no start address', 'InvalidRange'],
  ['a range with no end', v4(['10.0.0.3 -']), 'spec.addresses[0]', 'has no end address', 'InvalidRange'],
  ['"!" alone', v4(['10.0.0.0/24', '!']), 'spec.addresses[1]', 'exclusion "!" names no address', 'EmptyEntry'],
  ['a whitespace-only entry', v4(['   ']), 'spec.addresses[0]', 'empty entry', 'EmptyEntry'],
  ['an IPv4-mapped address in an IPv4 pool', v4(['::ffff:10.0.0.1']), 'spec.addresses[0]', "::ffff:10.0.0.1 is IPv6, but the pool's ipFamily is IPv4", 'FamilyMismatch'],
  ['an IPv4 CIDR in an IPv6 pool', v6(['10.0.0.0/24']), 'spec.addresses[0]', "10.0.0.0/24 is IPv4, but the pool's ipFamily is IPv6", 'FamilyMismatch'],
  ['a zone id', v6(['fe80::1%eth0']), 'spec.addresses[0]', 'has a zone id (%eth0), which is not allowed in an address', 'InvalidAddress'],
  ['an octet with a leading zero', v4(['010.0.0.1']), 'spec.addresses[0]', '"010.0.0.1" is not a valid address', 'InvalidAddress'],
  ['full-width unicode digits', v4(['１０.0.0.1']), 'spec.addresses[0]', '"１０.0.0.1" is not a valid address', 'InvalidAddress'],
  ['a NUL byte after the address', v4(['10.0.0.1\u0000']), 'spec.addresses[0]', 'is not a valid address', 'InvalidAddress'],
  ['a /0 under avoidBuggyIPs', v4(['0.0.0.0/0']), 'spec.addresses[0]', 'is too large for avoidBuggyIPs', 'TooLargeForAvoidBuggyIPs'],
  ['a /32 that avoidBuggyIPs empties', v4(['10.0.0.0/32']), 'spec.addresses[0]', 'has no usable addresses with avoidBuggyIPs', 'NothingLeftAfterAvoidBuggyIPs'],
  ['exclusions that remove everything', v4(['10.0.0.1', '!10.0.0.1']), 'spec.addresses', 'no addresses left after exclusions', 'NoAddressesLeft'],
  ['an empty list', v4([]), 'spec.addresses', 'addresses needs at least one entry'],
  ['a repeated entry', v4(['10.0.0.1', '10.0.0.1']), 'spec.addresses', 'addresses must not repeat an entry'],
  ['addresses as one string', v4('10.0.0.0/24'), 'spec.addresses', 'expected array, received string'],
  ['an address as a number', v4([167772161]), 'spec.addresses[0]', 'expected string, received number'],
  ['an entry over 100 characters', v4(['1'.repeat(101)]), 'spec.addresses[0]', 'expected string to have <=100 characters'],
  ['an unknown family', { ipFamily: 'IPv5', addresses: ['10.0.0.1'] }, 'spec.ipFamily', 'expected one of "IPv4"|"IPv6"'],
  ['no family', { addresses: ['10.0.0.1'] }, 'spec.ipFamily', 'expected one of "IPv4"|"IPv6"'],
  ['autoAssign as a string', v4(['10.0.0.1'], { autoAssign: 'yes' }), 'spec.autoAssign', 'expected boolean, received string'],
  ['an interface name with a space and a semicolon', v4(['10.0.0.1'], { interfaceName: 'eth 0;rm' }), 'spec.interfaceName', 'must be a router interface name'],
  ['spec null', null, 'spec', 'expected object, received null'],
  ['10,000 distinct entries, the last one broken', v4([...many(10_000, (i) => `10.${(i >> 8) & 255}.${i & 255}.1`), '10.0.0.0/33']), 'spec.addresses[10000]', 'prefix length "/33" is not valid', 'InvalidPrefixLength'],
  ['10,000 copies of one entry', v4(many(10_000, () => '10.0.0.1')), 'spec.addresses', 'addresses must not repeat an entry'],
  ['10,000 broken entries (one error each)', v4(many(10_000, (i) => `10.${(i >> 8) & 255}.${i & 255}.300`)), 'spec.addresses[9999]', '"10.39.15.300" is not a valid address', 'InvalidAddress'],
];

/** A pool that exists and must stay as it is. */
const NEIGHBOUR: IPPool = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'neighbour' },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true },
};

function request(spec: unknown): AdmissionRequest {
  return {
    uid: 'bad-pool-uid', operation: 'CREATE', name: 'bad',
    kind: { group: 'mikrolb.de', version: 'v1alpha1', kind: 'IPPool' },
    resource: { group: 'mikrolb.de', version: 'v1alpha1', resource: 'ippools' },
    object: { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'bad' }, spec },
  };
}

export function poolSpecCases(count: Tally): void {
  count.add('pool specs', CASES.length);
  describe('pool specs: the IPPool review denies each with a field error', () => {
    it.each(CASES)('%s', async (_story, spec, field, message, code) => {
      const req = request(spec);
      const before = snapshot(req);
      const others = [snapshot(NEIGHBOUR)];
      const response = await bounded('reviewPool', 2_000, Promise.resolve().then(() => reviewPool(req, others)));
      expect(response).toMatchObject({ uid: 'bad-pool-uid', allowed: false, status: { code: 422, reason: 'Invalid' } });
      const causes = response.status?.details.causes ?? [];
      const cause = causes.find((c) => c.field === field);
      expect(cause, `causes: ${JSON.stringify(causes.slice(0, 3))}`).toBeDefined();
      if (typeof message === 'string') expect(cause?.message).toContain(message);
      else expect(cause?.message).toMatch(message);
      expect(response.status?.message).toMatch(/^IPPool "bad" is invalid: spec/);
      // the same verdict from the address engine, when the schema lets the spec through
      const parsed = IPPoolSpecSchema.safeParse(spec);
      if (code !== undefined) {
        expect(parsed.success).toBe(true);
        const direct = parsed.success ? validatePoolAddresses(parsed.data.ipFamily, parsed.data.addresses, parsed.data.avoidBuggyIPs) : undefined;
        expect(direct?.ok === false ? direct.errors.map((e) => e.code) : []).toContain(code);
      } else {
        expect(parsed.success).toBe(false);
      }
      // pure: neither the request nor the existing pools were touched
      expect(req).toEqual(before);
      expect(others).toEqual([NEIGHBOUR]);
    });
  });
}

import { describe, expect, it } from 'vitest';
import type { IPPool } from '../../lib/k8s/schemas.js';
import { denialMessage, fieldPath, reviewPool, type AdmissionRequest, type StatusCause } from './review.js';

type Family = 'IPv4' | 'IPv6';

function pool(name: string, ipFamily: Family, addresses: string[], created = '2024-01-01T00:00:00Z'): IPPool {
  return {
    metadata: { name, creationTimestamp: created },
    spec: { ipFamily, addresses, autoAssign: true, avoidBuggyIPs: true, advertise: true },
  };
}

function request(operation: AdmissionRequest['operation'], object: unknown, oldObject?: unknown): AdmissionRequest {
  return {
    uid: 'uid-1',
    kind: { group: 'mikrolb.de', version: 'v1alpha1', kind: 'IPPool' },
    resource: { group: 'mikrolb.de', version: 'v1alpha1', resource: 'ippools' },
    operation,
    object,
    oldObject,
  };
}

const create = (p: IPPool, others: IPPool[] = []) => reviewPool(request('CREATE', p), others);
const causesOf = (r: ReturnType<typeof reviewPool>) => r.status?.details.causes.map((c) => `${c.field}: ${c.message}`);

describe('reviewPool: address entries', () => {
  it.each([
    ['an empty entry', '  ', 'spec.addresses[1]: empty entry'],
    ['a bare exclusion', '!', 'spec.addresses[1]: exclusion "!" names no address'],
    ['an invalid address', '10.0.0.300', 'spec.addresses[1]: "10.0.0.300" is not a valid address (IPv4 must be four decimal octets like 192.0.2.10)'],
    ['a zone id', 'fe80::1%eth0', 'spec.addresses[1]: "fe80::1%eth0" has a zone id (%eth0), which is not allowed in an address'],
    ['a range with three parts', '10.0.0.1-10.0.0.2-10.0.0.3', 'spec.addresses[1]: "10.0.0.1-10.0.0.2-10.0.0.3" is not a valid range (expected start-end)'],
    ['a range without an end', '10.0.0.1-', 'spec.addresses[1]: range "10.0.0.1-" has no end address'],
    ['a bad address inside a range', '10.0.0.1 - 10.0.0.x', 'spec.addresses[1]: "10.0.0.1 - 10.0.0.x": "10.0.0.x" is not a valid address (IPv4 must be four decimal octets like 192.0.2.10)'],
    ['a prefix length too long', '10.0.0.0/33', 'spec.addresses[1]: "10.0.0.0/33": prefix length "/33" is not valid for IPv4 (use /0 to /32)'],
    ['a reversed range', '10.0.0.9-10.0.0.1', 'spec.addresses[1]: range 10.0.0.9-10.0.0.1 is reversed: its start is after its end'],
    ['a range mixing families', '10.0.0.1-2001:db8::1', 'spec.addresses[1]: range 10.0.0.1-2001:db8::1 mixes IPv4 and IPv6'],
    ['an entry of the other family', '2001:db8::/64', "spec.addresses[1]: 2001:db8::/64 is IPv6, but the pool's ipFamily is IPv4"],
    ['a CIDR emptied by avoidBuggyIPs', '10.0.1.255/32', 'spec.addresses[1]: 10.0.1.255/32 has no usable addresses with avoidBuggyIPs (it skips IPv4 addresses ending in .0 or .255)'],
    ['a CIDR too large for avoidBuggyIPs', '12.0.0.0/7', 'spec.addresses[1]: 12.0.0.0/7 is too large for avoidBuggyIPs'],
  ])('rejects %s with its field error', (_kind, entry, expected) => {
    const r = create(pool('p', 'IPv4', ['10.0.0.0/24', entry]));
    expect(r).toMatchObject({ uid: 'uid-1', allowed: false, status: { code: 422, reason: 'Invalid' } });
    const causes = causesOf(r) ?? [];
    expect(causes).toHaveLength(1);
    expect(causes[0]).toContain(expected);
    expect(r.status?.message).toContain(`IPPool "p" is invalid: ${expected}`);
  });

  it.each([
    ['everything excluded', ['10.0.0.0/24', '!10.0.0.0/24'], 'spec.addresses: no addresses left after exclusions'],
    ['no entries at all', [], 'spec.addresses: addresses needs at least one entry'],
    ['a repeated entry', ['10.0.0.1', '10.0.0.1'], 'spec.addresses: addresses must not repeat an entry'],
  ])('rejects a pool with %s', (_kind, addresses, expected) => {
    expect(causesOf(create(pool('p', 'IPv4', addresses)))).toEqual([expected]);
  });

  it('gives one error per bad entry, each at its own index, and lists them all in the message', () => {
    const r = create(pool('many', 'IPv4', ['10.0.0.0/24', '10.0.0.300', '10.0.1.1', '10.0.0.9-10.0.0.1', '2001:db8::1']));
    expect(r.status?.details).toMatchObject({ name: 'many', group: 'mikrolb.de', kind: 'IPPool' });
    expect(r.status?.details.causes.map((c) => c.field)).toEqual(['spec.addresses[1]', 'spec.addresses[3]', 'spec.addresses[4]']);
    expect(r.status?.message).toBe(
      'IPPool "many" is invalid: spec.addresses[1]: "10.0.0.300" is not a valid address (IPv4 must be four decimal octets like 192.0.2.10); ' +
      'spec.addresses[3]: range 10.0.0.9-10.0.0.1 is reversed: its start is after its end; ' +
      "spec.addresses[4]: 2001:db8::1 is IPv6, but the pool's ipFamily is IPv4",
    );
  });

  it('rejects an object that is not an IPPool, naming the field', () => {
    const r = reviewPool(request('CREATE', { metadata: { name: 'odd' }, spec: { ipFamily: 'IPv5', addresses: ['10.0.0.1'] } }), []);
    expect(r.allowed).toBe(false);
    expect(r.status?.details.causes.map((c) => c.field)).toEqual(['spec.ipFamily']);
    expect(r.status?.message).toMatch(/^IPPool "odd" is invalid: spec\.ipFamily: /);
  });

  it('rejects a request for another kind', () => {
    const r = reviewPool({ ...request('CREATE', {}), kind: { group: '', version: 'v1', kind: 'Service' } }, []);
    expect(r.status?.message).toContain('this webhook reviews mikrolb.de IPPools, not /Service');
  });
});

describe('reviewPool: overlapping pools', () => {
  const older = pool('older', 'IPv4', ['203.0.113.0/27']);

  it('admits a pool that shares nothing with the others', () => {
    expect(create(pool('next', 'IPv4', ['203.0.113.32/27']), [older])).toEqual({ uid: 'uid-1', allowed: true });
  });

  it('rejects a pool that shares addresses, naming the other pool and the shared addresses', () => {
    const r = create(pool('newer', 'IPv4', ['203.0.113.16-203.0.113.40']), [older]);
    expect(r.allowed).toBe(false);
    expect(r.status?.message).toBe(
      'IPPool "newer" is invalid: spec.addresses: shares 203.0.113.16-203.0.113.31 with IPPool "older" (an address can belong to only one pool)',
    );
  });

  it('names every pool it overlaps, one error each, whatever their age', () => {
    const younger = pool('younger', 'IPv4', ['203.0.113.64/27'], '2030-01-01T00:00:00Z');
    const r = create(pool('wide', 'IPv4', ['203.0.113.20-203.0.113.70']), [older, younger]);
    expect(causesOf(r)).toEqual([
      'spec.addresses: shares 203.0.113.20-203.0.113.31 with IPPool "older" (an address can belong to only one pool)',
      'spec.addresses: shares 203.0.113.64-203.0.113.70 with IPPool "younger" (an address can belong to only one pool)',
    ]);
  });

  it('ignores pools whose own spec is invalid (they own nothing)', () => {
    expect(create(pool('p', 'IPv4', ['203.0.113.0/27']), [pool('broken', 'IPv4', ['203.0.113.0/27', 'nope'])]).allowed).toBe(true);
  });

  it.each([
    ['IPv4 beside IPv6', pool('v4', 'IPv4', ['10.0.0.0/24']), pool('v6', 'IPv6', ['2001:db8::/64'])],
    ['IPv6 beside IPv4', pool('v6', 'IPv6', ['::10.0.0.0/120']), pool('v4', 'IPv4', ['10.0.0.0/24'])],
  ])('never finds a conflict between families: %s', (_case, mine, other) => {
    expect(create(mine, [other])).toEqual({ uid: 'uid-1', allowed: true });
  });

  it('does not compare a pool with itself on UPDATE', () => {
    const stored = pool('self', 'IPv4', ['203.0.113.64/27']);
    const changed = pool('self', 'IPv4', ['203.0.113.64/26']);
    expect(reviewPool(request('UPDATE', changed, stored), [stored, older])).toEqual({ uid: 'uid-1', allowed: true });
  });

  describe('an UPDATE that changes ipFamily', () => {
    const stored = pool('p', 'IPv4', ['10.0.0.0/24']);
    const v6 = pool('v6', 'IPv6', ['2001:db8::/64']);

    it('rejects every address shared with a pool of the new family: none of them was shared before', () => {
      const changed = pool('p', 'IPv6', ['2001:db8::10-2001:db8::20']);
      expect(causesOf(reviewPool(request('UPDATE', changed, stored), [stored, v6]))).toEqual([
        'spec.addresses: shares 2001:db8::10-2001:db8::20 with IPPool "v6" (an address can belong to only one pool)',
      ]);
    });

    it('admits it when the new addresses share nothing', () => {
      const changed = pool('p', 'IPv6', ['2001:db8:1::/64']);
      expect(reviewPool(request('UPDATE', changed, stored), [stored, v6])).toEqual({ uid: 'uid-1', allowed: true });
    });
  });

  describe('a pool that overlapped before the webhook existed', () => {
    const stored = pool('late', 'IPv4', ['203.0.113.24-203.0.113.40'], '2025-01-01T00:00:00Z');

    it('may still change as long as it shares nothing new, and is warned about what it shares', () => {
      const changed = { ...stored, spec: { ...stored.spec, addresses: ['203.0.113.24-203.0.113.50'] } };
      const r = reviewPool(request('UPDATE', changed, stored), [older, stored]);
      expect(r).toEqual({
        uid: 'uid-1', allowed: true,
        warnings: ['spec.addresses still shares 203.0.113.24-203.0.113.31 with IPPool "older"; they belong to the older of the two pools'],
      });
    });

    it('is rejected when the change shares more, naming only the newly shared addresses', () => {
      const changed = { ...stored, spec: { ...stored.spec, addresses: ['203.0.113.10-203.0.113.40'] } };
      expect(causesOf(reviewPool(request('UPDATE', changed, stored), [older, stored]))).toEqual([
        'spec.addresses: shares 203.0.113.10-203.0.113.23 with IPPool "older" (an address can belong to only one pool)',
      ]);
    });
  });
});

describe('reviewPool: special-purpose addresses', () => {
  it('admits a pool that lists some, and warns that they are never handed out', () => {
    const r = create(pool('all', 'IPv6', ['::/0']));
    expect(r).toEqual({
      uid: 'uid-1', allowed: true,
      warnings: [
        'spec.addresses includes special-purpose addresses MikroLB never hands out: ' +
        '::1 (loopback), ::ffff:0.0.0.0-::ffff:255.255.255.255 (IPv4-mapped), ' +
        'fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff (link-local), ff00::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe (multicast)',
      ],
    });
  });

  it('refuses a pool of nothing else', () => {
    expect(causesOf(create(pool('mc', 'IPv4', ['224.0.0.0/24'])))).toEqual([
      'spec.addresses: no addresses left: every address the pool lists is special-purpose (224.0.0.1-224.0.0.254), which MikroLB never hands out',
    ]);
  });

  it('admits an ordinary pool without a warning', () => {
    expect(create(pool('lan', 'IPv4', ['192.0.2.0/24']))).toEqual({ uid: 'uid-1', allowed: true });
  });
});

describe('reviewPool: operations', () => {
  const invalid = pool('legacy', 'IPv4', ['bogus']);

  it.each<AdmissionRequest['operation']>(['DELETE', 'CONNECT'])('allows %s', (operation) => {
    expect(reviewPool(request(operation, null, invalid), [])).toEqual({ uid: 'uid-1', allowed: true });
  });

  it('allows a metadata-only change of an invalid pool (so finalizers can be removed)', () => {
    const labelled = { ...invalid, metadata: { ...invalid.metadata, labels: { team: 'a' } } };
    expect(reviewPool(request('UPDATE', labelled, invalid), []).allowed).toBe(true);
  });

  it('allows a metadata-only change of an invalid pool being deleted (its finalizer removed)', () => {
    const deleting = { ...invalid, metadata: { ...invalid.metadata, deletionTimestamp: '2025-01-01T00:00:00Z', finalizers: ['mikrolb.de/pool'] } };
    const released = { ...deleting, metadata: { ...deleting.metadata, finalizers: [] } };
    expect(reviewPool(request('UPDATE', released, deleting), []).allowed).toBe(true);
  });

  it('reviews a spec change of a pool being deleted: it may not take another pool’s addresses', () => {
    const other = pool('younger', 'IPv4', ['203.0.113.0/24']);
    const live = pool('going', 'IPv4', ['198.51.100.0/24']);
    const deleting = { ...live, metadata: { ...live.metadata, deletionTimestamp: '2025-01-01T00:00:00Z' } };
    const grabbing = { ...deleting, spec: { ...deleting.spec, addresses: ['198.51.100.0/24', '203.0.113.0/24'] } };
    expect(causesOf(reviewPool(request('UPDATE', grabbing, deleting), [other, deleting]))).toEqual([
      'spec.addresses: shares 203.0.113.1-203.0.113.254 with IPPool "younger" (an address can belong to only one pool)',
    ]);
  });

  it('allows a metadata-only change when the old object is no longer a valid IPPool', () => {
    const stored = { ...invalid, spec: { ...invalid.spec, ipFamily: 'IPv5' } };
    const labelled = { ...stored, metadata: { ...stored.metadata, labels: { team: 'a' } } };
    expect(reviewPool(request('UPDATE', labelled, stored), []).allowed).toBe(true);
  });

  it('checks an UPDATE that changes an invalid spec', () => {
    const changed = { ...invalid, spec: { ...invalid.spec, addresses: ['still bogus'] } };
    expect(causesOf(reviewPool(request('UPDATE', changed, invalid), []))).toEqual([
      'spec.addresses[0]: "still bogus" is not a valid address (IPv4 must be four decimal octets like 192.0.2.10)',
    ]);
  });
});

describe('reviewPool: interfaceName', () => {
  const named = (interfaceName: string) => ({ ...pool('lan', 'IPv4', ['10.0.0.0/24']), spec: { ...pool('lan', 'IPv4', ['10.0.0.0/24']).spec, interfaceName } });

  it.each(['', 'e', '1', 'vlan_10', '_lan_', 'bridge.lan', 'sfp-sfpplus1', 'a'.repeat(64)])('admits %j', (name) => {
    expect(reviewPool(request('CREATE', named(name)), [])).toEqual({ uid: 'uid-1', allowed: true });
  });

  it.each(['-eth0', 'eth0-', '.lan', 'bridge.', 'eth 0', 'eth0=x', 'eth0;x', 'eth"0', 'eth\\0', 'eth0\n', 'eth\t0', 'eth\u00000', 'ä', 'a'.repeat(65)])('refuses %j, saying what a name may hold', (name) => {
    expect(causesOf(reviewPool(request('CREATE', named(name)), []))).toEqual([
      name.length > 64 ? expect.stringMatching(/^spec\.interfaceName: /)
        : 'spec.interfaceName: must be a router interface name: letters, digits, "_", "." and "-", not starting or ending with "." or "-"',
    ]);
  });
});

describe('reviewPool: serviceAllocation', () => {
  const scoped = (serviceAllocation: unknown, addresses = ['10.0.0.0/24']) => ({ ...pool('scoped', 'IPv4', addresses), spec: { ...pool('scoped', 'IPv4', addresses).spec, serviceAllocation } });

  it('admits a scope of namespaces, selectors and a priority', () => {
    const r = reviewPool(request('CREATE', scoped({ priority: 10, namespaces: ['team-a'], namespaceSelectors: [{ matchLabels: { tenant: 'a' } }], serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold'] }] }] })), []);
    expect(r).toEqual({ uid: 'uid-1', allowed: true });
  });

  it('rejects a negative priority (the schema)', () => {
    expect(causesOf(reviewPool(request('CREATE', scoped({ priority: -1 })), []))).toEqual([
      expect.stringMatching(/^spec\.serviceAllocation\.priority: /),
    ]);
  });

  it('rejects an unknown selector operator (the schema)', () => {
    expect(causesOf(reviewPool(request('CREATE', scoped({ serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'Equals' }] }] })), []))).toEqual([
      expect.stringMatching(/^spec\.serviceAllocation\.serviceSelectors\[0\]\.matchExpressions\[0\]\.operator: /),
    ]);
  });

  it('rejects bad selectors and namespace names, one error each, beside bad address entries', () => {
    const r = reviewPool(request('CREATE', scoped({
      namespaces: ['Team A'],
      namespaceSelectors: [{ matchExpressions: [{ key: 'tenant', operator: 'In' }] }],
      serviceSelectors: [{ matchLabels: { 'tier!': 'gold' } }],
    }, ['10.0.0.300'])), []);
    expect(r.allowed).toBe(false);
    expect(causesOf(r)).toEqual([
      'spec.addresses[0]: "10.0.0.300" is not a valid address (IPv4 must be four decimal octets like 192.0.2.10)',
      'spec.serviceAllocation.namespaces[0]: "Team A" is not a valid namespace name (lowercase letters, digits and "-", starting and ending with a letter or digit)',
      'spec.serviceAllocation.namespaceSelectors[0].matchExpressions[0].values: must name at least one value for operator In',
      'spec.serviceAllocation.serviceSelectors[0].matchLabels: "tier!" is not a valid label key (up to 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit, optionally after a "prefix/")',
    ]);
  });
});

describe('message helpers', () => {
  it.each([
    [['spec', 'addresses', 2], 'spec.addresses[2]'],
    [['metadata', 'name'], 'metadata.name'],
    [[], '<object>'],
  ])('fieldPath(%j) is %s', (path, expected) => {
    expect(fieldPath(path)).toBe(expected);
  });

  it('joins the field errors into one line', () => {
    const causes: StatusCause[] = [
      { reason: 'FieldValueInvalid', field: 'spec.addresses[0]', message: 'a' },
      { reason: 'FieldValueInvalid', field: 'spec.addresses', message: 'b' },
    ];
    expect(denialMessage('p', causes)).toBe('IPPool "p" is invalid: spec.addresses[0]: a; spec.addresses: b');
  });
});

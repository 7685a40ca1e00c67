import { describe, expect, it } from 'vitest';
import type { IPPool } from '../k8s/schemas.js';
import { poolsKeepingAddressName } from './claim-pools.js';

const pool = (name: string, created: string, addresses: string[], ipFamily: 'IPv4' | 'IPv6' = 'IPv4', avoidBuggyIPs = false): IPPool => ({
  metadata: { name, creationTimestamp: created },
  spec: { ipFamily, addresses, autoAssign: true, avoidBuggyIPs, advertise: false },
});

const POOLS = [
  pool('lan', '2026-01-01T00:00:00Z', ['192.0.2.0/28']),
  pool('late', '2026-02-01T00:00:00Z', ['192.0.2.8/29', '192.0.2.16/29']), // overlaps lan: .8-.15 stay lan's
  pool('buggy', '2026-01-01T00:00:00Z', ['198.51.100.0/24'], 'IPv4', true),
  pool('v6', '2026-01-01T00:00:00Z', ['2001:db8::/120'], 'IPv6'),
];

describe('the pool a freed address belonged to, from its claim name alone', () => {
  it.each([
    ['an address of one pool', '192.0.2.3', ['lan']],
    ['an address two pools list: the older pool owns it', '192.0.2.9', ['lan']],
    ['an address only the younger pool lists', '192.0.2.17', ['late']],
    ['an address avoidBuggyIPs keeps from new choices but an allocation may hold', '198.51.100.0', ['buggy']],
    ['an IPv6 address (its name has dashes)', '2001-db8-0-0-0-0-0-5', ['v6']],
    ['an address no pool lists', '203.0.113.1', []],
    ['a name that is no address', 'not-an-address', []],
  ])('%s: %s → %j', (_what, name, expected) => expect(poolsKeepingAddressName(name, POOLS)).toEqual(expected));
});

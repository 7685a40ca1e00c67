import { describe, expect, it } from 'vitest';
import { parseAddress, TakenAddresses } from '../ip/index.js';
import { ServiceSchema } from '../k8s/core-objects.js';
import { IPAllocationSchema, IPPoolSchema, type ClaimPort, type IPAddressClaimSpec } from '../k8s/schemas.js';
import { assignAddress, type SharedAddress } from './assign.js';
import { viewPools } from './pools.js';
import { holdersOf, holdsClaim, joined, joinRefusal, left, newClaimSpec, overlappingPorts, sharedAddressOwner, sharingFits, sharingOf, type Sharing } from './sharing.js';

const tcp = (port: number): ClaimPort => ({ protocol: 'TCP', port });
const udp = (port: number): ClaimPort => ({ protocol: 'UDP', port });
const NOW = '2026-12-02T12:00:00.000Z';

/** A claim shared under `key` by the given holders (name → ports). */
function shared(key: string, holders: Record<string, ClaimPort[]>): IPAddressClaimSpec {
  const list = Object.entries(holders).map(([name, ports]) => ({ allocationName: name, allocationUID: `uid-${name}`, ports }));
  const [first] = list;
  return { address: '192.0.2.10', poolName: 'lan', allocationName: first?.allocationName ?? '', allocationUID: first?.allocationUID ?? '', sharingKey: key, holders: list };
}
const single: IPAddressClaimSpec = { address: '192.0.2.10', poolName: 'lan', allocationName: 'web', allocationUID: 'uid-web' };

describe('who may share an address', () => {
  it.each<[string, IPAddressClaimSpec, Sharing | undefined, string | undefined]>([
    ['dns tcp joins dns udp under one key', shared('dns', { udp: [udp(53)] }), { key: 'dns', ports: [tcp(53)] }, undefined],
    ['http joins https under one key', shared('web', { https: [tcp(443)] }), { key: 'web', ports: [tcp(80)] }, undefined],
    ['the same port under one key is refused', shared('web', { https: [tcp(443)] }), { key: 'web', ports: [tcp(80), tcp(443)] }, 'IPAllocation https uses TCP/443 on it'],
    ['another key is refused', shared('web', { https: [tcp(443)] }), { key: 'mail', ports: [tcp(25)] }, 'it is shared under another key ("web")'],
    ['no key is refused', shared('web', { https: [tcp(443)] }), undefined, 'the Service has no allow-shared-ip key'],
    ['an address nobody shares is refused', single, { key: 'web', ports: [tcp(80)] }, 'it is not shared'],
    ['a clash with the second of three holders is named', shared('k', { a: [tcp(1)], b: [udp(2)] }), { key: 'k', ports: [udp(2)] }, 'IPAllocation b uses UDP/2 on it'],
  ])('%s', (_, spec, sharing, refusal) => {
    expect(joinRefusal(spec, 'uid-new', sharing)).toBe(refusal);
  });

  it.each<[ClaimPort[], ClaimPort[], ClaimPort[]]>([
    [[tcp(53)], [udp(53)], []],
    [[tcp(80), tcp(443)], [tcp(443)], [tcp(443)]],
    [[{ protocol: 'SCTP', port: 9 }], [tcp(9), { protocol: 'SCTP', port: 9 }], [{ protocol: 'SCTP', port: 9 }]],
    [[], [tcp(1)], []],
  ])('ports %j and %j overlap in %j (protocol and port)', (a, b, both) => {
    expect(overlappingPorts(a, b)).toEqual(both);
  });

  it('a holder never clashes with its own ports (it may re-join after a crash)', () => {
    expect(joinRefusal(shared('web', { a: [tcp(80)] }), 'uid-a', { key: 'web', ports: [tcp(80)] })).toBeUndefined();
  });
});

describe('joining and leaving a claim', () => {
  it('a new claim of a Service with a key lists it with its ports; without a key it has one holder', () => {
    expect(newClaimSpec(single, { key: 'web', ports: [tcp(80)] }, NOW)).toEqual({ ...single, sharingKey: 'web', holders: [{ allocationName: 'web', allocationUID: 'uid-web', ports: [tcp(80)], joinedAt: NOW }] });
    expect(newClaimSpec(single, undefined, NOW)).toEqual(single);
  });

  it('a claim without holders is held by its single-holder fields (claims from before sharing)', () => {
    expect(holdersOf(single)).toEqual([{ allocationName: 'web', allocationUID: 'uid-web', ports: [] }]);
    expect(holdsClaim(single, 'uid-web')).toBe(true);
    expect(holdsClaim(single, 'uid-other')).toBe(false);
  });

  it('joining adds the holder; the single-holder fields keep naming the first', () => {
    const spec = joined(shared('web', { https: [tcp(443)] }), { allocationName: 'http', allocationUID: 'uid-http', ports: [] }, { key: 'web', ports: [tcp(80)] });
    expect(spec.allocationUID).toBe('uid-https');
    expect(holdersOf(spec).map((h) => [h.allocationName, h.ports])).toEqual([['https', [tcp(443)]], ['http', [tcp(80)]]]);
  });

  it('leaving hands the single-holder fields to the next holder; the last one leaving frees the address', () => {
    const two = shared('web', { https: [tcp(443)], http: [tcp(80)] });
    const rest = left(two, 'uid-https');
    expect(rest).toMatchObject({ allocationName: 'http', allocationUID: 'uid-http', sharingKey: 'web' });
    expect(rest && holdersOf(rest).map((h) => h.allocationName)).toEqual(['http']);
    expect(rest && left(rest, 'uid-http')).toBeUndefined();
    expect(left(single, 'uid-web')).toBeUndefined();
  });

  it.each<[string, IPAddressClaimSpec, Sharing | undefined, boolean]>([
    ['a single claim fits a Service without a key', single, undefined, true],
    ['a single claim does not fit a Service that gained a key', single, { key: 'web', ports: [tcp(80)] }, false],
    ['a shared claim fits its holder with the ports it records', shared('web', { web: [tcp(80)] }), { key: 'web', ports: [tcp(80)] }, true],
    ['a shared claim does not fit changed ports', shared('web', { web: [tcp(80)] }), { key: 'web', ports: [tcp(8080)] }, false],
    ['a shared claim does not fit a Service that lost its key', shared('web', { web: [tcp(80)] }), undefined, false],
  ])('%s', (_, spec, sharing, fits) => {
    expect(sharingFits(spec, 'uid-web', sharing)).toBe(fits);
  });
});

describe("a Service's sharing", () => {
  const svc = (annotations: Record<string, string>) => ServiceSchema.parse({
    metadata: { name: 's', namespace: 'n', annotations },
    spec: { type: 'LoadBalancer', ports: [{ port: 443 }, { port: 53, protocol: 'UDP' }, { port: 443, protocol: 'TCP' }] },
  });

  it.each([
    [{ 'mikrolb.de/allow-shared-ip': 'web' }, 'web'],
    [{ 'metallb.io/allow-shared-ip': 'dns' }, 'dns'],
    [{ 'mikrolb.de/allow-shared-ip': 'ours', 'metallb.io/allow-shared-ip': 'theirs' }, 'ours'],
    [{ 'mikrolb.de/allow-shared-ip': '  ' }, undefined],
    [{}, undefined],
  ])('annotations %j give key %s', (annotations, key) => {
    expect(sharingOf(svc(annotations))?.key).toBe(key);
  });

  it('its ports are unique and sorted by protocol and port', () => {
    expect(sharingOf(svc({ 'mikrolb.de/allow-shared-ip': 'k' }))?.ports).toEqual([tcp(443), udp(53)]);
  });

  it('the router owner of a shared address is named by the address, never like a Service uid', () => {
    expect(sharedAddressOwner('192.0.2.10')).toBe('ip-192.0.2.10');
    expect(sharedAddressOwner('2001:db8::1')).toBe('ip-2001-db8-0-0-0-0-0-1');
    expect(sharedAddressOwner('nope')).toBeUndefined();
  });
});

describe('choosing a shared address', () => {
  const lan = IPPoolSchema.parse({ metadata: { name: 'lan', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { ipFamily: 'IPv4', addresses: ['192.0.2.10-192.0.2.13'] } });
  const alloc = IPAllocationSchema.parse({ metadata: { name: 'http', uid: 'uid-http' }, spec: { poolName: 'lan' } });
  const choose = (sharing: Sharing | undefined, sharedAddresses: SharedAddress[]) => {
    const taken = new TakenAddresses();
    for (const s of sharedAddresses) {
      const p = parseAddress(s.address);
      if (p.ok) taken.add(p.value);
    }
    return assignAddress({
      allocation: alloc, pools: viewPools([lan]), taken: () => taken,
      shared: (pool, key) => (pool === 'lan' && key === 'web' ? sharedAddresses : []), ...(sharing ? { sharing } : {}),
    });
  };

  it.each<[string, Sharing | undefined, SharedAddress[], string]>([
    ['joins the address https shares under its key rather than taking a fresh one', { key: 'web', ports: [tcp(80)] }, [{ address: '192.0.2.12', ports: [tcp(443)] }], '192.0.2.12'],
    ['joins the lowest of several that fit', { key: 'web', ports: [tcp(80)] }, [{ address: '192.0.2.13', ports: [tcp(443)] }, { address: '192.0.2.11', ports: [udp(80)] }], '192.0.2.11'],
    ['skips one whose holders use its port', { key: 'web', ports: [tcp(80)] }, [{ address: '192.0.2.12', ports: [tcp(80)] }, { address: '192.0.2.13', ports: [tcp(443)] }], '192.0.2.13'],
  ])('%s', (_, sharing, sharedAddresses, address) => {
    expect(choose(sharing, sharedAddresses)).toMatchObject({ ok: true, pool: 'lan', address });
  });

  it('takes a free address when none fits, or under another key', () => {
    const d = choose({ key: 'web', ports: [tcp(80)] }, [{ address: '192.0.2.12', ports: [tcp(80)] }]);
    expect(d.ok && d.address !== '192.0.2.12').toBe(true);
    const other = choose({ key: 'mail', ports: [tcp(25)] }, [{ address: '192.0.2.12', ports: [tcp(443)] }]);
    expect(other.ok && other.address !== '192.0.2.12').toBe(true);
    const none = choose(undefined, [{ address: '192.0.2.12', ports: [tcp(443)] }]);
    expect(none.ok && none.address !== '192.0.2.12').toBe(true);
  });
});

describe('a Service’s sharing key', () => {
  const svc = (annotations: Record<string, string>) =>
    ServiceSchema.parse({ metadata: { name: 'dns', namespace: 'default', annotations }, spec: { type: 'LoadBalancer', ports: [{ protocol: 'UDP', port: 53 }] } });

  it.each<[string, Record<string, string>, string | undefined]>([
    ['ours', { 'mikrolb.de/allow-shared-ip': 'dns' }, 'dns'],
    ['MetalLB’s', { 'metallb.io/allow-shared-ip': 'dns' }, 'dns'],
    ['ours wins over MetalLB’s', { 'mikrolb.de/allow-shared-ip': 'a', 'metallb.io/allow-shared-ip': 'b' }, 'a'],
    ['an empty one of ours counts as unset: MetalLB’s is read', { 'mikrolb.de/allow-shared-ip': '', 'metallb.io/allow-shared-ip': 'dns' }, 'dns'],
    ['a blank one of ours counts as unset too', { 'mikrolb.de/allow-shared-ip': '  ', 'metallb.io/allow-shared-ip': 'dns' }, 'dns'],
    ['both empty: no key', { 'mikrolb.de/allow-shared-ip': '', 'metallb.io/allow-shared-ip': ' ' }, undefined],
    // MetalLB still reads its older spelling (charts written for MetalLB < 0.14 set it): Services
    // pinned to one address under it must share it here too, not fail AddressAlreadyUsed
    ['MetalLB’s older spelling', { 'metallb.universe.tf/allow-shared-ip': 'dns' }, 'dns'],
    ['MetalLB’s current spelling wins over its older one', { 'metallb.io/allow-shared-ip': 'a', 'metallb.universe.tf/allow-shared-ip': 'b' }, 'a'],
    ['ours wins over MetalLB’s older spelling', { 'mikrolb.de/allow-shared-ip': 'a', 'metallb.universe.tf/allow-shared-ip': 'b' }, 'a'],
  ])('%s', (_, annotations, key) => {
    expect(sharingOf(svc(annotations))?.key).toBe(key);
  });
});

import { describe, expect, it } from 'vitest';
import { createTracer } from '../../test/tracer/index.js';
import { globalEntries, serviceEntries } from './layout.js';
import { ownerOf, scopes } from './names.js';
import { backendSpread, baseRouter, converge, desiredFor, FAMILIES, NET, webService } from './test-support.js';

const programmed = (svc = webService()) => converge(baseRouter(), desiredFor([svc]), scopes.everything).state;

describe.each(FAMILIES)('%s: a Service with two ports, three ready endpoints and one starting up', (family) => {
  const net = NET[family];
  const state = programmed();
  const trace = (connection: Parameters<ReturnType<typeof createTracer>['trace']>[0]) => createTracer(state).trace(connection);

  it('is a configuration the tracer understands completely', () => {
    expect(createTracer(state).problems).toEqual([]);
  });

  it.each([
    { port: 'tcp/80', target: 8080 },
    { port: 'udp/53', target: 5353 },
  ])('3,000 new connections to $port split evenly over the ready endpoints on port $target', ({ port, target }) => {
    const counts = backendSpread(state, family)[port] ?? {};
    expect(Object.keys(counts).sort()).toEqual(net.ready.map((address) => `${address}:${target}`).sort());
    for (const count of Object.values(counts)) {
      expect(count).toBeGreaterThanOrEqual(950);
      expect(count).toBeLessThanOrEqual(1050);
    }
  });

  it.each([
    { story: 'a ready endpoint leaves with the SNAT address', src: net.ready[1] ?? '', expected: net.snat },
    { story: 'an endpoint still starting up leaves with the SNAT address too', src: net.notReady, expected: net.snat },
    { story: 'another LAN host keeps its own address', src: net.other, expected: net.other },
  ])('$story', ({ src, expected }) => {
    const result = trace({ srcAddress: src, srcPort: 40000, dstAddress: net.internet, dstPort: 443, inInterface: 'bridge' });
    expect(result).toMatchObject({ ok: true, verdict: 'accept', delivery: 'forward', srcAddress: expected, dstAddress: net.internet });
  });

  it.each([
    { story: 'an unmatched TCP port is reset', protocol: 'tcp', dstPort: 22, expected: { verdict: 'reject', rejectWith: 'tcp-reset' } },
    { story: 'UDP to the TCP-only port is refused', protocol: 'udp', dstPort: 80, expected: { verdict: 'reject', rejectWith: 'icmp-port-unreachable' } },
    { story: 'an unmatched UDP port is refused', protocol: 'udp', dstPort: 9999, expected: { verdict: 'reject', rejectWith: 'icmp-port-unreachable' } },
  ])('$story on the LB address', ({ protocol, dstPort, expected }) => {
    const result = trace({ srcAddress: family === 'IPv4' ? '198.51.100.7' : '2001:db8:7::7', srcPort: 40000, dstAddress: net.lb, dstPort, protocol, inInterface: 'ether1' });
    expect(result).toMatchObject({ ok: true, ...expected, chain: 'filter/input', dstAddress: net.lb });
  });

  it('answers ping on the LB address', () => {
    const protocol = family === 'IPv4' ? 'icmp' : 'icmpv6';
    const result = trace({ srcAddress: family === 'IPv4' ? '198.51.100.7' : '2001:db8:7::7', dstAddress: net.lb, protocol, inInterface: 'ether1' });
    expect(result).toMatchObject({ ok: true, verdict: 'accept', delivery: 'input' });
  });

  it('sends nothing while no endpoint is ready: the port is reset like an unmatched one', () => {
    const idle = programmed(webService({ endpoints: [] }));
    const result = createTracer(idle).trace({ srcAddress: family === 'IPv4' ? '198.51.100.7' : '2001:db8:7::7', srcPort: 40000, dstAddress: net.lb, dstPort: 80, inInterface: 'ether1' });
    expect(result).toMatchObject({ ok: true, verdict: 'reject', rejectWith: 'tcp-reset' });
  });

  it('leaves endpoint egress alone when SNAT is off', () => {
    const noSnat = programmed(webService({ snatEnabled: false }));
    const result = createTracer(noSnat).trace({ srcAddress: net.ready[0] ?? '', srcPort: 40000, dstAddress: net.internet, dstPort: 443, inInterface: 'bridge' });
    expect(result).toMatchObject({ ok: true, verdict: 'accept', srcAddress: net.ready[0] });
  });
});

describe('entry naming', () => {
  const svc = webService();
  const menus = [...Object.entries(globalEntries('IPv4')), ...Object.entries(globalEntries('IPv6')), ...Object.entries(serviceEntries(svc))];
  const entries = menus.flatMap(([, list]) => list);

  it('tags every entry with its owner, in short ASCII comments, one key per entry of a menu', () => {
    for (const entry of entries) {
      expect(entry.comment).toMatch(/^mikrolb:[\x21-\x7e]{1,190}$/);
      expect(ownerOf(entry.comment)).toBeDefined();
    }
    for (const [, list] of menus) expect(new Set(list.map((entry) => entry.comment)).size).toBe(list.length);
  });

  it('uses short, valid chain names derived from the uid', () => {
    const chains = new Set(entries.flatMap((entry) => [entry.chain, entry['jump-target']]).filter((name) => name !== undefined));
    expect([...chains].sort()).toEqual([
      'dstnat', 'forward', 'input', 'mikrolb-input', 'mikrolb-lb', 'mikrolb-snat', 'mikrolb-svc-6f1c2a9e4b7d', 'mikrolb-svc-6f1c2a9e4b7d-tcp-80',
      'mikrolb-svc-6f1c2a9e4b7d-udp-53', 'prerouting', 'srcnat',
    ]);
  });

  it.each([
    { story: '3 endpoints', ready: 3, nth: ['3,1', '2,1', undefined] },
    { story: '2 endpoints', ready: 2, nth: ['2,1', undefined] },
    { story: '1 endpoint', ready: 1, nth: [undefined] },
  ])('splits $story with decreasing every values, the last rule without nth', ({ ready, nth }) => {
    const endpoints = NET.IPv4.ready.slice(0, ready).map((address) => ({ family: 'IPv4' as const, address, ready: true }));
    const nat = serviceEntries(webService({ endpoints }))['/ip/firewall/nat'] ?? [];
    const dnat = nat.filter((entry) => entry.chain === 'mikrolb-svc-6f1c2a9e4b7d-tcp-80');
    expect(dnat.map((entry) => entry.nth)).toEqual(nth);
    expect(dnat.map((entry) => entry.comment.split(':').at(-1))).toEqual(nth.map((_, i) => String(nth.length - 1 - i)));
  });

  it.each([
    { story: 'IPv4 NAT targets use to-addresses', menu: '/ip/firewall/nat', property: 'to-addresses' },
    { story: 'IPv6 NAT targets use to-address', menu: '/ipv6/firewall/nat', property: 'to-address' },
  ])('$story', ({ menu, property }) => {
    const nat = serviceEntries(svc)[menu] ?? [];
    const natting = nat.filter((entry) => entry.action === 'dst-nat' || entry.action === 'src-nat');
    expect(natting.length).toBe(7);
    for (const entry of natting) expect(Object.keys(entry)).toContain(property);
  });

  it('writes nothing for the load balancer when it is disabled, and nothing for SNAT when that is', () => {
    const none = serviceEntries(webService({ lbEnabled: false, snatEnabled: false }));
    expect(Object.values(none).flat()).toEqual([]);
  });
});

describe('the SNAT address when a family has several (as upstream MikroLB: the highest)', () => {
  const srcNat = (svc: ReturnType<typeof webService>, menu: string) =>
    (serviceEntries(svc)[menu] ?? []).filter((entry) => entry.action === 'src-nat');

  it.each([
    ['several snat-ips addresses', { snatAddresses: [
      { family: 'IPv4' as const, address: '192.0.2.30' }, { family: 'IPv4' as const, address: '192.0.2.9' },
      { family: 'IPv6' as const, address: '2001:db8::ff' }, { family: 'IPv6' as const, address: '2001:db8::1:0' },
    ] }],
    ['use-lb-ips with several load-balancer addresses', { lbAddresses: [
      { family: 'IPv4' as const, address: '192.0.2.9' }, { family: 'IPv4' as const, address: '192.0.2.30' },
      { family: 'IPv6' as const, address: '2001:db8::1:0' }, { family: 'IPv6' as const, address: '2001:db8::ff' },
    ], snatAddresses: [
      { family: 'IPv4' as const, address: '192.0.2.9' }, { family: 'IPv4' as const, address: '192.0.2.30' },
      { family: 'IPv6' as const, address: '2001:db8::1:0' }, { family: 'IPv6' as const, address: '2001:db8::ff' },
    ] }],
  ])('%s: one src-nat rule per family, to the numerically highest address', (_story, overrides) => {
    const svc = webService(overrides);
    expect(srcNat(svc, '/ip/firewall/nat').map((e) => e['to-addresses'])).toEqual(['192.0.2.30']);
    expect(srcNat(svc, '/ipv6/firewall/nat').map((e) => e['to-address'])).toEqual(['2001:db8::1:0']);
  });
});

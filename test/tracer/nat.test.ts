import { describe, expect, it } from 'vitest';
import { createTracer, type Connection } from './index.js';
import { routerState } from './test-support.js';

const LB = '192.0.2.15';

const interfaces = {
  '/ip/address': [
    { address: '192.0.2.1/24', interface: 'ether1' },
    { address: `${LB}/32`, interface: 'ether1', comment: 'mikrolb:svc-a' },
    { address: '10.0.0.1/24', interface: 'bridge' },
  ],
  '/ip/route': [{ 'dst-address': '0.0.0.0/0', gateway: '192.0.2.254' }],
};

const web = (overrides: Partial<Connection> = {}): Connection => ({
  srcAddress: '198.51.100.7',
  srcPort: 40000,
  dstAddress: LB,
  dstPort: 80,
  inInterface: 'ether1',
  ...overrides,
});

describe('connection marks set in mangle prerouting steer nat and filter', () => {
  const tracer = createTracer(
    routerState({
      ...interfaces,
      '/ip/firewall/mangle': [
        { chain: 'prerouting', action: 'mark-connection', 'new-connection-mark': 'lb-svc-a', 'dst-address': LB, passthrough: 'yes' },
        { chain: 'prerouting', action: 'mark-packet', 'new-packet-mark': 'web', 'connection-mark': 'lb-svc-a', passthrough: 'no' },
        { chain: 'prerouting', action: 'mark-connection', 'new-connection-mark': 'unreached', 'connection-mark': 'lb-svc-a' },
      ],
      '/ip/firewall/nat': [{ chain: 'dstnat', action: 'dst-nat', 'connection-mark': 'lb-svc-a', 'to-addresses': '10.0.0.5', 'to-ports': '8080' }],
      '/ip/firewall/filter': [
        { chain: 'forward', action: 'accept', 'connection-mark': 'lb-svc-a', 'packet-mark': 'web' },
        { chain: 'forward', action: 'drop', 'in-interface': 'ether1' },
      ],
    }),
  );

  it.each([
    {
      story: 'a connection to the LB address is marked, dst-natted and accepted',
      conn: web(),
      expected: { verdict: 'accept', dstAddress: '10.0.0.5', dstPort: 8080, connectionMark: 'lb-svc-a', packetMark: 'web' },
      path: [
        'mangle/prerouting#0 mark-connection lb-svc-a',
        'mangle/prerouting#1 mark-packet web (passthrough=no)',
        'nat/dstnat#0 dst-nat to 10.0.0.5:8080',
        'filter/forward#0 accept',
      ],
    },
    {
      story: 'an unmarked connection is neither natted nor accepted',
      conn: web({ dstAddress: '10.0.0.5' }),
      expected: { verdict: 'drop', dstAddress: '10.0.0.5', dstPort: 80, chain: 'filter/forward' },
      path: ['filter/forward#1 drop'],
    },
  ])('$story', ({ conn, expected, path }) => {
    const result = tracer.trace(conn);
    expect(result).toMatchObject({ ok: true, ...expected, path });
  });
});

describe('SNAT for service endpoints', () => {
  const snatRouter = (withMasquerade: boolean) =>
    routerState({
      ...interfaces,
      '/ip/firewall/address-list': [
        { list: 'mikrolb-snat-svc-a', address: '10.0.0.5', comment: 'mikrolb:svc-a' },
        { list: 'mikrolb-snat-svc-a', address: '10.0.0.6', comment: 'mikrolb:svc-a' },
      ],
      '/ip/firewall/nat': [
        { chain: 'srcnat', action: 'src-nat', 'src-address-list': 'mikrolb-snat-svc-a', 'to-addresses': LB, comment: 'mikrolb:svc-a' },
        ...(withMasquerade ? [{ chain: 'srcnat', action: 'masquerade', 'out-interface': 'ether1' }] : []),
      ],
    });
  const egress = (src: string): Connection => ({ srcAddress: src, srcPort: 51000, dstAddress: '8.8.8.8', dstPort: 443, inInterface: 'bridge' });

  it.each([
    { story: 'an endpoint in the list leaves as the LB address', masquerade: true, src: '10.0.0.5', leavesAs: LB, path: ['nat/srcnat#0 src-nat to 192.0.2.15:51000'] },
    { story: 'another endpoint in the list too', masquerade: true, src: '10.0.0.6', leavesAs: LB, path: ['nat/srcnat#0 src-nat to 192.0.2.15:51000'] },
    { story: 'a pod outside the list falls through to masquerade', masquerade: true, src: '10.0.0.9', leavesAs: '192.0.2.1', path: ['nat/srcnat#1 masquerade to 192.0.2.1:51000'] },
    { story: 'without masquerade a pod outside the list keeps its address', masquerade: false, src: '10.0.0.9', leavesAs: '10.0.0.9', path: [] },
  ])('$story', ({ masquerade, src, leavesAs, path }) => {
    const result = createTracer(snatRouter(masquerade)).trace(egress(src));
    expect(result).toMatchObject({ ok: true, verdict: 'accept', delivery: 'forward', outInterface: 'ether1', srcAddress: leavesAs, srcPort: 51000, dstAddress: '8.8.8.8', path });
    expect(result).toMatchObject({ natState: { srcnat: leavesAs !== src, dstnat: false } });
  });
});

describe('IPv6 equivalents use to-address', () => {
  const LB6 = '2001:db8::15';
  const tracer = createTracer(
    routerState({
      '/ipv6/address': [
        { address: '2001:db8::1/64', interface: 'ether1' },
        { address: `${LB6}/128`, interface: 'ether1', advertise: 'false', comment: 'mikrolb:svc-a' },
        { address: 'fd00::1/64', interface: 'bridge' },
      ],
      '/ipv6/route': [{ 'dst-address': '::/0', gateway: '2001:db8::fffe' }],
      '/ipv6/firewall/address-list': [
        { list: 'mikrolb-lb', address: LB6 },
        { list: 'mikrolb-snat-svc-a', address: 'fd00::/120' },
      ],
      '/ipv6/firewall/nat': [
        { chain: 'dstnat', action: 'dst-nat', protocol: 'tcp', 'dst-address': LB6, 'dst-port': '80', 'to-address': 'fd00::5', 'to-ports': '8080' },
        { chain: 'srcnat', action: 'src-nat', 'src-address-list': 'mikrolb-snat-svc-a', 'to-address': LB6 },
      ],
      '/ipv6/firewall/filter': [
        { chain: 'input', action: 'accept', protocol: 'icmpv6', 'dst-address-list': 'mikrolb-lb' },
        { chain: 'input', action: 'reject', 'dst-address-list': 'mikrolb-lb' },
      ],
    }),
  );

  it.each([
    { story: 'tcp/80 is forwarded to the backend', conn: web({ srcAddress: '2001:db8:aaaa::7', dstAddress: LB6 }), expected: { verdict: 'accept', dstAddress: 'fd00::5', dstPort: 8080, path: ['ipv6 nat/dstnat#0 dst-nat to [fd00::5]:8080'] } },
    { story: 'tcp/22 is rejected with the IPv6 default', conn: web({ srcAddress: '2001:db8:aaaa::7', dstAddress: LB6, dstPort: 22 }), expected: { verdict: 'reject', rejectWith: 'icmp-no-route', delivery: 'input' } },
    { story: 'ping6 is answered', conn: { srcAddress: '2001:db8:aaaa::7', dstAddress: '2001:DB8:0::15', protocol: 'icmpv6' }, expected: { verdict: 'accept', delivery: 'input', dstAddress: LB6 } },
    { story: 'an endpoint leaves as the LB address', conn: { srcAddress: 'fd00::5', srcPort: 51000, dstAddress: '2606:4700::1111', dstPort: 443, inInterface: 'bridge' }, expected: { verdict: 'accept', srcAddress: LB6, outInterface: 'ether1' } },
    { story: 'a host outside the SNAT list keeps its address', conn: { srcAddress: 'fd00::1:5', srcPort: 51000, dstAddress: '2606:4700::1111', dstPort: 443 }, expected: { verdict: 'accept', srcAddress: 'fd00::1:5' } },
  ])('$story', ({ conn, expected }) => {
    expect(tracer.trace(conn)).toMatchObject({ ok: true, family: 'IPv6', ...expected });
  });
});

describe('other NAT actions and paths', () => {
  const tracer = createTracer(
    routerState({
      ...interfaces,
      '/ip/firewall/nat': [
        { chain: 'dstnat', action: 'redirect', protocol: 'udp', 'dst-port': '53', 'to-ports': '5353', 'in-interface': 'bridge' },
        { chain: 'dstnat', action: 'dst-nat', protocol: 'tcp', 'dst-address': LB, 'dst-port': '80', 'to-addresses': '10.0.0.5-10.0.0.7' },
      ],
      '/ip/firewall/filter': [
        { chain: 'input', action: 'add-src-to-address-list', 'address-list': 'scanners', protocol: 'tcp', 'dst-port': '23' },
        { chain: 'input', action: 'drop', 'src-address-list': 'scanners' },
        { chain: 'output', action: 'reject', protocol: 'tcp', 'dst-port': '25', 'reject-with': 'tcp-reset' },
      ],
    }),
  );

  it('redirect sends a LAN DNS query to the router itself', () => {
    const result = tracer.trace({ srcAddress: '10.0.0.9', srcPort: 5000, dstAddress: '8.8.8.8', dstPort: 53, protocol: 'udp', inInterface: 'bridge' });
    expect(result).toMatchObject({ ok: true, verdict: 'accept', delivery: 'input', dstAddress: '10.0.0.1', dstPort: 5353 });
  });

  it('dst-nat to a range keeps each client on one address of the range, keeping the port', () => {
    const backends = ['198.51.100.7', '198.51.100.7', '203.0.113.1'].map((srcAddress) => {
      const result = tracer.trace(web({ srcAddress }));
      return result.ok ? `${result.dstAddress}:${result.dstPort ?? ''}` : result.message;
    });
    expect(backends[0]).toBe(backends[1]);
    for (const backend of backends) expect(['10.0.0.5:80', '10.0.0.6:80', '10.0.0.7:80']).toContain(backend);
  });

  it('connections the router opens go through output and srcnat', () => {
    const smtp = tracer.trace({ origin: 'router', srcAddress: '192.0.2.1', srcPort: 40000, dstAddress: '8.8.8.8', dstPort: 25 });
    expect(smtp).toMatchObject({ ok: true, verdict: 'reject', delivery: 'output', chain: 'filter/output', rejectWith: 'tcp-reset' });
    const https = tracer.trace({ origin: 'router', srcAddress: '192.0.2.1', srcPort: 40000, dstAddress: '8.8.8.8', dstPort: 443 });
    expect(https).toMatchObject({ ok: true, verdict: 'accept', delivery: 'output', outInterface: 'ether1', chain: 'nat/srcnat' });
  });

  it('add-src-to-address-list remembers a scanner until reset', () => {
    const from = (srcAddress: string, dstPort: number) => tracer.trace(web({ srcAddress, dstPort }));
    expect(from('203.0.113.66', 23)).toMatchObject({ verdict: 'drop', path: ['filter/input#0 add-src-to-address-list scanners', 'filter/input#1 drop'] });
    expect(from('203.0.113.66', 22)).toMatchObject({ verdict: 'drop' });
    expect(from('203.0.113.67', 22)).toMatchObject({ verdict: 'accept' });
    tracer.reset();
    expect(from('203.0.113.66', 22)).toMatchObject({ verdict: 'accept' });
  });
});

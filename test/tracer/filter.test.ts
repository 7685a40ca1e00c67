import { describe, expect, it } from 'vitest';
import { createTracer, type Connection } from './index.js';
import { routerState, type EntryInput } from './test-support.js';

const LB = '192.0.2.15';

/**
 * A router with a load-balancer address on the WAN: port 80 is forwarded to a backend, every
 * other port hits the router itself, where input rules accept ICMP and reject the rest.
 */
const lbRouter = routerState({
  '/ip/address': [
    { address: '192.0.2.1/24', interface: 'ether1' },
    { address: `${LB}/32`, interface: 'ether1', comment: 'mikrolb:svc-a' },
    { address: '192.0.2.100/32', interface: 'ether1' },
    { address: '10.0.0.1/24', interface: 'bridge' },
  ],
  '/ip/firewall/address-list': [
    { list: 'mikrolb-lb', address: LB, comment: 'mikrolb:svc-a' },
    { list: 'mikrolb-lb', address: '192.0.2.100', disabled: 'true' },
  ],
  '/ip/firewall/nat': [
    { chain: 'dstnat', action: 'dst-nat', protocol: 'tcp', 'dst-address': LB, 'dst-port': '80', 'to-addresses': '10.0.0.5', 'to-ports': '8080' },
  ],
  '/ip/firewall/filter': [
    { chain: 'input', action: 'accept', 'connection-state': 'established,related' },
    { chain: 'input', action: 'accept', protocol: 'icmp', 'dst-address-list': 'mikrolb-lb' },
    { chain: 'input', action: 'reject', 'reject-with': 'icmp-port-unreachable', 'dst-address-list': 'mikrolb-lb', protocol: 'udp' },
    { chain: 'input', action: 'reject', 'reject-with': 'tcp-reset', 'dst-address-list': 'mikrolb-lb', protocol: 'tcp' },
    { chain: 'input', action: 'drop', 'dst-address-list': 'mikrolb-lb' },
    { chain: 'forward', action: 'accept', 'connection-state': 'established,related' },
    { chain: 'forward', action: 'drop', 'in-interface': 'ether1', 'connection-nat-state': '!dstnat', comment: 'defconf: drop all from WAN not DSTNATed' },
  ],
});

const fromInternet = (overrides: Partial<Connection>): Connection => ({
  srcAddress: '198.51.100.7',
  srcPort: 40000,
  dstAddress: LB,
  dstPort: 80,
  protocol: 'tcp',
  inInterface: 'ether1',
  ...overrides,
});

describe('a load-balancer address answers only its programmed ports', () => {
  it.each([
    { story: 'tcp/80 is forwarded to the backend', conn: {}, verdict: 'accept', delivery: 'forward', to: '10.0.0.5:8080', rejectWith: undefined },
    { story: 'tcp/22 reaches the router and is reset', conn: { dstPort: 22 }, verdict: 'reject', delivery: 'input', to: `${LB}:22`, rejectWith: 'tcp-reset' },
    { story: 'udp/53 is refused with port-unreachable', conn: { protocol: 'udp', dstPort: 53 }, verdict: 'reject', delivery: 'input', to: `${LB}:53`, rejectWith: 'icmp-port-unreachable' },
    { story: 'ping is answered', conn: { protocol: 'icmp', srcPort: undefined, dstPort: undefined }, verdict: 'accept', delivery: 'input', to: LB, rejectWith: undefined },
    { story: 'gre is dropped silently', conn: { protocol: 'gre', srcPort: undefined, dstPort: undefined }, verdict: 'drop', delivery: 'input', to: LB, rejectWith: undefined },
    { story: 'the router\'s own WAN address is not in the list: default accept', conn: { dstAddress: '192.0.2.1', dstPort: 22 }, verdict: 'accept', delivery: 'input', to: '192.0.2.1:22', rejectWith: undefined },
    { story: 'a disabled list entry does not match', conn: { dstAddress: '192.0.2.100', dstPort: 22 }, verdict: 'accept', delivery: 'input', to: '192.0.2.100:22', rejectWith: undefined },
    { story: 'a backend addressed directly from the WAN is not DSTNATed: dropped', conn: { dstAddress: '10.0.0.5', dstPort: 8080 }, verdict: 'drop', delivery: 'forward', to: '10.0.0.5:8080', rejectWith: undefined },
  ])('$story', ({ conn, verdict, delivery, to, rejectWith }) => {
    const result = createTracer(lbRouter).trace(fromInternet(conn));
    expect(result).toMatchObject({ ok: true, verdict, delivery });
    if (!result.ok) return;
    expect(result.rejectWith).toBe(rejectWith);
    expect(result.dstPort === undefined ? result.dstAddress : `${result.dstAddress}:${result.dstPort}`).toBe(to);
  });

  it('names every rule the connection hit', () => {
    const result = createTracer(lbRouter).trace(fromInternet({ dstPort: 22 }));
    expect(result.path).toEqual(['filter/input#3 reject with tcp-reset']);
    expect(result).toMatchObject({ chain: 'filter/input' });
    const forwarded = createTracer(lbRouter).trace(fromInternet({}));
    expect(forwarded.path).toEqual(['nat/dstnat#0 dst-nat to 10.0.0.5:8080']);
    expect(forwarded).toMatchObject({ chain: 'nat/srcnat', outInterface: 'bridge', natState: { dstnat: true, srcnat: false } });
  });
});

describe('address lists and address matchers', () => {
  const listRouter = (rule: EntryInput) =>
    routerState({
      '/ip/firewall/address-list': [
        { list: 'clients', address: '203.0.113.7' },
        { list: 'clients', address: '198.51.100.0/25' },
        { list: 'clients', address: '192.0.2.200-192.0.2.210' },
        { list: 'other', address: '198.51.100.200' },
      ],
      '/ip/firewall/filter': [{ chain: 'forward', action: 'drop', ...rule }],
    });

  it.each([
    { rule: { 'src-address-list': 'clients' }, src: '203.0.113.7', verdict: 'drop' },
    { rule: { 'src-address-list': 'clients' }, src: '203.0.113.8', verdict: 'accept' },
    { rule: { 'src-address-list': 'clients' }, src: '198.51.100.127', verdict: 'drop' },
    { rule: { 'src-address-list': 'clients' }, src: '198.51.100.128', verdict: 'accept' },
    { rule: { 'src-address-list': 'clients' }, src: '192.0.2.200', verdict: 'drop' },
    { rule: { 'src-address-list': 'clients' }, src: '192.0.2.210', verdict: 'drop' },
    { rule: { 'src-address-list': 'clients' }, src: '192.0.2.211', verdict: 'accept' },
    { rule: { 'src-address-list': '!clients' }, src: '203.0.113.7', verdict: 'accept' },
    { rule: { 'src-address-list': '!clients' }, src: '198.51.100.200', verdict: 'drop' },
    { rule: { 'src-address-list': 'missing' }, src: '203.0.113.7', verdict: 'accept' },
    { rule: { 'src-address': '198.51.100.0/24' }, src: '198.51.100.200', verdict: 'drop' },
    { rule: { 'src-address': '198.51.100.5/24' }, src: '198.51.100.200', verdict: 'drop' },
    { rule: { 'src-address': '!198.51.100.0/24' }, src: '198.51.100.200', verdict: 'accept' },
    { rule: { 'src-address': '198.51.100.10-198.51.100.20' }, src: '198.51.100.20', verdict: 'drop' },
    { rule: { 'src-address': '198.51.100.10-198.51.100.20' }, src: '198.51.100.21', verdict: 'accept' },
    { rule: { 'dst-address': '10.0.0.5' }, src: '203.0.113.7', verdict: 'drop' },
    { rule: { protocol: 'tcp', 'dst-port': '80,443' }, src: '203.0.113.7', verdict: 'drop' },
    { rule: { protocol: 'tcp', 'dst-port': '8000-8080' }, src: '203.0.113.7', verdict: 'accept' },
    { rule: { protocol: 'tcp', 'dst-port': '!443' }, src: '203.0.113.7', verdict: 'drop' },
    { rule: { protocol: '!tcp' }, src: '203.0.113.7', verdict: 'accept' },
    { rule: { protocol: 'udp' }, src: '203.0.113.7', verdict: 'accept' },
    { rule: { protocol: '6', 'src-port': '40000' }, src: '203.0.113.7', verdict: 'drop' },
    { rule: { port: '40000' }, src: '203.0.113.7', verdict: 'drop' },
    { rule: { 'in-interface': 'ether1' }, src: '203.0.113.7', verdict: 'drop' },
    { rule: { 'in-interface': '!ether1' }, src: '203.0.113.7', verdict: 'accept' },
    { rule: { 'connection-state': 'new' }, src: '203.0.113.7', verdict: 'drop' },
    { rule: { 'connection-state': 'established,related' }, src: '203.0.113.7', verdict: 'accept' },
    { rule: { 'connection-state': '!established' }, src: '203.0.113.7', verdict: 'drop' },
    { rule: { 'connection-mark': 'no-mark' }, src: '203.0.113.7', verdict: 'drop' },
    { rule: { 'connection-nat-state': 'dstnat' }, src: '203.0.113.7', verdict: 'accept' },
    { rule: { 'connection-nat-state': '!dstnat' }, src: '203.0.113.7', verdict: 'drop' },
  ])('a rule dropping $rule: a connection from $src gets $verdict', ({ rule, src, verdict }) => {
    const result = createTracer(listRouter(rule)).trace(fromInternet({ srcAddress: src, dstAddress: '10.0.0.5' }));
    expect(result).toMatchObject({ ok: true, verdict });
  });
});

describe('jump and return', () => {
  const jumpRouter = routerState({
    '/ip/firewall/filter': [
      { chain: 'forward', action: 'jump', 'jump-target': 'mikrolb', protocol: 'tcp' },
      { chain: 'forward', action: 'reject', 'dst-port': '25', protocol: 'tcp' },
      { chain: 'mikrolb', action: 'log', 'log-prefix': 'lb' },
      { chain: 'mikrolb', action: 'return', 'dst-port': '80', protocol: 'tcp' },
      { chain: 'mikrolb', action: 'jump', 'jump-target': 'deeper' },
      { chain: 'mikrolb', action: 'accept', 'dst-port': '443', protocol: 'tcp' },
      { chain: 'deeper', action: 'drop', 'src-address': '203.0.113.0/24' },
      { chain: 'mikrolb', action: 'drop', 'dst-port': '8443', protocol: 'tcp' },
    ],
  });

  it.each([
    { story: 'return resumes after the jump: port 80 falls to the end and the policy accepts', src: '198.51.100.7', port: 80, verdict: 'accept', path: ['filter/forward#0 jump to mikrolb', 'filter/mikrolb#2 log', 'filter/mikrolb#3 return'] },
    { story: 'a terminating rule in the jumped-to chain decides', src: '198.51.100.7', port: 443, verdict: 'accept', path: ['filter/forward#0 jump to mikrolb', 'filter/mikrolb#2 log', 'filter/mikrolb#4 jump to deeper', 'filter/mikrolb#5 accept'] },
    { story: 'a nested chain that runs off its end returns to its caller', src: '198.51.100.7', port: 8443, verdict: 'drop', path: ['filter/forward#0 jump to mikrolb', 'filter/mikrolb#2 log', 'filter/mikrolb#4 jump to deeper', 'filter/mikrolb#7 drop'] },
    { story: 'a drop two jumps deep ends everything', src: '203.0.113.9', port: 443, verdict: 'drop', path: ['filter/forward#0 jump to mikrolb', 'filter/mikrolb#2 log', 'filter/mikrolb#4 jump to deeper', 'filter/deeper#6 drop'] },
    { story: 'a jumped-to chain that runs off its end continues after the jump rule', src: '198.51.100.7', port: 25, verdict: 'reject', path: ['filter/forward#0 jump to mikrolb', 'filter/mikrolb#2 log', 'filter/mikrolb#4 jump to deeper', 'filter/forward#1 reject with icmp-network-unreachable'] },
  ])('$story', ({ src, port, verdict, path }) => {
    const result = createTracer(jumpRouter).trace(fromInternet({ srcAddress: src, dstAddress: '10.0.0.5', dstPort: port }));
    expect(result).toMatchObject({ ok: true, verdict, path });
  });

  it('reports the chain a drop happened in', () => {
    const result = createTracer(jumpRouter).trace(fromInternet({ srcAddress: '203.0.113.9', dstAddress: '10.0.0.5', dstPort: 443 }));
    expect(result).toMatchObject({ chain: 'filter/deeper' });
  });
});

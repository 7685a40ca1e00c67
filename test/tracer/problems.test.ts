import { describe, expect, it } from 'vitest';
import { createTracer, type Connection } from './index.js';
import { routerState } from './test-support.js';

const connection: Connection = { srcAddress: '198.51.100.7', srcPort: 40000, dstAddress: '10.0.0.5', dstPort: 80, inInterface: 'ether1' };

describe('rules the tracer cannot evaluate are reported, never ignored', () => {
  it.each([
    { story: 'an unknown action', menu: '/ip/firewall/filter', rule: { chain: 'forward', action: 'tarpit' }, ref: 'filter/forward#0', field: 'action' },
    { story: 'an action that does not exist in the table', menu: '/ip/firewall/mangle', rule: { chain: 'prerouting', action: 'drop' }, ref: 'mangle/prerouting#0', field: 'action' },
    { story: 'an unknown matcher', menu: '/ip/firewall/filter', rule: { chain: 'forward', action: 'drop', limit: '10,5:packet' }, ref: 'filter/forward#0', field: 'limit' },
    { story: 'a malformed port list', menu: '/ip/firewall/filter', rule: { chain: 'forward', action: 'drop', protocol: 'tcp', 'dst-port': '80-' }, ref: 'filter/forward#0', field: 'dst-port' },
    { story: 'a malformed nth', menu: '/ip/firewall/nat', rule: { chain: 'dstnat', action: 'dst-nat', nth: '2,3', 'to-addresses': '10.0.0.6' }, ref: 'nat/dstnat#0', field: 'nth' },
    { story: 'a malformed classifier', menu: '/ip/firewall/mangle', rule: { chain: 'prerouting', action: 'mark-connection', 'new-connection-mark': 'a', 'per-connection-classifier': 'src-address:2/2' }, ref: 'mangle/prerouting#0', field: 'per-connection-classifier' },
    { story: 'IPv6 syntax in an IPv4 NAT rule (to-address)', menu: '/ip/firewall/nat', rule: { chain: 'dstnat', action: 'dst-nat', 'to-address': '10.0.0.6' }, ref: 'nat/dstnat#0', field: 'to-address' },
    { story: 'an IPv6 address in an IPv4 rule', menu: '/ip/firewall/filter', rule: { chain: 'forward', action: 'drop', 'src-address': 'fd00::1' }, ref: 'filter/forward#0', field: 'src-address' },
    { story: 'a jump without target', menu: '/ip/firewall/filter', rule: { chain: 'forward', action: 'jump' }, ref: 'filter/forward#0', field: 'jump-target' },
    { story: 'a mark without a mark', menu: '/ip/firewall/mangle', rule: { chain: 'prerouting', action: 'mark-connection' }, ref: 'mangle/prerouting#0', field: 'new-connection-mark' },
  ])('$story', ({ menu, rule, ref, field }) => {
    const tracer = createTracer(routerState({ [menu]: [rule] }));
    expect(tracer.problems).toEqual([{ rule: ref, field, message: expect.any(String) }]);
    expect(tracer.trace(connection)).toMatchObject({ ok: false, reason: 'UnsupportedRule', rule: ref, field });
  });

  it('reports an address list with an entry it cannot resolve, at the rules that use it', () => {
    const tracer = createTracer(
      routerState({
        '/ip/firewall/address-list': [
          { list: 'cdn', address: '203.0.113.0/24' },
          { list: 'cdn', address: 'cdn.example.com' },
        ],
        '/ip/firewall/filter': [{ chain: 'forward', action: 'accept', 'dst-address-list': 'cdn' }],
      }),
    );
    const result = tracer.trace(connection);
    expect(result).toMatchObject({ ok: false, reason: 'UnsupportedRule', rule: 'filter/forward#0', field: 'dst-address-list' });
    expect(result.ok ? '' : result.message).toContain('cdn.example.com');
  });

  it('keeps the rules hit before the one it cannot evaluate', () => {
    const tracer = createTracer(
      routerState({
        '/ip/firewall/mangle': [{ chain: 'prerouting', action: 'mark-connection', 'new-connection-mark': 'a' }],
        '/ip/firewall/filter': [{ chain: 'forward', action: 'drop', 'src-mac-address': '00:11:22:33:44:55' }],
      }),
    );
    expect(tracer.trace(connection)).toMatchObject({ ok: false, path: ['mangle/prerouting#0 mark-connection a'], field: 'src-mac-address' });
  });

  it('reports a nat action outside its chain when it runs', () => {
    const tracer = createTracer(
      routerState({
        '/ip/firewall/nat': [
          { chain: 'srcnat', action: 'jump', 'jump-target': 'lb' },
          { chain: 'lb', action: 'dst-nat', 'to-addresses': '10.0.0.6' },
        ],
      }),
    );
    expect(tracer.trace(connection)).toMatchObject({ ok: false, reason: 'UnsupportedRule', rule: 'nat/lb#1', field: 'action' });
  });

  it('stops a jump loop instead of recursing forever', () => {
    const tracer = createTracer(
      routerState({
        '/ip/firewall/filter': [
          { chain: 'forward', action: 'jump', 'jump-target': 'a' },
          { chain: 'a', action: 'jump', 'jump-target': 'b' },
          { chain: 'b', action: 'jump', 'jump-target': 'a' },
        ],
      }),
    );
    expect(tracer.trace(connection)).toMatchObject({ ok: false, reason: 'UnsupportedRule', field: 'jump-target' });
  });

  it('ignores disabled rules, even unreadable ones, and properties that neither match nor act', () => {
    const tracer = createTracer(
      routerState({
        '/ip/firewall/filter': [
          { chain: 'forward', action: 'tarpit', disabled: 'true' },
          { chain: 'forward', action: 'drop', 'dst-port': '80', protocol: 'tcp', disabled: 'true' },
          { chain: 'forward', action: 'drop', 'dst-port': '80', protocol: 'tcp', invalid: 'true' },
          {
            chain: 'forward',
            action: 'accept',
            comment: 'mikrolb:x',
            bytes: '1024',
            packets: '3',
            dynamic: 'false',
            invalid: 'false',
            log: 'false',
            'log-prefix': '',
          },
        ],
      }),
    );
    expect(tracer.problems).toEqual([]);
    expect(tracer.trace(connection)).toMatchObject({ ok: true, verdict: 'accept', path: ['filter/forward#3 accept'] });
  });
});

describe('the traced connection is validated', () => {
  const tracer = createTracer(routerState({}));

  it.each([
    { story: 'a malformed address', conn: { ...connection, srcAddress: '198.51.100' } },
    { story: 'mixed families', conn: { ...connection, dstAddress: 'fd00::5' } },
    { story: 'tcp without ports', conn: { srcAddress: '198.51.100.7', dstAddress: '10.0.0.5' } },
    { story: 'icmp with ports', conn: { ...connection, protocol: 'icmp' } },
    { story: 'an unknown protocol', conn: { ...connection, protocol: 'quic' } },
    { story: 'a port out of range', conn: { ...connection, dstPort: 70000 } },
    { story: 'an unknown field', conn: { ...connection, srcMac: '00:11:22:33:44:55' } },
    { story: 'an in-interface on a connection the router opens', conn: { ...connection, origin: 'router' } },
  ])('rejects $story', ({ conn }) => {
    // @ts-expect-error -- deliberately malformed input from untyped callers
    const result = tracer.trace(conn);
    expect(result).toMatchObject({ ok: false, reason: 'InvalidConnection', message: expect.any(String) });
  });
});

import { describe, expect, it } from 'vitest';
import { createTracer } from './index.js';
import { routerState } from './test-support.js';

/**
 * What MikroLB's source gate and client affinity rely on from RouterOS' nat semantics: `return`
 * from a jumped chain resumes the caller, a negated list with no entries matches everyone, and
 * per-connection-classifier classes nest across powers of two.
 */
const LB = '192.0.2.15';

function gated(listEntries: { list: string; address: string }[]) {
  return createTracer(routerState({
    '/ip/address': [{ address: '192.0.2.1/24', interface: 'ether1' }, { address: `${LB}/32`, interface: 'ether1' }, { address: '10.0.0.1/24', interface: 'bridge' }],
    '/ip/firewall/address-list': listEntries,
    '/ip/firewall/nat': [
      { chain: 'dstnat', action: 'jump', 'jump-target': 'svc-a', 'dst-address': LB },
      { chain: 'dstnat', action: 'jump', 'jump-target': 'svc-b', 'dst-address': LB },
      { chain: 'svc-a', action: 'return', 'src-address-list': '!office' },
      { chain: 'svc-a', action: 'dst-nat', protocol: 'tcp', 'dst-port': '22', 'to-addresses': '10.0.0.5', 'to-ports': '22' },
      { chain: 'svc-b', action: 'dst-nat', protocol: 'tcp', 'dst-port': '80', 'to-addresses': '10.0.0.6', 'to-ports': '8080' },
    ],
    '/ip/firewall/filter': [{ chain: 'input', action: 'reject', 'reject-with': 'tcp-reset', protocol: 'tcp', 'dst-address': LB }],
  }));
}

const to = (src: string, dstPort: number) => ({ srcAddress: src, srcPort: 40000, dstAddress: LB, dstPort, inInterface: 'ether1' });

describe('a source gate in a jumped nat chain', () => {
  const tracer = gated([{ list: 'office', address: '198.51.100.0/24' }]);

  it.each([
    { story: 'an office client is dst-natted', src: '198.51.100.7', port: 22, expected: { verdict: 'accept', dstAddress: '10.0.0.5', natState: { dstnat: true } } },
    { story: 'anyone else returns un-NATed and is refused on input', src: '203.0.113.7', port: 22, expected: { verdict: 'reject', delivery: 'input', dstAddress: LB, natState: { dstnat: false } } },
    { story: 'the return resumes the caller: another chain for the same address still runs', src: '203.0.113.7', port: 80, expected: { verdict: 'accept', dstAddress: '10.0.0.6', dstPort: 8080 } },
  ])('$story', ({ src, port, expected }) => {
    expect(tracer.trace(to(src, port))).toMatchObject({ ok: true, ...expected });
  });

  it('a negated list with no entries matches everyone: nobody passes', () => {
    expect(gated([]).trace(to('198.51.100.7', 22))).toMatchObject({ ok: true, verdict: 'reject', natState: { dstnat: false } });
  });
});

describe('per-connection-classifier src-address over powers of two', () => {
  it('a client\'s class modulo 2M is its class modulo M or that plus M', () => {
    const classOf = (src: string, every: number): number => {
      const tracer = createTracer(routerState({
        '/ip/address': [{ address: `${LB}/32`, interface: 'ether1' }, { address: '10.0.0.1/24', interface: 'bridge' }],
        '/ip/firewall/nat': Array.from({ length: every }, (_, b) => ({
          chain: 'dstnat', action: 'dst-nat', 'per-connection-classifier': `src-address:${every}/${b}`, 'to-addresses': `10.0.0.${b + 2}`,
        })),
      }));
      const result = tracer.trace(to(src, 80));
      return result.ok ? Number(result.dstAddress.split('.')[3]) - 2 : -1;
    };
    for (let host = 1; host <= 60; host++) {
      const src = `198.51.100.${host}`;
      const small = classOf(src, 16);
      expect(small).toBeGreaterThanOrEqual(0);
      expect(classOf(src, 32) % 16).toBe(small);
      expect(classOf(src, 64) % 16).toBe(small);
    }
  });
});

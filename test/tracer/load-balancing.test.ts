import { describe, expect, it } from 'vitest';
import { createTracer, type Connection, type Tracer } from './index.js';
import { routerState, seededRandom, tally, type EntryInput } from './test-support.js';

const LB = '192.0.2.15';
const BACKENDS = ['10.0.0.5', '10.0.0.6', '10.0.0.7'];

/** One dst-nat rule per backend for LB:80, each with the given extra matchers. */
function balancedState(extras: EntryInput[]) {
  return routerState({
    '/ip/address': [
      { address: '192.0.2.1/24', interface: 'ether1' },
      { address: `${LB}/32`, interface: 'ether1', comment: 'mikrolb:svc-a' },
      { address: '10.0.0.1/24', interface: 'bridge' },
    ],
    '/ip/firewall/nat': BACKENDS.map((backend, index) => ({
      chain: 'dstnat',
      action: 'dst-nat',
      protocol: 'tcp',
      'dst-address': LB,
      'dst-port': '80',
      'to-addresses': backend,
      'to-ports': '8080',
      comment: 'mikrolb:svc-a',
      ...extras[index],
    })),
  });
}

function clientConnections(count: number, seed: number): Connection[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => ({
    srcAddress: `198.51.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 254)}`,
    srcPort: 1024 + Math.floor(random() * 64000),
    dstAddress: LB,
    dstPort: 80,
    inInterface: 'ether1',
  }));
}

function spread(tracer: Tracer, connections: Connection[]): Record<string, number> {
  return tally(
    connections.map((connection) => {
      const result = tracer.trace(connection);
      return result.ok ? `${result.dstAddress}:${result.dstPort ?? ''}` : result.message;
    }),
  );
}

describe('nth: counters are per rule, over the connections that reach the rule', () => {
  it.each([
    {
      story: 'every=3 on each rule is NOT even: the second rule sees only 2/3 of the traffic',
      nth: ['3,1', '3,2', undefined],
      expected: [3000, 2000, 4000],
    },
    {
      story: 'decreasing every (3,1 then 2,1 then no nth) splits evenly',
      nth: ['3,1', '2,1', undefined],
      expected: [3000, 3000, 3000],
    },
    {
      story: 'nth=3,1 twice: the second rule counts only what reaches it, so it also takes 1/3 of 2/3',
      nth: ['3,1', '3,1', undefined],
      expected: [3000, 2000, 4000],
    },
  ])('$story', ({ nth, expected }) => {
    const tracer = createTracer(balancedState(nth.map((value) => (value ? { nth: value } : {}))));
    const counts = spread(tracer, clientConnections(9000, 7));
    expect(counts).toEqual(Object.fromEntries(BACKENDS.map((backend, i) => [`${backend}:8080`, expected[i]])));
  });

  it('counts only connections that pass the rule\'s other matchers', () => {
    const tracer = createTracer(
      routerState({
        '/ip/address': [{ address: `${LB}/32`, interface: 'ether1' }],
        '/ip/firewall/nat': [
          { chain: 'dstnat', action: 'dst-nat', protocol: 'tcp', 'dst-port': '443', nth: '2,1', 'to-addresses': '10.0.0.5' },
          { chain: 'dstnat', action: 'dst-nat', protocol: 'tcp', 'dst-port': '443', 'to-addresses': '10.0.0.6' },
        ],
      }),
    );
    const to = (dstPort: number) => {
      const result = tracer.trace({ srcAddress: '198.51.100.7', srcPort: 40000, dstAddress: LB, dstPort });
      return result.ok ? result.dstAddress : result.message;
    };
    // Port 80 connections never reach the nth counter, so 443 still alternates 1st/2nd.
    expect([to(443), to(80), to(80), to(443), to(443), to(80), to(443)]).toEqual([
      '10.0.0.5', LB, LB, '10.0.0.6', '10.0.0.5', LB, '10.0.0.6',
    ]);
  });

  it('keeps counters across traces until reset', () => {
    const tracer = createTracer(balancedState([{ nth: '3,1' }, { nth: '2,1' }, {}]));
    const [first, second] = clientConnections(2, 1);
    const backendOf = (connection: Connection | undefined) => {
      const result = connection && tracer.trace(connection);
      return result?.ok ? result.dstAddress : undefined;
    };
    expect([backendOf(first), backendOf(second)]).toEqual(['10.0.0.5', '10.0.0.6']);
    tracer.reset();
    expect(backendOf(second)).toBe('10.0.0.5');
  });
});

describe('per-connection-classifier', () => {
  const pccState = (fields: string) =>
    balancedState(BACKENDS.map((_, index) => ({ 'per-connection-classifier': `${fields}:3/${index}` })));

  it.each(['src-address-and-port', 'both-addresses-and-ports', 'src-port'])(
    '%s over 3 spreads 9,000 random clients within ±5%% of even',
    (fields) => {
      const counts = spread(createTracer(pccState(fields)), clientConnections(9000, 11));
      expect(Object.keys(counts).sort()).toEqual(BACKENDS.map((backend) => `${backend}:8080`));
      for (const count of Object.values(counts)) {
        expect(count).toBeGreaterThanOrEqual(2850);
        expect(count).toBeLessThanOrEqual(3150);
      }
    },
  );

  it.each(['src-address', 'src-address-and-port', 'both-addresses'])(
    '%s sends the same connection to the same backend every time',
    (fields) => {
      const tracer = createTracer(pccState(fields));
      const connection = clientConnections(1, 3)[0] ?? { srcAddress: '', dstAddress: '' };
      const backends = new Set(Array.from({ length: 20 }, () => JSON.stringify(tracer.trace(connection))));
      expect(backends.size).toBe(1);
    },
  );

  it('src-address keeps every connection of one client on one backend, whatever its port', () => {
    const tracer = createTracer(pccState('src-address'));
    const ports = Array.from({ length: 50 }, (_, i) => 30000 + i);
    const counts = spread(
      tracer,
      ports.map((srcPort) => ({ srcAddress: '198.51.100.7', srcPort, dstAddress: LB, dstPort: 80 })),
    );
    expect(Object.values(counts)).toEqual([50]);
  });
});

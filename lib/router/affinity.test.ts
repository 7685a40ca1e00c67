import { describe, expect, it } from 'vitest';
import { createTracer, type Connection } from '../../test/tracer/index.js';
import { tally } from '../../test/tracer/test-support.js';
import { assignBuckets, bucketCount } from './affinity.js';
import { serviceEntries, type ServiceProgram } from './layout.js';
import { portChain, scopes } from './names.js';
import type { RouterState } from './state.js';
import { baseRouter, converge, desiredFor, FAMILIES, NET, opCounts, serviceDesired, webService } from './test-support.js';

const sticky = (overrides: Partial<ServiceProgram> = {}) => webService({ sessionAffinity: 'ClientIP', ...overrides });
const programmed = (svc: ServiceProgram) => converge(baseRouter(), desiredFor([svc]), scopes.everything).state;

/** `n` ready endpoints of a family: 10.0.0.10, 10.0.0.11, ... (fd00::a, fd00::b, ...). */
function endpoints(family: 'IPv4' | 'IPv6', n: number, from = 10): ServiceProgram['endpoints'] {
  return Array.from({ length: n }, (_, i) => ({ family, address: family === 'IPv4' ? `10.0.0.${from + i}` : `fd00::${(from + i).toString(16)}`, ready: true }));
}

/** Client `c`'s `k`-th connection to tcp/80 (or udp/53): one client is one address, each connection another source port. */
function connection(family: 'IPv4' | 'IPv6', c: number, k: number, protocol: 'tcp' | 'udp' = 'tcp'): Connection {
  const srcAddress = family === 'IPv4' ? `198.51.${100 + Math.floor(c / 250)}.${(c % 250) + 1}` : `2001:db8:${(c + 1).toString(16)}::1`;
  return { srcAddress, srcPort: 20000 + 37 * k, dstAddress: NET[family].lb, dstPort: protocol === 'tcp' ? 80 : 53, protocol, inInterface: 'ether1' };
}

/** The endpoint each of `clients` clients reaches on its first connection. */
function endpointOfClients(state: RouterState, family: 'IPv4' | 'IPv6', clients: number): string[] {
  const tracer = createTracer(state);
  return Array.from({ length: clients }, (_, c) => {
    const result = tracer.trace(connection(family, c, 0));
    return result.ok ? result.dstAddress : result.message;
  });
}

const moved = (before: readonly string[], after: readonly string[]): number => before.filter((e, i) => e !== after[i]).length / before.length;

describe('bucket counts', () => {
  it.each([
    [1, 1], [2, 16], [3, 32], [4, 32], [5, 64], [8, 64], [9, 128], [16, 128], [17, 256], [32, 256], [100, 256], [256, 256], [257, 512],
  ])('%i endpoints: %i buckets', (n, buckets) => {
    expect(bucketCount(n)).toBe(buckets);
  });
});

describe('assigning buckets', () => {
  it.each([2, 3, 5, 7, 10, 33])('%i endpoints get an even share each (within one bucket)', (n) => {
    const list = endpoints('IPv4', n).map((e) => e.address);
    const buckets = bucketCount(n);
    const counts = Object.values(tally(assignBuckets(list, buckets)));
    expect(counts).toHaveLength(n);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(buckets);
    for (const count of counts) expect([Math.floor(buckets / n), Math.ceil(buckets / n)]).toContain(count);
  });

  it('does not depend on the order the endpoints are listed in', () => {
    const list = endpoints('IPv4', 6).map((e) => e.address);
    expect(assignBuckets([...list].reverse(), 64)).toEqual(assignBuckets(list, 64));
  });
});

describe('the layout of ClientIP affinity', () => {
  it('one dst-nat rule per bucket of the client address, instead of nth slots', () => {
    const chain = portChain(sticky().uid, 'tcp', 80);
    const rules = (serviceEntries(sticky())['/ip/firewall/nat'] ?? []).filter((e) => e.chain === chain);
    expect(rules).toHaveLength(32);
    expect(rules.map((e) => e['per-connection-classifier'])).toEqual(Array.from({ length: 32 }, (_, b) => `src-address:32/${b}`));
    expect(rules.some((e) => e.nth !== undefined)).toBe(false);
  });

  it('a single ready endpoint needs one rule, the same as without affinity', () => {
    const one = endpoints('IPv4', 1);
    expect(serviceEntries(sticky({ endpoints: one }))).toEqual(serviceEntries(webService({ endpoints: one })));
  });
});

describe.each(FAMILIES)('%s: ClientIP affinity through the packet tracer', (family) => {
  const state = programmed(sticky());

  it('is a configuration the tracer understands completely', () => {
    expect(createTracer(state).problems).toEqual([]);
  });

  it.each(['tcp', 'udp'] as const)('%s: every connection of one client reaches the same endpoint, 12 connections each for 400 clients', (protocol) => {
    const tracer = createTracer(state);
    for (let c = 0; c < 400; c++) {
      const reached = new Set(Array.from({ length: 12 }, (_, k) => {
        const result = tracer.trace(connection(family, c, k, protocol));
        return result.ok && result.verdict === 'accept' ? result.dstAddress : 'not forwarded';
      }));
      expect(reached.size).toBe(1);
      expect(NET[family].ready).toContain([...reached][0]);
    }
  });

  it('without affinity the same client is spread over the endpoints (so the check above can fail)', () => {
    const tracer = createTracer(programmed(webService()));
    const reached = new Set(Array.from({ length: 12 }, (_, k) => {
      const result = tracer.trace(connection(family, 0, k));
      return result.ok ? result.dstAddress : result.message;
    }));
    expect(reached.size).toBe(3);
  });

  it('4,000 different clients spread evenly over the three ready endpoints', () => {
    const counts = tally(endpointOfClients(state, family, 4000));
    expect(Object.keys(counts).sort()).toEqual([...NET[family].ready].sort());
    for (const count of Object.values(counts)) {
      expect(count).toBeGreaterThan(4000 / 3 * 0.85);
      expect(count).toBeLessThan(4000 / 3 * 1.15);
    }
  });

  it.each([
    { story: 'one of five endpoints goes', before: 5, after: 4, mustMove: 1 / 5 },
    { story: 'a sixth endpoint comes', before: 5, after: 6, mustMove: 1 / 6 },
    { story: 'one of ten endpoints goes', before: 10, after: 9, mustMove: 1 / 10 },
    { story: 'three endpoints become four (more buckets)', before: 3, after: 4, mustMove: 1 / 4 },
  ])('$story: few clients move', ({ before, after, mustMove }) => {
    const from = endpointOfClients(programmed(sticky({ endpoints: endpoints(family, before) })), family, 4000);
    // the endpoint that goes is the first one, so the others' buckets are the ones to keep
    const kept = after < before ? endpoints(family, after, 11) : endpoints(family, after);
    const to = endpointOfClients(programmed(sticky({ endpoints: kept })), family, 4000);
    const share = moved(from, to);
    expect(share).toBeGreaterThanOrEqual(mustMove * 0.85);
    expect(share).toBeLessThanOrEqual(mustMove * 2.2);
  });
});

describe('planning ClientIP affinity', () => {
  const scope = scopes.service(webService().uid);

  it('switching it on replaces the dst-nat rules of both ports and families; the next plan changes nothing', () => {
    const { ops, state } = converge(programmed(webService()), serviceDesired(sticky()), scope);
    // per port and family: 32 bucket rules in, the three nth slots out
    expect(opCounts(ops)).toEqual({ add: 4 * 32, set: 0, remove: 2, move: 0 });
    expect(converge(state, serviceDesired(sticky()), scope).ops).toEqual([]);
  });

  it('switching it off brings back the nth slots', () => {
    const { state } = converge(programmed(sticky()), serviceDesired(webService()), scope);
    expect(state).toEqual(converge(programmed(sticky()), serviceDesired(webService()), scope).state);
    const chain = portChain(webService().uid, 'tcp', 80);
    expect(state.menus['/ip/firewall/nat']?.filter((e) => e.chain === chain).map((e) => e.nth ?? '-')).toEqual(['3,1', '2,1', '-']);
  });

  it('an endpoint going re-targets only the rules of the buckets that move (same bucket count)', () => {
    const all = converge(programmed(sticky({ endpoints: endpoints('IPv4', 7) })), serviceDesired(sticky({ endpoints: endpoints('IPv4', 6, 11) })), scope).ops;
    const ops = all.filter((op) => op.menu === '/ip/firewall/nat');
    expect(ops.every((op) => op.op === 'set' && Object.keys(op.changes).join() === 'to-addresses')).toBe(true);
    // 64 buckets per port, 2 ports: at least the gone endpoint's 2 × 9, far fewer than all 128
    expect(ops.length).toBeGreaterThanOrEqual(2 * 9);
    expect(ops.length).toBeLessThanOrEqual(2 * 64 * 0.3);
  });

  it('a new bucket count (four endpoints become five) sets every rule\'s classifier and adds the new buckets', () => {
    const { ops } = converge(programmed(sticky({ endpoints: endpoints('IPv4', 4) })), serviceDesired(sticky({ endpoints: endpoints('IPv4', 5) })), scope);
    expect(opCounts(ops.filter((op) => op.menu === '/ip/firewall/nat'))).toEqual({ add: 2 * 32, set: 2 * 32, remove: 0, move: 0 });
  });
});

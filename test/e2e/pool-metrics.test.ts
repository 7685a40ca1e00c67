/**
 * The controller's /metrics follows the pools on the real API server: the address gauges move
 * as Services take addresses, an exhausted pool counts its failures and shows the allocation
 * that waits, a failed allocation whose Service went, and a deleted pool's gauges go.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDRESSES_IN_USE, ADDRESSES_TOTAL, ALLOCATION_FAILURES, ALLOCATIONS_FAILED } from '../../lib/pool-metrics.js';
import { uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { sampleValue } from '../helpers/prom-text.js';
import { SEED } from '../program/setup.js';
import { eventually, KNATIVE_TOPOLOGY, startE2E, type E2E } from './stack.js';

let e2e: E2E;
let make: ReturnType<typeof objects>;
const ns = uniq('pool-metrics');
const pair = uniq('pair');
const v6 = uniq('v6');
const LB = { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' };

beforeAll(async () => {
  e2e = await startE2E(SEED, { resyncIntervalMs: 600_000 });
  make = objects(e2e.kube);
  await make.namespace(ns);
});

afterAll(async () => {
  await make.cleanup();
  await e2e.stop();
});

async function scrape(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${e2e.controller.bridge.port}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** Waits until every series named has the value given (undefined: no such series). */
async function metricsShow(expected: readonly [string, Record<string, string>, number | undefined][]): Promise<string> {
  return eventually(async () => {
    const text = await scrape();
    expect(expected.map(([name, labels]) => [name, labels, sampleValue(text, name, labels)])).toEqual(expected);
    return text;
  }, 30_000);
}

// the all-in-one's: its watch of allocations keeps the failing gauge; under Knative the pool
// series are not exported (docs/monitoring.md), so this file runs on the all-in-one alone
describe.skipIf(KNATIVE_TOPOLOGY)('pool usage on the controller\'s /metrics', () => {
  it('counts addresses as Services take them, failures of an exhausted pool, a failed allocation whose Service went, and forgets a deleted pool', async () => {
    await make.pool(pair, { ipFamily: 'IPv4', addresses: ['198.18.88.10-198.18.88.11'], autoAssign: false, interfaceName: 'ether1' });
    await make.pool(v6, { ipFamily: 'IPv6', addresses: ['2001:db8:88::10-2001:db8:88::17'], autoAssign: false, interfaceName: 'ether1' });
    const empty = await metricsShow([
      [ADDRESSES_TOTAL, { pool: pair, family: 'IPv4' }, 2],
      [ADDRESSES_IN_USE, { pool: pair, family: 'IPv4' }, 0],
      [ADDRESSES_TOTAL, { pool: v6, family: 'IPv6' }, 8],
      [ADDRESSES_IN_USE, { pool: v6, family: 'IPv6' }, 0],
    ]);
    expect(sampleValue(empty, ALLOCATION_FAILURES, { pool: pair, reason: 'PoolExhausted' })).toBe(0);
    expect(sampleValue(empty, 'mikrolb_bridge_ready')).toBe(1);

    for (const name of ['first', 'second', 'third']) await make.service(ns, name, LB, { 'mikrolb.de/load-balancer-pools': pair });
    const full = await metricsShow([
      [ADDRESSES_TOTAL, { pool: pair, family: 'IPv4' }, 2],
      [ADDRESSES_IN_USE, { pool: pair, family: 'IPv4' }, 2],
      [ALLOCATIONS_FAILED, { pool: pair, reason: 'PoolExhausted' }, 1],
    ]);
    const failures = sampleValue(full, ALLOCATION_FAILURES, { pool: pair, reason: 'PoolExhausted' }) ?? 0;
    expect(failures).toBeGreaterThanOrEqual(1);
    const [waiting] = (await Promise.all(['first', 'second', 'third'].map((s) => make.allocationsOf(ns, s)))).flat().filter((a) => a.status?.phase === 'Failed');
    expect(waiting?.status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('PoolExhausted');

    // a freed address goes to the waiting Service: nothing fails any more, the pool stays full
    await e2e.kube.remove('Service', 'first', ns);
    const settled = await metricsShow([
      [ADDRESSES_IN_USE, { pool: pair, family: 'IPv4' }, 2],
      [ALLOCATIONS_FAILED, { pool: pair, reason: 'PoolExhausted' }, undefined],
    ]);
    expect(sampleValue(settled, ALLOCATION_FAILURES, { pool: pair, reason: 'PoolExhausted' })).toBeGreaterThanOrEqual(failures);

    // a failed allocation whose Service is deleted stops failing: it freed no address, so no
    // recount of its pool notices; the controller's watch does
    await make.service(ns, 'fourth', LB, { 'mikrolb.de/load-balancer-pools': pair });
    await metricsShow([[ALLOCATIONS_FAILED, { pool: pair, reason: 'PoolExhausted' }, 1]]);
    await e2e.kube.remove('Service', 'fourth', ns);
    await metricsShow([[ALLOCATIONS_FAILED, { pool: pair, reason: 'PoolExhausted' }, undefined]]);

    await e2e.kube.remove('IPPool', v6);
    await metricsShow([
      [ADDRESSES_TOTAL, { pool: v6, family: 'IPv6' }, undefined],
      [ADDRESSES_TOTAL, { pool: pair, family: 'IPv4' }, 2],
    ]);
  });
});

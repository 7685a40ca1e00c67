import { describe, expect, it } from 'vitest';
import { gcCounters, routerLimitCounter } from '../../metrics.js';
import { isLimit, isRouterError, isTimeout, type RouterError } from '../../router/errors.js';
import type { RouterLimit } from './session.js';
import { bulkState, client, sim } from './test-support.js';

/**
 * A router (or something pretending to be one) cannot make a command cost unbounded memory or
 * time: every reply is capped in items and bytes, every command has a total deadline, and each
 * bound fails the command with a clear error, tells the counter, and the next call reconnects.
 */
const LIST = '/ip/firewall/address-list';

async function failure(promise: Promise<unknown>): Promise<RouterError> {
  try {
    await promise;
  } catch (error) {
    if (!isRouterError(error)) throw error;
    return error;
  }
  return expect.fail('expected the call to fail');
}

function counted(): { hits: RouterLimit[]; onLimit: (limit: RouterLimit) => void } {
  const hits: RouterLimit[] = [];
  return { hits, onLimit: (limit) => hits.push(limit) };
}

describe('bounded router sessions', () => {
  it('a router flooding !re for one print: the command fails at the item cap, the session closes, the next call reconnects', async () => {
    const router = await sim({ initialState: bulkState(3) });
    const { hits, onLimit } = counted();
    const api = client(router, { limits: { maxReplyItems: 5_000 }, onLimit, timeoutMs: 5_000 });
    router.faults.floodReplies(`${LIST}/print`);
    const error = await failure(api.print(LIST));
    expect([error.kind, isLimit(error), error.command]).toEqual(['limit', true, `${LIST}/print`]);
    expect(error.message).toMatch(/\/ip\/firewall\/address-list\/print sent more than 5000 items/);
    expect(hits).toEqual(['items']);
    expect(await api.print(LIST)).toHaveLength(3);
    expect(router.stats.connections).toBe(2);
  });

  it('the byte cap holds for a reply of many items too', async () => {
    const router = await sim({ initialState: bulkState(2_000) });
    const { hits, onLimit } = counted();
    const api = client(router, { limits: { maxReplyBytes: 20_000 }, onLimit });
    const error = await failure(api.print(LIST));
    expect([error.kind, error.message]).toEqual(['limit', expect.stringMatching(/sent a reply of more than 20000 bytes/)]);
    expect(hits).toEqual(['bytes']);
  });

  it('counts each bound in the controller\'s metrics (mikrolb_router_limits_total)', async () => {
    const router = await sim({ initialState: bulkState(2_000) });
    const counters = gcCounters();
    const api = client(router, { limits: { maxReplyItems: 100 }, onLimit: routerLimitCounter(counters) });
    await failure(api.print(LIST));
    await failure(api.print(LIST));
    expect(counters.render()).toContain('mikrolb_router_limits_total{limit="items"} 2\n');
  });

  it.each([
    { story: 'one huge word', size: { wordBytes: 2 << 20 } },
    { story: 'a huge sentence of words under the word limit', size: { wordBytes: 512 << 10, words: 16 } },
  ])('a reply with $story fails as over the limit before it is buffered whole', async ({ size }) => {
    const router = await sim();
    const { hits, onLimit } = counted();
    const api = client(router, { onLimit, timeoutMs: 5_000 });
    router.faults.hugeReply('/ip/address/print', size);
    const error = await failure(api.print('/ip/address'));
    expect([error.kind, error.message]).toEqual(['limit', expect.stringMatching(/reply over the limit: (word of \d+ bytes exceeds 1048576|sentence exceeds 4194304 bytes)/)]);
    expect(hits).toEqual(['sentence']);
    expect(await api.print('/ip/address')).toEqual([]);
  });

  it('a router that drips bytes (never silent, never done) fails at the command deadline, not the idle timeout', async () => {
    const router = await sim({ initialState: bulkState(50) });
    const { hits, onLimit } = counted();
    const api = client(router, { limits: { commandTimeoutMs: 800 }, onLimit, timeoutMs: 400 });
    await api.version();
    router.faults.dripReplies(20);
    const error = await failure(api.print(LIST));
    expect([error.kind, isTimeout(error), error.message]).toEqual(['timeout', true, expect.stringMatching(/address-list\/print did not finish within 800 ms/)]);
    expect(hits).toEqual(['deadline']);
    router.faults.clear();
    expect(await api.print(LIST)).toHaveLength(50);
  });
});

import { describe, expect, it } from 'vitest';
import type { Op } from '../../router/ops.js';
import { bulkState, client, elapsedSince, sim } from './test-support.js';

/** Sizes from the acceptance criteria; the figures are printed, not asserted. */
describe('volume', () => {
  it('prints 10,000 entries', async () => {
    const router = await sim({ initialState: bulkState(10_000) });
    const api = client(router, { timeoutMs: 20_000 });
    await api.version();
    const started = performance.now();
    const entries = await api.print('/ip/firewall/address-list');
    console.log(`[routeros-client] print 10000 entries: ${elapsedSince(started)} ms`);
    expect(entries).toHaveLength(10_000);
    expect(entries[9_999]).toMatchObject({ '.id': '*2710', list: 'bulk', address: '10.0.39.15' });
  }, 30_000);

  it('executes 1,000 pipelined ops in one round trip', async () => {
    const router = await sim();
    const api = client(router, { timeoutMs: 20_000 });
    await api.version();
    const ops: Op[] = Array.from({ length: 1_000 }, (_, i) => ({
      op: 'add', menu: '/ip/firewall/address-list', entry: { list: 'lb', address: `10.1.${i >> 8}.${i & 255}`, comment: `mikrolb:${i}` },
    }));
    const trips = api.stats.roundTrips;
    const started = performance.now();
    const { ids } = await api.execute(ops);
    console.log(`[routeros-client] execute 1000 pipelined ops: ${elapsedSince(started)} ms`);
    expect(new Set(ids).size).toBe(1_000);
    expect(api.stats.roundTrips - trips).toBe(1);
    expect(router.state().menus['/ip/firewall/address-list']).toHaveLength(1_000);
  }, 30_000);

  it('answers 1,000 concurrent calls on one connection', async () => {
    const router = await sim({ initialState: bulkState(1_000) });
    const api = client(router, { timeoutMs: 20_000 });
    const started = performance.now();
    const ids = Array.from({ length: 1_000 }, (_, i) => `*${(i + 1).toString(16).toUpperCase()}`);
    await Promise.all(ids.map((id, i) => api.set('/ip/firewall/address-list', id, { comment: `n${i}` })));
    console.log(`[routeros-client] 1000 concurrent set calls: ${elapsedSince(started)} ms`);
    expect(router.stats.connections).toBe(1);
    expect(api.stats).toMatchObject({ commands: 1_000, roundTrips: 1_000, connects: 1 });
    expect(router.state().menus['/ip/firewall/address-list']?.[999]).toMatchObject({ comment: 'n999' });
  }, 30_000);
});

import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceComment } from '../../lib/router/names.js';
import type { RouterState } from '../../lib/router/state.js';
import { SEED } from '../program/setup.js';
import { eventually, startE2E, type E2E } from './stack.js';

/**
 * A controller killed between a router write and the check after it (program settling a write
 * made for a Service released meanwhile) leaves that Service's entries on the router: the
 * Service is gone, and no event will name it again. The process that starts next collects them
 * at once, not a resync interval later.
 */
describe('a controller started over what a crashed one left on the router (real API server, RouterOS simulator)', () => {
  let e2e: E2E | undefined;
  afterAll(async () => {
    await e2e?.stop();
  });

  it('collects the entries of a Service that no longer exists as soon as its work starts', async () => {
    const gone = randomUUID();
    const leftover = { '.id': '*9001', address: '198.18.40.77/32', interface: 'ether1', comment: serviceComment(gone, 'adv:198.18.40.77') };
    const seed: RouterState = { ...SEED, menus: { ...SEED.menus, '/ip/address': [...(SEED.menus['/ip/address'] ?? []), leftover] } };
    // the periodic resync is five minutes away: only the collection at start-up can take it off
    e2e = await startE2E(seed, { resyncIntervalMs: 300_000 });
    const sim = e2e.sim;
    const left = (): string[] => (sim.state().menus['/ip/address'] ?? []).flatMap((e) => (e.comment?.includes(gone) ? [e.address ?? ''] : []));
    await eventually(async () => {
      if (left().length > 0) throw new Error(`the entry of ${gone} is still on the router`);
    }, 60_000);
    // nothing else is touched: the router's own addresses stay
    expect((sim.state().menus['/ip/address'] ?? []).map((e) => e.address)).toEqual(['198.18.40.1/24', '10.244.0.1/16']);
    expect(e2e.logs.entries.filter((e) => e.msg === 'Collected router entries').map((e) => e.fields['orphaned'])).toEqual([1]);
  }, 120_000);
});

import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../lib/log/logger.js';
import { ownerOf } from '../lib/router/index.js';
import { baseRouter } from '../lib/router/test-support.js';
import { memoryRouter } from '../test/helpers/memory-router.js';
import { greetRouter } from './all-in-one.js';

describe('the controller greets the router at start', () => {
  it('opens the session and logs the version the router reports', async () => {
    const router = memoryRouter({ version: '7.19.1', menus: { '/system/resource': [{ '.id': '*0', version: '7.19.1 (stable)' }] } });
    const log = memoryLogger();
    await greetRouter(router, log);
    expect(router.roundTrips).toBe(1);
    expect(log.entries).toContainEqual(expect.objectContaining({ level: 'info', msg: 'Router reachable', fields: { version: '7.19.1 (stable)' } }));
  });

  it('says at once when the router does not answer, and does not fail the start', async () => {
    const router = memoryRouter({ version: '7.19.1', menus: {} }, { fail: () => new Error('connect ECONNREFUSED 192.0.2.1:8729') });
    const log = memoryLogger();
    await expect(greetRouter(router, log)).resolves.toBeUndefined();
    expect(log.entries).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'Router not reachable yet; programming retries it', fields: { error: expect.stringContaining('ECONNREFUSED') } }));
  });

  const reachable = () => {
    const base = baseRouter();
    return memoryRouter({ ...base, menus: { ...base.menus, '/system/resource': [{ '.id': '*0', version: '7.19.1 (stable)' }] } });
  };
  const globals = (r: ReturnType<typeof reachable>) => Object.entries(r.state().menus).flatMap(([menu, es]) => es.filter((e) => ownerOf(e.comment)?.kind === 'global').map(() => menu));

  it('then prepares the global rules of the families the pools serve, once, tagged with the cluster name', async () => {
    const router = reachable();
    const log = memoryLogger();
    await greetRouter(router, log, { cluster: 'lab', families: async () => ['IPv4', 'IPv4'] });
    expect(new Set(globals(router))).toEqual(new Set(['/ip/firewall/filter', '/ip/firewall/mangle', '/ip/firewall/nat']));
    expect(router.ops.every((op) => op.op !== 'add' || op.entry.comment.startsWith('mikrolb:lab:global:'))).toBe(true);
    expect(log.entries).toContainEqual(expect.objectContaining({ level: 'info', msg: 'Router prepared', fields: { families: ['IPv4'], changes: router.ops.length } }));
    // greeting (1), reading (1), build and divert (2)
    expect(router.roundTrips).toBe(4);
  });

  it('prepares nothing without pools, and a failure to prepare is only a warning', async () => {
    const none = reachable();
    await greetRouter(none, memoryLogger(), { cluster: 'default', families: async () => [] });
    expect(none.roundTrips).toBe(1);

    const router = reachable();
    const log = memoryLogger();
    await expect(greetRouter(router, log, { cluster: 'default', families: () => Promise.reject(new Error('ippools is forbidden')) })).resolves.toBeUndefined();
    expect(globals(router)).toEqual([]);
    expect(log.entries).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'Router not prepared; programming creates the global rules', fields: { error: expect.stringContaining('forbidden') } }));
  });

  it('does not try to prepare a router that does not answer', async () => {
    let asked = false;
    const router = memoryRouter({ version: '7.19.1', menus: {} }, { fail: () => new Error('connect ECONNREFUSED 192.0.2.1:8729') });
    await greetRouter(router, memoryLogger(), { cluster: 'default', families: async () => ((asked = true), ['IPv4']) });
    expect(asked).toBe(false);
    expect(router.roundTrips).toBe(1);
  });
});

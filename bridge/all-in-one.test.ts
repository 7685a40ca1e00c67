import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../lib/log/logger.js';
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
});

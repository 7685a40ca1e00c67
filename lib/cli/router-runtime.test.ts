import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../log/logger.js';
import { routerRuntime } from './router-runtime.js';

const env = (url: string) => ({ ROUTEROS_URL: url, ROUTEROS_USERNAME: 'mikrolb', ROUTEROS_PASSWORD: 'pw' });

describe('routerRuntime', () => {
  it('logs a structured warning for plain api:// to a router elsewhere', async () => {
    const log = memoryLogger();
    const router = routerRuntime(env('api://192.0.2.1'), log);
    expect(router.ok).toBe(true);
    if (router.ok) await router.value.close();
    expect(log.entries).toEqual([{ level: 'warn', msg: expect.stringContaining('not encrypted'), fields: expect.objectContaining({ router: '192.0.2.1:8728' }) }]);
  });

  it.each(['api-ssl://192.0.2.1', 'api://127.0.0.1:8728'])('does not warn for %s', async (url) => {
    const log = memoryLogger();
    const router = routerRuntime(env(url), log);
    if (router.ok) await router.value.close();
    expect(log.entries).toEqual([]);
  });

  it('never echoes a password inside ROUTEROS_URL', () => {
    const router = routerRuntime({ ...env('api://admin:Sup3rS3cret@192.0.2.1') }, memoryLogger());
    expect(router).toEqual({ ok: false, message: 'ROUTEROS_URL="api://***@192.0.2.1" router URL must not hold credentials (use ROUTEROS_USERNAME and ROUTEROS_PASSWORD)' });
  });
});

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { objectInvocation, toCloudEvent } from '../../lib/events/cloudevent.js';
import { freePort } from '../cluster/cluster.js';
import { testCluster } from '../helpers/cluster.js';

const ROOT = join(import.meta.dirname, '..', '..');

async function waitHealthy(url: string, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    try {
      if ((await fetch(url)).ok) return Date.now() - t0;
    } catch {
      // not listening yet
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`${url} not healthy after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('mikrolb serve <function>', () => {
  it('serves allocate on $PORT (INVOKE_AUTH=none, with a warning): healthz, a CloudEvent answered, clean exit on SIGTERM', async () => {
    const { kubeconfig } = testCluster();
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bridge', 'main.ts'), 'serve', 'allocate'], {
      env: { ...process.env, KUBECONFIG: kubeconfig, PORT: String(port), INVOKE_AUTH: 'none' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await waitHealthy(`http://127.0.0.1:${port}/healthz`, 20_000);
      const ev = toCloudEvent(objectInvocation('update', { kind: 'Service', namespace: 'default', name: 'nobody-here' }));
      const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: ev.headers, body: ev.body });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ function: 'allocate', actions: [] });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toContain('"msg":"Serving"');
    expect(stderr).toMatch(/"level":"warn".*INVOKE_AUTH=none: anyone who reaches this function can invoke it/);
  }, 180_000);

  it('stops with one line naming a bad variable', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bridge', 'main.ts'), 'serve', 'program'], {
      env: { ...process.env, KUBECONFIG: testCluster().kubeconfig, ROUTEROS_URL: 'http://router', ROUTEROS_USERNAME: 'x', ROUTEROS_PASSWORD: 'secret-pw' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('ROUTEROS_URL="http://router"');
    expect(stderr).not.toContain('secret-pw');
  }, 120_000);
});

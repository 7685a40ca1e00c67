/**
 * Authenticated invocations against the real API server: `mikrolb serve allocate` checks each
 * caller's ServiceAccount token with a TokenReview (audience INVOKE_AUDIENCE) and admits only
 * INVOKE_ALLOWED_SUBJECTS. Tokens are minted with the TokenRequest API, as the kubelet does for
 * the bridge's projected volume.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { httpDispatch } from '../../bridge/invoker.js';
import { createAllocateApp } from '../../functions/allocate/app.js';
import { createAuthenticator } from '../../lib/auth/authenticator.js';
import { tokenFile } from '../../lib/auth/token-file.js';
import { tokenReviewer } from '../../lib/auth/token-review.js';
import { freePort } from '../cluster/cluster.js';
import { objectInvocation, toCloudEvent } from '../../lib/events/cloudevent.js';
import { withInvokeAuth } from '../../lib/http/invoke-auth.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import { silentLogger } from '../../lib/log/logger.js';
import { testCluster, uniq } from '../helpers/cluster.js';

const ROOT = join(import.meta.dirname, '..', '..');
const AUDIENCE = 'mikrolb-functions';
const { kubeconfig, transport } = testCluster();
const namespace = uniq('invoke-auth');
const subject = (sa: string): string => `system:serviceaccount:${namespace}:${sa}`;

const TokenRequestSchema = z.object({ status: z.object({ token: z.string().min(1) }) });

/** A token for `sa` from the TokenRequest API (`serviceaccounts/token`), bound to `audiences` (none: the API server's own). */
async function mint(sa: string, audiences?: string[]): Promise<string> {
  const res = await transport({
    method: 'POST',
    path: `/api/v1/namespaces/${namespace}/serviceaccounts/${sa}/token`,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600, ...(audiences ? { audiences } : {}) } },
  });
  return TokenRequestSchema.parse(res).status.token;
}

async function serviceAccount(name: string): Promise<void> {
  await transport({ method: 'POST', path: `/api/v1/namespaces/${namespace}/serviceaccounts`, body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } } });
}

const event = () => toCloudEvent(objectInvocation('update', { kind: 'Service', namespace, name: 'nobody-here' }));

async function waitHealthy(url: string, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${url} not healthy after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let child: ChildProcess | undefined;
let stderr = '';
let url = '';
let tokens: { bridge: string; stranger: string; wrongAudience: string; defaultAudience: string };

beforeAll(async () => {
  await transport({ method: 'POST', path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } } });
  await Promise.all([serviceAccount('bridge'), serviceAccount('stranger')]);
  const [bridge, stranger, wrongAudience, defaultAudience] = await Promise.all([
    mint('bridge', [AUDIENCE]), mint('stranger', [AUDIENCE]), mint('bridge', ['someone-else']), mint('bridge'),
  ]);
  tokens = { bridge, stranger, wrongAudience, defaultAudience };
  const port = await freePort();
  url = `http://127.0.0.1:${port}/`;
  child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bridge', 'main.ts'), 'serve', 'allocate'], {
    env: { ...process.env, KUBECONFIG: kubeconfig, PORT: String(port), INVOKE_AUDIENCE: AUDIENCE, INVOKE_ALLOWED_SUBJECTS: subject('bridge'), INVOKE_AUTH: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  await waitHealthy(`${url}healthz`, 60_000);
}, 180_000);

afterAll(async () => {
  child?.kill('SIGTERM');
  await transport({ method: 'DELETE', path: `/api/v1/namespaces/${namespace}` }).catch(() => undefined);
});

const post = (authorization?: string) => {
  const ev = event();
  return fetch(url, { method: 'POST', headers: { ...ev.headers, ...(authorization ? { authorization } : {}) }, body: ev.body });
};

describe('mikrolb serve <function>: authenticated invocations (TokenReview on the real API server)', () => {
  it('answers 401 without credentials and reveals nothing', async () => {
    const res = await post();
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: expect.stringMatching(/^authentication required/) });
  });

  it('answers 401 for a token that is not valid', async () => {
    expect((await post('Bearer not-a-token')).status).toBe(401);
    const tampered = `${tokens.bridge.slice(0, -4)}AAAA`;
    expect((await post(`Bearer ${tampered}`)).status).toBe(401);
  });

  it('answers 401 for a valid token of the allowed ServiceAccount bound to another audience', async () => {
    expect((await post(`Bearer ${tokens.wrongAudience}`)).status).toBe(401);
    expect((await post(`Bearer ${tokens.defaultAudience}`)).status).toBe(401);
  });

  it('answers 403 for a valid token of a ServiceAccount that is not allowed', async () => {
    const res = await post(`Bearer ${tokens.stranger}`);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: `${subject('stranger')} may not invoke this function` });
  });

  it('runs the function for the allowed ServiceAccount with a token for INVOKE_AUDIENCE', async () => {
    const res = await post(`Bearer ${tokens.bridge}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ function: 'allocate', actions: [] });
  });

  it('keeps /healthz and /readyz open, answering only "ok"', async () => {
    for (const path of ['healthz', 'readyz']) {
      const res = await fetch(`${url}${path}`);
      expect([res.status, await res.text()]).toEqual([200, 'ok']);
    }
  });

  it('never logs a token', () => {
    for (const token of Object.values(tokens)) expect(stderr).not.toContain(token);
    expect(stderr).toContain('"msg":"Invocation refused"');
  });

  it('is reached by the bridge\'s dispatch with the token file, re-read when it is rotated', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mikrolb-invoke-token-'));
    try {
      const path = join(dir, 'token');
      await writeFile(path, tokens.bridge);
      const dispatch = httpDispatch(url, { token: tokenFile(path) });
      const invocation = objectInvocation('update', { kind: 'Service', namespace, name: 'nobody-here' });
      expect((await dispatch(invocation, new AbortController().signal)).status).toBe(200);
      // The kubelet swaps the file; here the new token belongs to someone not allowed.
      await writeFile(join(dir, 'next'), tokens.stranger);
      await rename(join(dir, 'next'), path);
      expect((await dispatch(invocation, new AbortController().signal)).status).toBe(403);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the configuration', () => {
  it('refuses to serve a function with authentication on but nobody allowed (one line naming the variable)', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bridge', 'main.ts'), 'serve', 'allocate'], {
      env: { ...process.env, KUBECONFIG: kubeconfig, PORT: String(await freePort()), INVOKE_AUTH: '', INVOKE_ALLOWED_SUBJECTS: '' }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
    expect(code).toBe(2);
    expect(err.trim().split('\n')).toEqual([expect.stringMatching(/^mikrolb serve allocate: INVOKE_ALLOWED_SUBJECTS is required/)]);
  }, 120_000);
});

describe('without INVOKE_AUDIENCE', () => {
  it('accepts a token for the audiences the API server accepts (its own), refuses others, and still admits only allowed subjects', async () => {
    const kube = apiServerPort(transport);
    const inner = createAllocateApp({ kube, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false, clusterName: 'default' }, log: silentLogger(), now: () => new Date(), retry: { attempts: 3, pause: () => Promise.resolve() } });
    const app = withInvokeAuth(inner, createAuthenticator({ review: tokenReviewer(transport), allowedSubjects: [subject('bridge')] }), silentLogger());
    const ask = async (token: string) => {
      const ev = event();
      return (await app.fetch(new Request('http://function/', { method: 'POST', headers: { ...ev.headers, authorization: `Bearer ${token}` }, body: ev.body }))).status;
    };
    expect(await ask(tokens.defaultAudience)).toBe(200);
    expect(await ask(tokens.bridge)).toBe(401); // bound to mikrolb-functions, which this API server does not accept for itself
    expect(await ask(await mint('stranger'))).toBe(403);
    expect(await ask('garbage')).toBe(401);
  });
});

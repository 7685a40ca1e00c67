import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { objectInvocation, toCloudEvent } from '../../lib/events/cloudevent.js';
import { freePort } from '../cluster/cluster.js';
import { testCluster } from '../helpers/cluster.js';
import { baseNodeVersion, dockerignore, hostPath, parseDockerfile, performDockerfile, runtimeProcess, type StageRun } from './dockerfile.js';
import { cloneFiles, REPO_ROOT, seconds } from './workspace.js';

// No container engine runs here, so this test does what `docker build` would do with the
// repository's Dockerfile (its COPY and RUN steps, read from the file) in temporary folders,
// then runs the image's ENTRYPOINT from the runtime stage's result under the image's USER.

const log = (line: string): void => console.log(line);
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A kubeconfig with the credentials inline: the image's user cannot read the cluster's folder. */
async function inlineKubeconfig(path: string): Promise<string> {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!cluster?.caFile || !user?.certFile || !user.keyFile) throw new Error(`${path}: expected file-based credentials`);
  const b64 = async (file: string): Promise<string> => (await readFile(file)).toString('base64');
  return stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'test',
    clusters: [{ name: 'test', cluster: { server: cluster.server, 'certificate-authority-data': await b64(cluster.caFile) } }],
    users: [{ name: 'test', user: { 'client-certificate-data': await b64(user.certFile), 'client-key-data': await b64(user.keyFile) } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
  });
}

interface Exited { code: number | null; signal: NodeJS.Signals | null }

/** Starts the image's ENTRYPOINT with `args` (the CMD) from the runtime stage, as a container would. */
function startImage(runtime: StageRun, args: readonly string[], env: Record<string, string>) {
  const [exe, ...rest] = [...(runtime.entrypoint ?? []), ...args];
  if (exe !== 'node') throw new Error(`the ENTRYPOINT should start node, not ${exe}`);
  const argv = rest.map((a) => (a.startsWith('/') ? hostPath(runtime, a) : a));
  const ids = runtime.user?.split(':').map(Number) ?? [];
  const asUser = process.getuid?.() === 0 && ids.length > 0 && ids.every((n) => Number.isInteger(n));
  // The container's environment: the image's ENV (HOME mapped into the stage), nothing of ours.
  const imageEnv = { ...runtime.env, ...(runtime.env.HOME ? { HOME: hostPath(runtime, runtime.env.HOME) } : {}) };
  const child = spawn(process.execPath, argv, {
    cwd: hostPath(runtime, '.'),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...imageEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asUser ? { uid: ids[0], gid: ids[1] ?? ids[0] } : {}),
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.resume();
  const exited = new Promise<Exited>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, exited, asUser, stderr: () => stderr };
}

async function waitHealthy(url: string, timeoutMs: number, died: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (died()) throw new Error(`the process exited before ${url} answered`);
    const res = await fetch(url).catch(() => undefined);
    if (res?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String);
}

describe('the container image (Dockerfile performed without a container engine)', () => {
  it('declares a multi-stage build on node:22-bookworm-slim (pinned by digest) running `mikrolb controller` as uid 65532', async () => {
    const stages = parseDockerfile(await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
    expect(stages.map((s) => [s.name, s.base.replace(/@sha256:[0-9a-f]{64}$/, '@<digest>')])).toEqual([['build', 'node:22-bookworm-slim@<digest>'], ['runtime', 'node:22-bookworm-slim@<digest>']]);
    const runtime = stages[1]?.instructions ?? [];
    const args = (k: string): string[] => runtime.filter((i) => i.keyword === k).map((i) => i.args);
    expect(args('ENTRYPOINT')).toEqual(['["node", "/app/dist/bridge/main.js"]']);
    expect(args('CMD')).toEqual(['["controller"]']);
    expect(args('USER')).toEqual(['65532:65532']);
    expect(args('ENV')).toContain('NODE_ENV=production');
    // Only compiled code crosses from the build stage.
    expect(args('COPY').filter((a) => a.startsWith('--from='))).toEqual([
      '--from=build /app/dist/bridge ./dist/bridge', '--from=build /app/dist/lib ./dist/lib', '--from=build /app/dist/functions ./dist/functions',
    ]);
  });

  it('tells the bench how the image starts a process: node\'s flags, the ENV, the base\'s Node.js release', async () => {
    const text = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    expect(runtimeProcess(parseDockerfile(text))).toEqual({ nodeFlags: [], env: { NODE_ENV: 'production', HOME: '/tmp' } });
    expect(baseNodeVersion(text)).toBe('22.23.2');
    // the release named must be the base's
    expect(() => baseNodeVersion(text.replaceAll('node:22-bookworm-slim', 'node:24-bookworm-slim'))).toThrow(/not Node 22\.x/);
    const flagged = text.replace('ENTRYPOINT ["node", "/app', 'ENTRYPOINT ["node", "--max-semi-space-size=8", "/app');
    expect(runtimeProcess(parseDockerfile(flagged)).nodeFlags).toEqual(['--max-semi-space-size=8']);
  });

  it('builds with npm ci + npm run build, installs production dependencies only, and serves allocate from the result', async () => {
    const t0 = Date.now();
    const [dockerfile, ignore] = await Promise.all([readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8'), readFile(join(REPO_ROOT, '.dockerignore'), 'utf8')]);
    const ignored = dockerignore(ignore);
    const files = (await cloneFiles()).filter((f) => !ignored(f));
    expect(files).toContain('package-lock.json');
    expect(files.some((f) => f.startsWith('test/') || f.startsWith('node_modules/') || f.endsWith('.test.ts'))).toBe(false);

    const work = await mkdtemp(join(tmpdir(), 'mikrolb-image-'));
    dirs.push(work);
    await chmod(work, 0o755);
    const stages = await performDockerfile(parseDockerfile(dockerfile), { root: REPO_ROOT, files }, work, log);
    const build = stages.get('build');
    const runtime = stages.get('runtime');
    if (!build || !runtime) throw new Error('the Dockerfile needs the stages build and runtime');

    // The commands performed are exactly the Dockerfile's RUN lines (read from it, not typed here).
    expect([...build.ran, ...runtime.ran].map((s) => `${s.stage}: ${s.instruction}`)).toEqual([
      'build: npm ci', 'build: npm run build', 'runtime: npm ci --omit=dev --ignore-scripts',
    ]);
    expect(runtime.ran[0]?.performed).toBe('npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund');
    expect(runtime.skipped.map((s) => s.command.split(' ')[0])).toEqual(['groupadd', 'useradd']);

    // What the runtime stage holds: compiled code and production dependencies, nothing else.
    const app = hostPath(runtime, '/app');
    expect((await readdir(app)).sort()).toEqual(['dist', 'node_modules', 'package-lock.json', 'package.json']);
    expect((await readdir(join(app, 'dist'))).sort()).toEqual(['bridge', 'functions', 'lib']);
    expect((await filesUnder(join(app, 'dist'))).filter((f) => f.endsWith('.ts'))).toEqual([]);
    const modules = await readdir(join(app, 'node_modules'));
    for (const dev of ['typescript', 'vitest', 'eslint', 'fast-check', 'typescript-eslint', 'tsx', 'esbuild', 'routeros-client']) expect(modules).not.toContain(dev);
    for (const dep of ['@kubernetes', '@hono', 'hono', 'cloudevents', 'ipaddr.js', 'node-routeros', 'yaml', 'zod']) expect(modules).toContain(dep);
    // Test support (the local-cluster launcher, the packet tracer, fakes) lives under test/, which is
    // not in the build context (above); the simulator (`mikrolb routeros-sim`) is product code and stays.
    const compiled = await filesUnder(join(app, 'dist'));
    expect(compiled.filter((f) => /test-support|fake|tracer/.test(f))).toEqual([]);
    expect(compiled).toContain('lib/routeros/sim/cli.js');

    // The container: the image's ENV, USER (when we may switch users) and an app folder it cannot write to.
    const containerTmp = hostPath(runtime, '/tmp');
    await mkdir(containerTmp, { recursive: true });
    await chmod(containerTmp, 0o1777);
    const kubeconfig = join(containerTmp, 'kubeconfig');
    await writeFile(kubeconfig, await inlineKubeconfig(testCluster().kubeconfig), { mode: 0o644 });
    expect((await stat(app)).mode & 0o002).toBe(0);

    const port = await freePort();
    const tServe = Date.now();
    const served = startImage(runtime, ['serve', 'allocate'], { PORT: String(port), KUBECONFIG: kubeconfig, INVOKE_AUTH: 'none' });
    let exit: Exited | undefined;
    void served.exited.then((e) => (exit = e));
    try {
      await waitHealthy(`http://127.0.0.1:${port}/healthz`, 60_000, () => exit !== undefined);
      log(`[image] runtime: \`mikrolb serve allocate\` answered /healthz after ${seconds(Date.now() - tServe)}${served.asUser ? ` as uid ${runtime.user}` : ''}`);
      const ev = toCloudEvent(objectInvocation('update', { kind: 'Service', namespace: 'default', name: 'none' }));
      const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: ev.headers, body: ev.body });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ function: 'allocate' });
    } finally {
      served.child.kill('SIGTERM');
    }
    expect(await served.exited, served.stderr()).toEqual({ code: 0, signal: null });
    expect(served.stderr()).toContain('"msg":"Serving"');

    // The default CMD (`controller`) loads every module and stops on the missing router settings.
    const controller = startImage(runtime, runtime.cmd ?? [], { KUBECONFIG: kubeconfig });
    expect(await controller.exited).toEqual({ code: 2, signal: null });
    expect(controller.stderr().trim()).toBe('mikrolb controller: ROUTEROS_URL is required');

    const steps = [...build.ran, ...runtime.ran].map((s) => `${s.stage}: ${s.instruction} ${seconds(s.ms)}`).join(', ');
    log(`[image] ${steps}; everything ${seconds(Date.now() - t0)}`);
  }, 1_200_000);
});

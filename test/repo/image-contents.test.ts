import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { dockerignore, parseDockerfile } from '../image/dockerfile.js';
import { cloneFiles, copyFiles, REPO_ROOT } from '../image/workspace.js';

// What goes into the production image, read from the Dockerfile, .dockerignore, tsconfig.build.json
// and package.json (test/image/image.test.ts performs the whole build against a real cluster).

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const text = (file: string): Promise<string> => readFile(join(REPO_ROOT, file), 'utf8');

/**
 * Development-only code: everything under test/ (the local-cluster launcher, the local stack of
 * `npm start`, the packet tracer, test fakes) and the simulator's test certificates.
 */
const DEV_ONLY = ['test/cluster/', 'test/local-stack/', 'test/tracer/', 'test/helpers/', 'test/', 'lib/routeros/sim/testdata/'];

async function buildContext(): Promise<string[]> {
  const ignored = dockerignore(await text('.dockerignore'));
  return (await cloneFiles()).filter((f) => !ignored(f));
}

describe('the production image', () => {
  it('pins every base image by digest', async () => {
    const stages = parseDockerfile(await text('Dockerfile'));
    expect(stages.length).toBeGreaterThan(0);
    for (const stage of stages) expect(stage.base).toMatch(/^node:22-bookworm-slim@sha256:[0-9a-f]{64}$/);
  });

  it('leaves development-only code out of the build context, and keeps the simulator', async () => {
    const context = await buildContext();
    for (const dev of DEV_ONLY) expect(context.filter((f) => f === dev || f.startsWith(dev))).toEqual([]);
    // Sources that exist, so the exclusions above exclude something.
    const all = await cloneFiles();
    for (const dev of DEV_ONLY) expect(all.some((f) => f === dev || f.startsWith(dev)), dev).toBe(true);
    for (const kept of ['lib/routeros/sim/cli.ts', 'lib/routeros/sim/server.ts', 'bridge/main.ts', 'bridge/all-in-one.ts', 'functions/registry.ts']) expect(context).toContain(kept);
  });

  it('compiles from that context alone: no product module imports development-only code', async () => {
    const context = await buildContext();
    const dir = await mkdtemp(join(tmpdir(), 'mikrolb-image-context-'));
    dirs.push(dir);
    await copyFiles(REPO_ROOT, context, dir);
    await symlink(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
    const tsc = join(REPO_ROOT, 'node_modules', '.bin', 'tsc');
    const listed = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(tsc, ['-p', 'tsconfig.build.json', '--noEmit', '--listFilesOnly'], { cwd: dir, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
        resolve({ code: err ? 1 : 0, out: stdout + stderr }));
    });
    expect(listed.code, listed.out).toBe(0);
    const compiled = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(tsc, ['-p', 'tsconfig.build.json', '--noEmit'], { cwd: dir, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
        resolve({ code: err ? 1 : 0, out: stdout + stderr }));
    });
    expect(compiled.code, compiled.out).toBe(0);
    const ours = listed.out.split('\n').filter((f) => f.startsWith(dir)).map((f) => f.slice(dir.length + 1));
    expect(ours).toContain('lib/routeros/sim/cli.ts');
    expect(ours.filter((f) => f.endsWith('.test.ts') || f.endsWith('test-support.ts'))).toEqual([]);
  }, 180_000);

  it('installs no TypeScript runner or bundler at runtime: tsx and esbuild are development dependencies', async () => {
    const pkg = z.object({ dependencies: z.record(z.string(), z.string()), devDependencies: z.record(z.string(), z.string()) }).parse(JSON.parse(await text('package.json')));
    expect(Object.keys(pkg.dependencies)).not.toContain('tsx');
    expect(Object.keys(pkg.dependencies)).not.toContain('esbuild');
    expect(Object.keys(pkg.devDependencies)).toContain('tsx');
    // The bin runs compiled JavaScript with node; only the npm scripts (a source checkout) use tsx.
    expect(z.object({ bin: z.object({ mikrolb: z.string() }) }).parse(JSON.parse(await text('package.json'))).bin.mikrolb).toBe('dist/bridge/main.js');
  });
});

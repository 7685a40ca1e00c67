/**
 * The Go steps of `npm test` besides the cluster binaries (helm's build, Knative's CRDs) run with
 * GOTOOLCHAIN=local: with a Go older than a pinned module's go.mod needs, each says which Go to
 * install instead of passing on Go's own failure. The pinned Go releases are checked against the
 * modules' own go.mod files.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ensureHelm, helmPath, HELM } from './helm.js';
import { KNATIVE_MODULES, knativeCrdFiles } from './knative.js';

/** A folder whose bin/go says it is go1.24.4 and fails as that Go does on a newer go.mod. */
async function oldGo(): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = await mkdtemp(join(tmpdir(), 'mikrolb-old-go-'));
  await mkdir(join(dir, 'bin'));
  const go = join(dir, 'bin', 'go');
  await writeFile(go, '#!/bin/sh\nif [ "$1" = version ]; then echo "go version go1.24.4 linux/amd64"; exit 0; fi\necho "go: go.mod requires go >= 1.26.0 (running go 1.24.4; GOTOOLCHAIN=local)" >&2\nexit 1\n');
  await chmod(go, 0o755);
  return { dir, env: { PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}`, HOME: dir, MIKROLB_CACHE_DIR: join(dir, 'cache') } };
}

describe('the Go steps of npm test with an old Go on PATH', () => {
  let old: { dir: string; env: NodeJS.ProcessEnv };
  beforeAll(async () => {
    old = await oldGo();
  });
  afterAll(async () => {
    await rm(old.dir, { recursive: true, force: true });
  });

  it('building helm names the Go it needs and what to install', async () => {
    await expect(ensureHelm(old.env)).rejects.toThrow(
      /^cannot build helm v3\.21\.4: the Go on PATH \(go1\.24\.4\) is older than the 1\.26\.0 that builds it \(helm\.sh\/helm\/v3@v3\.21\.4's go\.mod; GOTOOLCHAIN=local fetches no newer toolchain\): install Go >= 1\.26\.0 \(README, Prerequisites\)$/,
    );
    await expect(readFile(helmPath(old.env))).rejects.toThrow(/ENOENT/);
  });

  it('fetching Knative\'s CRDs names the Go it needs and what to install', async () => {
    await expect(knativeCrdFiles(old.env)).rejects.toThrow(
      /^cannot fetch Knative's CRDs: the Go on PATH \(go1\.24\.4\) is older than the 1\.26\.0 that fetches them \(knative\.dev\/serving@v0\.51\.0's go\.mod; GOTOOLCHAIN=local fetches no newer toolchain\): install Go >= 1\.26\.0 \(README, Prerequisites\)$/,
    );
  });
});

const GoMod = z.object({ Path: z.string(), Version: z.string(), GoMod: z.string() });

describe('the pinned Go releases', () => {
  const pinned: [module: string, version: string, go: string][] = [
    [HELM.module, HELM.version, HELM.go],
    ...Object.values(KNATIVE_MODULES).map((m): [string, string, string] => [m.module, m.version, m.go]),
  ];
  it.each(pinned)('%s@%s: its go.mod says go %s', async (module, version, go) => {
    const { stdout } = await promisify(execFile)('go', ['mod', 'download', '-json', `${module}@${version}`], { env: { ...process.env, GOFLAGS: '-mod=mod' } });
    const mod = await readFile(GoMod.parse(JSON.parse(stdout)).GoMod, 'utf8');
    expect(/^go\s+(\S+)\s*$/m.exec(mod)?.[1]).toBe(go);
  });
});

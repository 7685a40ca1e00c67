import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureBinaries, goVersionProblem } from './cluster/binaries.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('the test-cluster harness', () => {
  it('leaves no etcd or kube-apiserver behind when the process that started them is killed', async () => {
    // node itself (not the tsx wrapper, which would be a second process) so SIGKILL hits the starter
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'cluster', 'interrupted-child.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    const [, dir = '', pidList = ''] = line.split(' ');
    const pids = pidList.split(',').map(Number);
    expect(pids).toHaveLength(2);
    expect(pids.every(alive)).toBe(true);
    child.kill('SIGKILL');
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (pids.some(alive) || existsSync(dir))) await new Promise((r) => setTimeout(r, 200));
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  }, 180_000);

  it('without binaries and without Go, says what to install or set instead of failing in the build (npm start, npm test)', async () => {
    // a PATH without go, and a cache without binaries: nothing may start building
    const dir = await mkdtemp(join(tmpdir(), 'mikrolb-no-go-'));
    try {
      const env = { PATH: join(dir, 'bin'), HOME: dir, MIKROLB_CACHE_DIR: join(dir, 'cache') };
      await expect(ensureBinaries(env)).rejects.toThrow(/^kube-apiserver, etcd and kubectl are not in \S+, and Go is not on PATH to build them \(once, 10–20 minutes\): install Go >= 1\.26\.0, or set KUBEBUILDER_ASSETS to a folder that holds the three \(README, Prerequisites\)$/);
      expect(existsSync(join(dir, 'cache'))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('with a Go older than tools/go.mod needs, says which Go to install or what to set instead of Go\'s own failure in the build', async () => {
    // an old Go first on PATH: `go version` works, the build (GOTOOLCHAIN=local) would refuse
    const dir = await mkdtemp(join(tmpdir(), 'mikrolb-old-go-'));
    try {
      await mkdir(join(dir, 'bin'));
      const go = join(dir, 'bin', 'go');
      await writeFile(go, '#!/bin/sh\nif [ "$1" = version ]; then echo "go version go1.24.4 linux/amd64"; exit 0; fi\necho "go: go.mod requires go >= 1.26.0 (running go 1.24.4; GOTOOLCHAIN=local)" >&2\nexit 1\n');
      await chmod(go, 0o755);
      const env = { PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}`, HOME: dir, MIKROLB_CACHE_DIR: join(dir, 'cache') };
      await expect(ensureBinaries(env)).rejects.toThrow(/^kube-apiserver, etcd and kubectl are not in \S+, and the Go on PATH \(go1\.24\.4\) is older than the 1\.26\.0 that builds them \(test\/cluster\/tools\/go\.mod; the build does not fetch a newer toolchain\): install Go >= 1\.26\.0, or set KUBEBUILDER_ASSETS to a folder that holds the three \(README, Prerequisites\)$/);
      expect(existsSync(join(dir, 'cache'))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['go version go1.24.4 linux/amd64', 'the Go on PATH (go1.24.4) is older than the 1.26.0 that builds them'],
    ['go version go1.25 darwin/arm64', 'the Go on PATH (go1.25) is older than the 1.26.0 that builds them'],
    ['go version go1.26.0 linux/amd64', undefined],
    ['go version go1.26.8 linux/amd64', undefined],
    ['go version go1.30.1 linux/amd64', undefined],
    ['go version go2.0.0 linux/amd64', undefined],
    // a development build: no release number to hold against the requirement
    ['go version devel +a1b2c3 Tue Jan 1 00:00:00 2026 +0000 linux/amd64', undefined],
  ])('`%s` against go 1.26.0: %s', (line, problem) => {
    expect(goVersionProblem(line, '1.26.0')).toBe(problem);
  });
});

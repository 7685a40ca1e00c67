/**
 * The `helm` binary for the chart's tests, built from its Go module through the Go module proxy
 * (the same `go` toolchain that builds the test cluster's binaries) at a pinned version, cached
 * once per machine under ~/.cache/mikrolb/helm-<version>/ (MIKROLB_CACHE_DIR or XDG_CACHE_HOME
 * move it, as for the cluster binaries); and rendering deploy/helm/mikrolb with it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { oldGoProblem } from '../cluster/binaries.js';
import { DEPLOY, parseDocs, type Rendered } from './render.js';

/**
 * The pinned release: the newest v3 the module proxy serves here that builds with Go 1.26 (checked
 * 2026-12); `go` is the go line of its go.mod, the oldest Go that builds it (test/deploy/go.test.ts
 * checks it).
 */
export const HELM = { module: 'helm.sh/helm/v3', version: 'v3.21.4', go: '1.26.0' } as const;

export const CHART = join(DEPLOY, 'helm', 'mikrolb');

const run = promisify(execFile);

export function helmPath(env: NodeJS.ProcessEnv = process.env): string {
  const root = env.MIKROLB_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'mikrolb');
  return join(root, `helm-${HELM.version}`, 'helm');
}

/**
 * The cached helm, or a fresh `go install` of it (about 3-4 minutes cold on two cores): built
 * into a temporary folder beside the cache and moved in whole, so a crash never leaves half a
 * binary where the next run would take it.
 */
export async function ensureHelm(env: NodeJS.ProcessEnv = process.env): Promise<{ path: string; built: boolean }> {
  const path = helmPath(env);
  if (existsSync(path)) return { path, built: false };
  const old = oldGoProblem(env, HELM.go, 'builds it', `${HELM.module}@${HELM.version}`);
  if (old !== undefined) throw new Error(`cannot build helm ${HELM.version}: ${old}`);
  const dir = join(path, '..');
  await mkdir(join(dir, '..'), { recursive: true });
  const tmp = await mkdtemp(`${dir}.building-`);
  const pkg = `${HELM.module}/cmd/helm@${HELM.version}`;
  try {
    await run('go', ['install', '-ldflags', `-X ${HELM.module}/internal/version.version=${HELM.version}`, pkg], {
      env: { ...env, GOBIN: tmp, GOTOOLCHAIN: 'local', GOFLAGS: '-buildvcs=false' },
      maxBuffer: 16 << 20,
    }).catch((err: unknown) => {
      const detail = err instanceof Error && 'stderr' in err ? String(err.stderr) : String(err);
      throw new Error(`could not build helm with \`go install ${pkg}\` (needs Go and the Go module proxy): ${detail}`);
    });
    await rename(tmp, dir).catch((err: unknown) => {
      if (!existsSync(path)) throw err; // another process won the race: take its binary
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { path, built: true };
}

/** What execFile rejects with when the program ran and exited non-zero. */
const ExecFailure = z.object({ code: z.number(), stdout: z.string(), stderr: z.string() });

export interface HelmResult { code: number; stdout: string; stderr: string }

/** Runs helm with the arguments; never throws on a non-zero exit (the caller checks `code`). */
export async function helm(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<HelmResult> {
  const { path } = await ensureHelm(env);
  return run(path, [...args], { env, maxBuffer: 16 << 20 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (err: unknown) => {
      const failed = ExecFailure.safeParse(err);
      if (!failed.success) throw err;
      return { code: failed.data.code, stdout: failed.data.stdout, stderr: failed.data.stderr };
    },
  );
}

/** `helm template` of the chart with `--set` pairs, parsed like a kustomize render. */
export async function helmTemplate(set: Readonly<Record<string, string>> = {}, extra: readonly string[] = []): Promise<Rendered> {
  const sets = Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
  const out = await helm(['template', 'mikrolb', CHART, ...sets, ...extra]);
  if (out.code !== 0) throw new Error(`helm template ${sets.join(' ')} failed: ${out.stderr}`);
  return { text: out.stdout, docs: parseDocs(out.stdout) };
}

/**
 * The independent RouterOS API client that cross-checks the simulator: librouteros, a pure-Python
 * client we did not write. The pinned release is fetched from PyPI into the project's cache (no
 * root, no pip needed: its package folder is put on the interpreter's path); where PyPI cannot be
 * reached, Debian's python3-librouteros (same release) is used if installed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** The release Debian bookworm ships as python3-librouteros (3.1.0-2), from PyPI. */
export const LIBROUTEROS = {
  version: '3.1.0',
  url: 'https://files.pythonhosted.org/packages/e3/9e/bffebcbeabb52c2b75efde6ecc1ea0ee2ea330ed25c63c62a42ecbe377a9/librouteros-3.1.0.tar.gz',
  sha256: '6d9b0ba0bdfa390443e2112fa33667a8596f37af69604611383cba21880791a5',
} as const;

export interface PythonClient {
  python: string;
  /** Prepended to PYTHONPATH; empty for the Debian package. */
  path: string;
  source: string;
}

const run = promisify(execFile);

export function pythonCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const root = env.MIKROLB_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'mikrolb');
  return join(root, 'pypi', `librouteros-${LIBROUTEROS.version}`);
}

/** The first python3 that exists: the one on PATH, then Debian's. */
async function findPython(): Promise<string | undefined> {
  for (const candidate of ['python3', '/usr/bin/python3']) {
    const ok = await run(candidate, ['-c', 'import sys; assert sys.version_info >= (3, 6)']).then(() => true, () => false);
    if (ok) return candidate;
  }
  return undefined;
}

async function imports(python: string, path: string): Promise<boolean> {
  const env = { ...process.env, PYTHONPATH: path };
  return run(python, ['-c', 'import librouteros'], { env }).then(() => true, () => false);
}

/** Downloads and unpacks the pinned sdist into `dir` (atomically: a partial folder never counts). */
async function fetchFromPyPI(dir: string): Promise<void> {
  const res = await fetch(LIBROUTEROS.url, { signal: AbortSignal.timeout(120_000) });
  if (!res.ok) throw new Error(`GET ${LIBROUTEROS.url}: HTTP ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  const digest = createHash('sha256').update(body).digest('hex');
  if (digest !== LIBROUTEROS.sha256) throw new Error(`librouteros ${LIBROUTEROS.version} from PyPI has sha256 ${digest}, expected ${LIBROUTEROS.sha256}`);
  const partial = `${dir}.partial.${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  try {
    const archive = join(partial, 'sdist.tar.gz');
    await writeFile(archive, body);
    await run('tar', ['-xzf', archive, '-C', partial, '--strip-components=1', `librouteros-${LIBROUTEROS.version}/librouteros`]);
    await rm(archive);
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
}

/** Finds (or fetches) librouteros and an interpreter that imports it; throws with what to do. */
export async function ensureLibrouteros(env: NodeJS.ProcessEnv = process.env): Promise<PythonClient> {
  const python = await findPython();
  if (!python) throw new Error('the RouterOS cross-check needs python3 (3.6 or newer) on PATH or at /usr/bin/python3');
  const dir = pythonCacheDir(env);
  let fetchError: unknown;
  if (!existsSync(join(dir, 'librouteros', '__init__.py'))) {
    await fetchFromPyPI(dir).catch((err: unknown) => {
      fetchError = err;
    });
  }
  if (await imports(python, dir)) return { python, path: dir, source: `PyPI librouteros ${LIBROUTEROS.version} (${dir})` };
  if (existsSync('/usr/bin/python3') && (await imports('/usr/bin/python3', ''))) {
    return { python: '/usr/bin/python3', path: '', source: "Debian's python3-librouteros" };
  }
  const why = fetchError instanceof Error ? fetchError.message : 'it did not import';
  throw new Error(
    `librouteros is not available: fetching ${LIBROUTEROS.url} failed (${why}) and Debian's python3-librouteros is not installed; ` +
      'allow access to files.pythonhosted.org, or install python3-librouteros',
  );
}

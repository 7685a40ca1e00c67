import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** The repository this test file lives in. */
export const REPO_ROOT = join(import.meta.dirname, '..', '..');

/**
 * The files a clean clone holds: tracked files plus new, not yet ignored ones (what the next
 * commit would add), as they are in the working tree. Files deleted from the tree are left out.
 */
export async function cloneFiles(root: string = REPO_ROOT): Promise<string[]> {
  const out = await new Promise<string>((res, rej) => {
    execFile('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, maxBuffer: 64 << 20 }, (err, stdout) =>
      err ? rej(err) : res(stdout));
  });
  const listed = [...new Set(out.split('\0').filter((p) => p !== ''))].sort();
  const present = await Promise.all(listed.map(async (p) => ((await stat(join(root, p)).catch(() => undefined))?.isFile() ? p : undefined)));
  return present.filter((p): p is string => p !== undefined);
}

/** Copies `files` (relative to `from`) into `to`, keeping modes. */
export async function copyFiles(from: string, files: readonly string[], to: string): Promise<void> {
  const dirs = new Set(files.map((f) => dirname(join(to, f))));
  for (const d of dirs) await mkdir(d, { recursive: true });
  // A few at a time: the machine is shared.
  for (let i = 0; i < files.length; i += 32) {
    await Promise.all(files.slice(i, i + 32).map((f) => copyFile(join(from, f), join(to, f))));
  }
}

/**
 * The environment of a fresh shell: the runner's PATH and HOME without what vitest or an
 * outer `npm test` sets (NODE_ENV=test, npm_config_*, NODE_OPTIONS, KUBECONFIG, ROUTEROS_*).
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^(npm_|VITEST|NODE_ENV$|NODE_OPTIONS$|KUBECONFIG$|ROUTEROS_)/i.test(k)) continue;
    env[k] = v;
  }
  // npm keeps using the runner's cache (offline-fast) even where HOME is overridden.
  env.npm_config_cache = process.env.npm_config_cache ?? join(homedir(), '.npm');
  return { ...env, ...extra };
}

export interface Ran { command: string; code: number; ms: number; output: string }

/** Runs a command to completion; rejects (with the output's tail) unless it exits 0. */
export function run(command: string, args: readonly string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Ran> {
  const shown = [command, ...args].join(' ');
  const t0 = Date.now();
  return new Promise((res, rej) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (c: Buffer): void => {
      output = (output + c.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ran: Ran = { command: shown, code: code ?? -1, ms: Date.now() - t0, output };
      if (code === 0) res(ran);
      else rej(new Error(`\`${shown}\` in ${opts.cwd} exited with ${code ?? signal}:\n${output.slice(-4000)}`));
    });
  });
}

/** "12.3 s" */
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

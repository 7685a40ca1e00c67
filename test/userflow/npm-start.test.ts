import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, cloneFiles, copyFiles, REPO_ROOT, run, seconds } from '../image/workspace.js';
import { eventually, leftovers, parseTable, startLocalStack, type LocalStack } from './stack.js';

// The README's quick start on a clean clone: its first command line, taken from the README,
// run in a copy of the repository's files; then the banner's own `kubectl create service`.

const log = (line: string): void => console.log(line);
let work: string | undefined;
let stack: LocalStack | undefined;
afterAll(async () => {
  await stack?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
}, 240_000);

/** `npm ci && npm start   # ...` from the README's quick start, split into its commands. */
async function quickStart(): Promise<string[][]> {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  const block = /## Quick start\n+```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const line = block.split('\n').find((l) => / npm start\b/.test(l)) ?? '';
  return line.replace(/#.*$/, '').split('&&').map((c) => c.trim().split(/\s+/)).filter((c) => c.length > 0 && c[0] !== '');
}

describe('the README quick start on a clean clone', () => {
  it('`npm ci && npm start` reaches ready, serves a classless LoadBalancer Service from the sample pool, and Ctrl-C cleans up', async () => {
    const commands = await quickStart();
    expect(commands).toEqual([['npm', 'ci'], ['npm', 'start']]);

    const t0 = Date.now();
    work = await mkdtemp(join(tmpdir(), 'mikrolb-clone-'));
    const files = await cloneFiles();
    await copyFiles(REPO_ROOT, files, work);
    log(`[npm-start] copied ${files.length} files of a clean clone in ${seconds(Date.now() - t0)}`);
    const ci = await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: work, env: cleanEnv(), timeoutMs: 600_000 });
    log(`[npm-start] npm ci took ${seconds(ci.ms)}`);

    const tStart = Date.now();
    stack = await startLocalStack('npm', ['start'], { cwd: work, env: cleanEnv(), readyTimeoutMs: 300_000 });
    log(`[npm-start] npm start was ready after ${seconds(Date.now() - tStart)}`);
    expect(stack.stdout()).toContain('Using the embedded local stack');
    expect(stack.banner.kubeconfig).toMatch(/mikrolb-cluster-[^/]+\/kubeconfig$/);
    const s = stack;

    // The banner's first suggestion, as printed.
    const tryLine = /^\s+\S+ (create service loadbalancer demo .*)$/m.exec(s.stdout())?.[1];
    expect(tryLine).toBe('create service loadbalancer demo --tcp=80:8080');
    const created = await s.kubectl((tryLine ?? '').split(' '));
    expect(created.code, created.stderr).toBe(0);
    const tSvc = Date.now();
    const ip = await eventually(async () => {
      const row = parseTable((await s.kubectl(['get', 'service', 'demo'])).stdout).rows[0];
      expect(row?.['EXTERNAL-IP']).toMatch(/^198\.51\.100\.1\d\d$/);
      return row?.['EXTERNAL-IP'] ?? '';
    }, 300_000);
    log(`[npm-start] Service demo got ${ip} after ${seconds(Date.now() - tSvc)}`);
    const allocations = parseTable((await s.kubectl(['get', 'ipallocations.mikrolb.de', '-l', 'mikrolb.de/service-name=demo'])).stdout).rows;
    expect(allocations.map((r) => [r.ADDRESS, r.STATUS, r.READY])).toEqual([[ip, 'Programmed', 'True']]);

    // Ctrl-C in a terminal signals the whole foreground process group (npm, sh, tsx, node, and
    // the cluster's processes). npm reports the interrupt by ending on SIGINT itself (exit 130 in a shell).
    const tStop = Date.now();
    const exit = await s.interrupt({ group: true, timeoutMs: 60_000 });
    log(`[npm-start] Ctrl-C: npm ended (${JSON.stringify(exit)}) after ${seconds(Date.now() - tStop)}`);
    expect(exit.code === 0 || exit.signal === 'SIGINT', JSON.stringify(exit)).toBe(true);
    await Promise.race([s.closed, new Promise((_, rej) => setTimeout(() => rej(new Error('mikrolb did not finish stopping within 60 s')), 60_000).unref())]);
    log(`[npm-start] Ctrl-C: mikrolb finished stopping after ${seconds(Date.now() - tStop)}`);
    expect(s.stderr()).toContain('Stopping the local stack');
    expect(s.stderr()).toContain('"msg":"Stopped bridge"');
    expect(await leftovers(s.clusterPids, s.clusterDir, 10_000)).toEqual({ pids: [], dir: false });
    stack = undefined;
    log(`[npm-start] everything took ${seconds(Date.now() - t0)}`);
  }, 1_200_000);

  it('`npm start` stopped by SIGTERM to npm alone (a process manager, `timeout`, an editor) stops everything it started', async () => {
    // npm relays the signal to the shell running the script and to nothing else: the script
    // execs node (with tsx as its loader), so the program itself receives it.
    const s = await startLocalStack('npm', ['start'], { cwd: REPO_ROOT, env: cleanEnv(), readyTimeoutMs: 300_000 });
    stack = s;
    const tStop = Date.now();
    const exit = await s.interrupt({ group: false, signal: 'SIGTERM', timeoutMs: 60_000 });
    log(`[npm-start] SIGTERM to npm: npm ended (${JSON.stringify(exit)}) after ${seconds(Date.now() - tStop)}`);
    // before `exec`, tsx and the program kept running (and held the pipes) with the whole stack
    await Promise.race([s.closed, new Promise((_, rej) => setTimeout(() => rej(new Error('mikrolb did not stop within 60 s of npm being stopped')), 60_000).unref())]);
    log(`[npm-start] SIGTERM to npm: mikrolb finished stopping after ${seconds(Date.now() - tStop)}`);
    expect(s.stderr()).toContain('Stopping the local stack');
    expect(await leftovers(s.clusterPids, s.clusterDir, 10_000)).toEqual({ pids: [], dir: false });
    stack = undefined;
  }, 600_000);
});

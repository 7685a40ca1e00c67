import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

// Drives `npm start` (test/local-stack/start.ts) as a user in a terminal would: reads the banner,
// talks to the printed cluster with the printed kubectl, and stops it with Ctrl-C.

export const READY_LINE = 'MikroLB local stack is ready. Press Ctrl-C to stop everything.';

export interface Banner {
  kubeconfig: string;
  routerosUrl: string;
  routerosUsername: string;
  routerosPassword: string;
  /** The kubectl the banner's "Try" lines use. */
  kubectlPath: string;
}

export interface Exited { code: number | null; signal: NodeJS.Signals | null }
export interface KubectlResult { stdout: string; stderr: string; code: number }

export interface LocalStack {
  banner: Banner;
  /** The cluster's temporary folder (holds the kubeconfig) and the pids in its `pids` file. */
  clusterDir: string;
  clusterPids: number[];
  stdout(): string;
  stderr(): string;
  kubectl(args: readonly string[], input?: string): Promise<KubectlResult>;
  /**
   * Ctrl-C: SIGINT to the process, or to its whole process group as a terminal does;
   * `repeatAfterMs`: the same SIGINT once more that much later (as a launcher relays it).
   * `signal` SIGTERM instead: a stop by a process manager, `timeout` or an editor's stop
   * button, which signal the process they started and nothing else.
   */
  interrupt(opts: { group: boolean; timeoutMs: number; repeatAfterMs?: number; signal?: 'SIGINT' | 'SIGTERM' }): Promise<Exited>;
  /**
   * Resolves when every process writing to our stdout/stderr pipes has ended (npm may exit
   * on Ctrl-C before the program it started has finished stopping).
   */
  closed: Promise<void>;
  /** For afterAll: stops whatever is left (process group SIGINT, then SIGKILL). */
  dispose(): Promise<void>;
}

function field(text: string, name: string): string {
  const m = new RegExp(`^${name}=(.+)$`, 'm').exec(text);
  if (!m?.[1]) throw new Error(`the banner has no ${name}= line:\n${text}`);
  return m[1].trim();
}

export function parseBanner(text: string): Banner {
  const kubectl = /^\s+(\S+) create service loadbalancer demo\b/m.exec(text);
  if (!kubectl?.[1]) throw new Error(`the banner names no kubectl:\n${text}`);
  return {
    kubeconfig: field(text, 'KUBECONFIG'), routerosUrl: field(text, 'ROUTEROS_URL'),
    routerosUsername: field(text, 'ROUTEROS_USERNAME'), routerosPassword: field(text, 'ROUTEROS_PASSWORD'),
    kubectlPath: kubectl[1],
  };
}

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts the command in its own process group and waits for the banner's ready line. */
export async function startLocalStack(command: string, args: readonly string[], opts: { cwd: string; env: NodeJS.ProcessEnv; readyTimeoutMs: number }): Promise<LocalStack> {
  const child: ChildProcess = spawn(command, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  let exit: Exited | undefined;
  const exited = new Promise<Exited>((r) => child.on('exit', (code, signal) => r((exit = { code, signal }))));
  const closed = new Promise<void>((r) => child.on('close', () => r()));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${command} did not start`);
  let isClosed = false;
  void closed.then(() => (isClosed = true));
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is gone
    }
  };
  const dispose = async (): Promise<void> => {
    if (isClosed) return;
    signalGroup('SIGINT');
    const timer = setTimeout(() => signalGroup('SIGKILL'), 30_000);
    await closed;
    clearTimeout(timer);
  };

  const deadline = Date.now() + opts.readyTimeoutMs;
  while (!out.includes(READY_LINE)) {
    if (exit !== undefined) {
      await dispose();
      throw new Error(`${command} ${args.join(' ')} exited (${JSON.stringify(exit)}) before it was ready:\n${out}\n${err.slice(-4000)}`);
    }
    if (Date.now() > deadline) {
      await dispose();
      throw new Error(`${command} ${args.join(' ')} was not ready within ${opts.readyTimeoutMs} ms:\n${out}\n${err.slice(-4000)}`);
    }
    await sleep(100);
  }
  const banner = parseBanner(out);
  const clusterDir = dirname(banner.kubeconfig);
  let clusterPids: number[] = [];
  for (let i = 0; i < 50 && clusterPids.length < 2; i++) {
    const text = await readFile(join(clusterDir, 'pids'), 'utf8').catch(() => '');
    clusterPids = text.split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 0);
    if (clusterPids.length < 2) await sleep(100);
  }

  return {
    banner, clusterDir, clusterPids, dispose, closed,
    stdout: () => out,
    stderr: () => err,
    kubectl: (kargs, input) =>
      new Promise((res) => {
        const k = execFile(banner.kubectlPath, [`--kubeconfig=${banner.kubeconfig}`, ...kargs], { maxBuffer: 64 << 20 }, (e, stdout, stderr) => {
          res({ stdout, stderr, code: e ? (typeof e.code === 'number' ? e.code : 1) : 0 });
        });
        if (input !== undefined) k.stdin?.end(input);
      }),
    interrupt: async ({ group, timeoutMs, repeatAfterMs, signal = 'SIGINT' }) => {
      process.kill(group ? -pid : pid, signal);
      if (repeatAfterMs !== undefined) {
        await sleep(repeatAfterMs);
        if (exit === undefined) process.kill(group ? -pid : pid, signal);
      }
      const timer = setTimeout(() => void dispose(), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Waits until every pid has exited and the folder is gone; returns what is left at the deadline. */
export async function leftovers(pids: readonly number[], dir: string, timeoutMs: number): Promise<{ pids: number[]; dir: boolean }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = { pids: pids.filter(alive), dir: (await stat(dir).catch(() => undefined)) !== undefined };
    if ((left.pids.length === 0 && !left.dir) || Date.now() > deadline) return left;
    await sleep(200);
  }
}

/** Polls until `check` stops throwing (its last error is rethrown at the deadline). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs: number, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(intervalMs);
    }
  }
}

/** kubectl's column output (and the docs' examples of it) as rows keyed by header. */
export function parseTable(text: string): { headers: string[]; rows: Record<string, string>[] } {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0];
  if (header === undefined) return { headers: [], rows: [] };
  const headers = header.trim().split(/\s{2,}/);
  const starts: number[] = [];
  let from = 0;
  for (const h of headers) {
    const at = header.indexOf(h, from);
    starts.push(at);
    from = at + h.length;
  }
  const rows = lines.slice(1).map((line) => Object.fromEntries(headers.map((h, i) => [h, line.slice(starts[i], starts[i + 1]).trim()])));
  return { headers, rows };
}

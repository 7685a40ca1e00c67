import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const MAIN = join(ROOT, 'bridge', 'main.ts');
const GUARD = join(HERE, 'orphan-guard.ts');

export type Env = Record<string, string>;

/** A `mikrolb <args>` process the chaos run starts, SIGKILLs and starts again on the same port. */
export interface MikrolbProcess {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  running(): boolean;
  /** Starts it (no-op while running) and waits until /healthz answers. */
  start(): Promise<void>;
  /** SIGKILL, at once, whatever it is doing. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after a grace period. */
  stop(): Promise<void>;
  readonly counts: { starts: number; kills: number; unexpectedExits: number };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitHealthy(url: string, timeoutMs: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited()) throw new Error(`${url} exited before it was healthy`);
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not healthy within ${timeoutMs} ms`);
    await sleep(100);
  }
}

export interface ProcessSpec {
  name: string;
  args: string[];
  port: number;
  env: Env;
  logFile: string;
  /** How long start() waits for /healthz. */
  startTimeoutMs?: number;
}

export function mikrolbProcess(spec: ProcessSpec): MikrolbProcess {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let expectingExit = false;
  const counts = { starts: 0, kills: 0, unexpectedExits: 0 };
  const url = `http://127.0.0.1:${spec.port}`;
  const running = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;

  const launch = (): ChildProcess => {
    const fd = openSync(spec.logFile, 'a');
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...spec.env };
    const c = spawn(process.execPath, ['--import', 'tsx', '--import', GUARD, MAIN, ...spec.args], { cwd: ROOT, env, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    expectingExit = false;
    exited = new Promise((r) => c.once('exit', () => {
      if (!expectingExit) counts.unexpectedExits++;
      r();
    }));
    return c;
  };

  const signal = async (sig: NodeJS.Signals, graceMs: number): Promise<void> => {
    const c = child;
    if (!c || !running()) return;
    expectingExit = true;
    c.kill(sig);
    const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };

  return {
    name: spec.name,
    port: spec.port,
    url,
    counts,
    running,
    start: async () => {
      if (running()) return;
      const c = launch();
      child = c;
      counts.starts++;
      // six processes compiling through tsx at once on a loaded two-core machine took over 60 s
      await waitHealthy(url, spec.startTimeoutMs ?? 180_000, () => c.exitCode !== null || c.signalCode !== null);
    },
    kill: async () => {
      if (!running()) return;
      counts.kills++;
      await signal('SIGKILL', 0);
    },
    stop: () => signal('SIGTERM', 5000),
  };
}

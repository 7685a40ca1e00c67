import { execFile, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * `BENCH_PERF_THREADS=<dir>`: where our controller's CPU goes by thread, from Linux `perf`
 * (a sample of every thread 499 times a second of CPU, with its stack): the main thread (its
 * own garbage collection apart), V8's worker threads compiling (TurboFan), the worker threads
 * collecting garbage, and anything else. Sampling counts CPU time, not time waiting for a core,
 * so the split holds on a saturated machine, where V8's own profiler counts a preempted write
 * as the write's time. Needs `perf` (and the right to attach to the process: root, or
 * kernel.perf_event_paranoid ≤ 1); without it the report says why.
 */

/** Samples per second of CPU (`perf record -F`). */
const FREQUENCY = 499;

export type ThreadPart = 'main' | 'main-gc' | 'compile' | 'gc' | 'other';

/** Frames that mark a worker thread's sample as compiling, or collecting garbage. */
const COMPILING = /compiler::|OptimizedCompilationJob|CompileTask|maglev::/;
const COLLECTING = /heap::|Heap::|Scavenge|MarkCompact|Sweep|Evacuat/;
/** The main thread's own collections (the rest of its samples are its work). */
const MAIN_COLLECTING = /Heap::CollectGarbage|ScavengerCollector|MarkCompactCollector/;

/**
 * Pure: the samples of `perf script -F tid,ip,sym` output (one block per sample: a line with the
 * thread id, then its stack, one frame a line), counted by part; `mainTid` is the process's pid.
 */
export function threadParts(script: string, mainTid: number): Record<ThreadPart, number> {
  const parts: Record<ThreadPart, number> = { main: 0, 'main-gc': 0, compile: 0, gc: 0, other: 0 };
  for (const block of script.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    const tid = Number(lines[0]?.trim().split(/\s+/)[0]);
    if (lines.length === 0 || !Number.isInteger(tid)) continue;
    const stack = lines.slice(1).join('\n');
    if (tid === mainTid) parts[MAIN_COLLECTING.test(stack) ? 'main-gc' : 'main']++;
    else parts[COMPILING.test(stack) ? 'compile' : COLLECTING.test(stack) ? 'gc' : 'other']++;
  }
  return parts;
}

/** CPU ms per Service by part, from sample counts. */
export function msPerService(parts: Record<ThreadPart, number>, services: number): Record<ThreadPart, number> {
  const out = { ...parts };
  for (const k of Object.keys(out) as ThreadPart[]) out[k] = (parts[k] / FREQUENCY / services) * 1000;
  return out;
}

const run = promisify(execFile);

/**
 * Starts sampling process `pid` into `<dir>/perf-<label>.data` when BENCH_PERF_THREADS names a
 * folder; `stop` ends the sampling and resolves with the parts' sample counts, or a sentence
 * saying why there are none. Resolves to undefined when not asked for.
 */
export async function startThreadProfile(pid: number, label: string): Promise<{ stop(): Promise<Record<ThreadPart, number> | string> } | undefined> {
  const dir = process.env.BENCH_PERF_THREADS;
  if (!dir) return undefined;
  await mkdir(dir, { recursive: true });
  const file = join(dir, `perf-${label}.data`);
  const recorder = spawn('perf', ['record', '-F', String(FREQUENCY), '-g', '-p', String(pid), '-o', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let perfLog = '';
  recorder.stderr.on('data', (c: Buffer) => (perfLog += c.toString('utf8')));
  const ended = new Promise<number>((resolve) => {
    recorder.on('error', (e) => {
      perfLog = e.message;
      resolve(-1);
    });
    recorder.on('close', (code) => resolve(code ?? -1));
  });
  return {
    stop: async () => {
      recorder.kill('SIGINT');
      const code = await ended;
      // perf ends on SIGINT with the signal's status once it has written the samples
      if (code !== 0 && !/Captured and wrote/.test(perfLog)) return `not taken (perf: ${perfLog.trim().split('\n').pop() ?? `exit ${code}`})`;
      try {
        const { stdout } = await run('perf', ['script', '-i', file, '-F', 'tid,ip,sym'], { maxBuffer: 1 << 30 });
        return threadParts(stdout, pid);
      } catch (e) {
        return `not taken (perf script: ${e instanceof Error ? e.message.split('\n')[0] ?? '' : String(e)})`;
      }
    },
  };
}

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * `--only convergence-split`: the API server's processes (kube-apiserver, etcd) on the first
 * half of the CPUs, the controller and the bench with its simulator on the rest, as in a
 * cluster where the controller runs on another node than the API server. On the 2-core machine:
 * CPU 0 and CPU 1.
 */
export interface CoreSplit {
  server: readonly number[];
  clients: readonly number[];
}

export function splitCpus(count: number): CoreSplit {
  if (!Number.isInteger(count) || count < 2) throw new Error(`splitting the cores needs at least 2 CPUs; this machine has ${count}`);
  const all = Array.from({ length: count }, (_, i) => i);
  const half = Math.floor(count / 2);
  return { server: all.slice(0, half), clients: all.slice(half) };
}

/** The CPUs a process may run on, as Linux lists them (`0-1`, `1`, `0,2-3`). */
export async function allowedCpus(pid: number): Promise<string> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
  if (!list) throw new Error(`/proc/${pid}/status names no Cpus_allowed_list`);
  return list;
}

/** The CPU numbers of a Linux CPU list (`0,2-3` → 0, 2, 3). */
export function cpuNumbers(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const bounds = part.split('-').map(Number);
    const from = bounds[0] ?? Number.NaN;
    const to = bounds[1] ?? from;
    if (bounds.length > 2 || !Number.isInteger(from) || !Number.isInteger(to) || to < from) throw new Error(`not a CPU list: "${list}"`);
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

/**
 * Lets every thread of `pid` run only on `cpus` (a list as allowedCpus answers it, or CPU
 * numbers), with util-linux's taskset, and checks that it took: taskset answers success for a
 * process that is gone.
 */
export async function pinProcess(pid: number, cpus: string | readonly number[]): Promise<void> {
  const list = typeof cpus === 'string' ? cpus : cpus.join(',');
  try {
    await run('taskset', ['--all-tasks', '--pid', '--cpu-list', list, String(pid)]);
    const now = cpuNumbers(await allowedCpus(pid)).join(',');
    if (now !== cpuNumbers(list).join(',')) throw new Error(`it may still run on CPUs ${now}`);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`could not pin process ${pid} to CPUs ${list} (taskset, from util-linux): ${why}`);
  }
}

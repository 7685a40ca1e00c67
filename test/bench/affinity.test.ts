import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { allowedCpus, cpuNumbers, pinProcess, splitCpus } from './affinity.js';

describe('splitting the cores between the API server and its clients', () => {
  it('gives the API server the first half of the CPUs and its clients the rest', () => {
    expect(splitCpus(2)).toEqual({ server: [0], clients: [1] });
    expect(splitCpus(5)).toEqual({ server: [0, 1], clients: [2, 3, 4] });
    expect(() => splitCpus(1)).toThrow(/at least 2 CPUs; this machine has 1/);
  });

  it('reads a CPU list as Linux writes it', () => {
    expect(cpuNumbers('1')).toEqual([1]);
    expect(cpuNumbers('0,2-4')).toEqual([0, 2, 3, 4]);
    expect(() => cpuNumbers('3-1')).toThrow(/not a CPU list: "3-1"/);
  });

  it('pins every thread of a running process, and lets it go again', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
    try {
      const pid = child.pid ?? 0;
      const before = await allowedCpus(pid);
      await pinProcess(pid, [0]);
      expect(await allowedCpus(pid)).toBe('0');
      // each of node's threads (its workers too), not only the main one
      for (const tid of await readdir(`/proc/${pid}/task`)) expect(await allowedCpus(Number(tid))).toBe('0');
      await pinProcess(pid, before);
      expect(await allowedCpus(pid)).toBe(before);
    } finally {
      child.kill();
      await once(child, 'exit');
    }
  });

  it('says which process it could not pin', async () => {
    // taskset itself answers success for a process that is gone
    await expect(pinProcess(2 ** 22 + 1, [0])).rejects.toThrow(/could not pin process 4194305 to CPUs 0 \(taskset, from util-linux\): .*no such file/i);
  });
});

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

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
});

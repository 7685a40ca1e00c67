/**
 * How package.json starts its TypeScript programs. A Ctrl-C reaches the whole foreground process
 * group; the `tsx` command's own wrapper process relays it to the program, waits 30 ms twice for
 * the program to confirm, and otherwise SIGKILLs it and exits 130. A program whose event loop is
 * busy at that moment (a local stack stopping on a loaded machine) was killed in the middle of its
 * stop, leaving its processes and files behind. Node's own `--import tsx` runs the program in
 * one process, which handles the signal when its loop is free again.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = 'test/repo/fixtures/busy-at-interrupt.ts';
const scripts = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }).scripts;
/** The scripts that run a TypeScript file of ours, and that file. */
const programs = Object.entries(scripts).flatMap(([name, command]) => {
  const file = /\btsx\s+(\S+\.ts)\b/.exec(command)?.[1];
  return file ? [{ name, command, file }] : [];
});

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
}

/** Runs `command` as npm does (`sh -c`), in its own process group; Ctrl-C to the group at `ready`. */
function interruptWhenReady(command: string): Promise<Ended> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    let sent = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!sent && stdout.includes('ready\n') && child.pid !== undefined) {
        sent = true;
        process.kill(-child.pid, 'SIGINT');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout }));
  });
}

describe('package.json runs its TypeScript programs', () => {
  it('finds the programs: the local stack, the dev cluster, the CLI, bench, chaos, the prepare step', () => {
    expect(programs.map((p) => p.name).sort()).toEqual(['bench', 'chaos', 'dev:cluster', 'mikrolb', 'pretest', 'start', 'test:node']);
  });

  it.each(programs)('$name: a program busy when Ctrl-C arrives still runs its stop and ends by itself', async ({ command, file }) => {
    const ended = await interruptWhenReady(command.replace(file, FIXTURE));
    expect(ended.stdout).toBe('ready\nstopped\n');
    expect({ code: ended.code, signal: ended.signal }).toEqual({ code: 0, signal: null });
  });
});

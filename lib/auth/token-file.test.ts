import { mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tokenFile } from './token-file.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mikrolb-token-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

describe('the projected token file', () => {
  it('reads the token, trimmed; a missing file is no token', async () => {
    const path = join(dir, 'token');
    const source = tokenFile(path);
    expect(await source()).toBeUndefined();
    await writeFile(path, 'first-token\n');
    expect(await source()).toBe('first-token');
  });

  it('sends the rotated token once the kubelet has swapped the file', async () => {
    const path = join(dir, 'token');
    await writeFile(path, 'first-token');
    const source = tokenFile(path);
    expect(await source()).toBe('first-token');
    // The kubelet writes the new token next to the old one and swaps it in.
    await writeFile(join(dir, 'next'), 'second-token');
    await utimes(join(dir, 'next'), new Date(), new Date(Date.now() + 5_000));
    await rename(join(dir, 'next'), path);
    expect(await source()).toBe('second-token');
  });

  it('reads the file again after maxAgeMs even when it looks unchanged', async () => {
    const path = join(dir, 'token');
    await writeFile(path, 'aaaa');
    const stamp = new Date('2026-01-01T00:00:00Z');
    await utimes(path, stamp, stamp);
    let clock = 0;
    const source = tokenFile(path, { now: () => clock, maxAgeMs: 60_000 });
    expect(await source()).toBe('aaaa');
    await writeFile(path, 'bbbb'); // same size, and the same mtime again: looks unchanged
    await utimes(path, stamp, stamp);
    expect(await source()).toBe('aaaa');
    clock += 60_000;
    expect(await source()).toBe('bbbb');
  });
});

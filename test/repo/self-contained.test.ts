/**
 * A clone is self-contained: no file of the project refers to a path outside the repository (a
 * user's clone has no sibling folders), only to the repository itself, caches it fills on its
 * own, and the system.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** This file, whose examples and comments spell the very paths it looks for. */
const SELF = relative(REPO, fileURLToPath(import.meta.url));

/** The files a clone has (tracked, plus new ones not ignored), text only. */
function repoFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: REPO, encoding: 'utf8' });
  return out.split('\0').filter((f) => f !== '' && f !== SELF && !/\.(png|jpg|gz|ico)$/.test(f));
}

/**
 * Names of places beside the repository on the machine it was written on (the workspace, its
 * reading material and the Knative copy there), spelled in parts so this file does not name them.
 */
const VENDOR = ['vendor', 'crds'].join('-');
const OUTSIDE_NAMES = new RegExp(`/work/[\\w.-]+|\\bshared/(?:notes|${VENDOR}|ARCHITECTURE)\\b|\\b${VENDOR}\\b`, 'g');
const UP = '..';

/** Relative paths written in a file (`../x`, `'..', 'x'` in a join) that leave the repository. */
export function escapingPaths(file: string, text: string): string[] {
  const found: string[] = [];
  const base = dirname(join(REPO, file));
  for (const m of text.matchAll(/(?<![\w./-])((?:\.\.\/)+)([\w.-]+)/g)) {
    const target = resolve(base, `${m[1] ?? ''}${m[2] ?? ''}`);
    const rel = relative(REPO, target);
    if (rel.startsWith('..') || isAbsolute(rel)) found.push(m[0]);
  }
  // join(REPO, '..', 'x') and the like: any path built to climb out of the repository root.
  for (const m of text.matchAll(/\b(?:REPO|repoRoot|ROOT)\b\s*,\s*'\.\.'/g)) found.push(m[0]);
  for (const m of text.matchAll(OUTSIDE_NAMES)) found.push(m[0]);
  return found;
}

describe('the repository is self-contained', () => {
  it('finds a path that climbs out of the repository (the check itself works)', () => {
    expect(escapingPaths('test/deploy/render.ts', `join(REPO, '${UP}', 'shared', '${VENDOR}', 'knative')`)).toEqual([`REPO, '${UP}'`, VENDOR]);
    expect(escapingPaths('test/x.ts', `readFile('${UP}/${UP}/${UP}/shared/notes/a.md')`)).toEqual([`${UP}/${UP}/${UP}/shared`, 'shared/notes']);
    expect(escapingPaths('docs/a.md', 'see [the README](../README.md) and ../lib/ip')).toEqual([]);
  });

  it('no file refers to anything outside it', () => {
    // A symbolic link (the Helm chart's files/crds) is checked by where it points.
    const textOf = (f: string): string => (lstatSync(join(REPO, f)).isSymbolicLink() ? readlinkSync(join(REPO, f)) : readFileSync(join(REPO, f), 'utf8'));
    const offenders = repoFiles().flatMap((f) => escapingPaths(f, textOf(f)).map((p) => `${f}: ${p}`));
    expect(offenders).toEqual([]);
  });
});

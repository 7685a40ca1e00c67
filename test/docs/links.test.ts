/**
 * Every link between the repository's Markdown files leads somewhere: a relative link names a
 * file or folder of the repository, and its `#anchor` one of the target's headings, as GitHub
 * spells them. A heading renamed without its links fails here, not on a reader's click.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The Markdown files a clone has (tracked, plus new ones not ignored). */
function markdownFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', '*.md'], { cwd: REPO, encoding: 'utf8' });
  return out.split('\0').filter((f) => f !== '' && existsSync(join(REPO, f)));
}

/** The lines outside fenced code blocks, with their numbers (code is not rendered as links). */
function proseLines(markdown: string): { text: string; line: number }[] {
  let fenced = false;
  return markdown.split('\n').flatMap((text, i) => {
    if (/^\s*(```|~~~)/.test(text)) {
      fenced = !fenced;
      return [];
    }
    return fenced ? [] : [{ text, line: i + 1 }];
  });
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes; repeats get -1, -2, … */
export function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const { text } of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text)?.[1];
    if (heading === undefined) continue;
    const plain = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = plain.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** The relative link targets of a Markdown text (not in code spans or blocks), by line. */
export function linksOf(markdown: string): { target: string; line: number }[] {
  return proseLines(markdown).flatMap(({ text, line }) =>
    [...text.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
      .map((m) => m[1] ?? '')
      .filter((target) => !/^[a-z][a-z+.-]*:/i.test(target))
      .map((target) => ({ target, line })));
}

/** What is wrong with the links of `file` (a repository path), read through `read`. */
export function brokenLinks(file: string, read: (path: string) => string | undefined): string[] {
  const text = read(file) ?? '';
  return linksOf(text).flatMap(({ target, line }) => {
    const [path = '', anchor] = target.split('#');
    const resolved = path === '' ? file : normalize(join(dirname(file), decodeURI(path)));
    const where = `${file}:${line}: ${target}`;
    const content = read(resolved);
    if (content === undefined) return [`${where}: no such file or folder`];
    if (anchor === undefined || !resolved.endsWith('.md')) return [];
    return anchorsOf(content).has(anchor) ? [] : [`${where}: no heading with this anchor`];
  });
}

const readRepo = (path: string): string | undefined => {
  const full = join(REPO, path);
  if (!existsSync(full)) return undefined;
  return full.endsWith('.md') ? readFileSync(full, 'utf8') : '';
};

describe('reading links (the check itself can fail)', () => {
  it('spells anchors as GitHub does', () => {
    const md = ['# Services and annotations', '### Shared addresses: `mikrolb.de/allow-shared-ip`', '## 3. Fix it: every reason', '## Functions (`mikrolb serve <allocate|program>`)', '## Notes', '## Notes', '```', '# not a heading', '```'].join('\n');
    expect([...anchorsOf(md)]).toEqual(['services-and-annotations', 'shared-addresses-mikrolbdeallow-shared-ip', '3-fix-it-every-reason', 'functions-mikrolb-serve-allocateprogram', 'notes', 'notes-1']);
  });

  it('flags a missing file and a missing anchor, not external links or links in code', () => {
    const files: Record<string, string> = {
      'docs/a.md': '[ok](b.md#there) [self](#here) [gone](c.md) [bad](b.md#nowhere) [web](https://x.org/#y) `[code](d.md)` [dir](../deploy/)\n## Here',
      'docs/b.md': '## There',
      'deploy/': '',
    };
    expect(brokenLinks('docs/a.md', (p) => files[p])).toEqual([
      'docs/a.md:1: c.md: no such file or folder',
      'docs/a.md:1: b.md#nowhere: no heading with this anchor',
    ]);
  });
});

describe('the repository\'s Markdown', () => {
  const files = markdownFiles();

  it('finds the docs and their links', () => {
    expect(files).toEqual(expect.arrayContaining(['README.md', 'docs/configuration.md', 'deploy/README.md']));
    expect(files.flatMap((f) => linksOf(readRepo(f) ?? '')).length).toBeGreaterThan(100);
  });

  it('links only to files that exist, and to headings they have', () => {
    expect(files.flatMap((f) => brokenLinks(f, readRepo))).toEqual([]);
  });
});

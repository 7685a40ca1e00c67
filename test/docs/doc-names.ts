/**
 * What the docs name: `mikrolb` commands and their flags, environment variables, and annotation
 * keys of MikroLB (`mikrolb.de/`) and MetalLB (`metallb.io/`, `metallb.universe.tf/`). Pure
 * text functions; docs.test.ts compares their results with the code's own definitions.
 *
 * Rules (kept precise so that a doc can name things that are not ours without exceptions):
 * - Cells of a Markdown table column whose header names another product ("upstream …",
 *   "MetalLB …") describe that product and are ignored.
 * - Commands and flags: in code (inline `spans` and fenced blocks), `mikrolb <command>` or
 *   `npm run mikrolb -- <command>`, where `mikrolb` starts a word and `<command>` is not followed
 *   by `=` (so `/user/group/set mikrolb policy=…` is not a command); its flags are the `-x` and
 *   `--name` words after it up to the end of the line, a `;`, `&&` or a ` #` comment.
 * - Environment variables: in code, SCREAMING_SNAKE_CASE words. A word with an underscore, or
 *   written `$NAME` or `NAME=…`, claims to be a variable; `NAME_*` claims a family of them.
 *   Other upper-case words (`GET`, `PORT(S)`) only count as mentions.
 * - Annotation keys: anywhere in the text, `mikrolb.de/…`, `metallb.io/…` or
 *   `metallb.universe.tf/…`; one ending in `/` or `*` names a family (a prefix).
 */

export interface CommandUse {
  command: string;
  flags: string[];
  where: string;
}

export interface NameUse {
  name: string;
  /** `name` is a prefix (`FUNCTION_URL_*`, `mikrolb.de/*`). */
  prefix: boolean;
  /** For environment variables: the doc presents it as one (see the rules above). */
  claimed: boolean;
  where: string;
}

export interface DocNames {
  commands: CommandUse[];
  env: NameUse[];
  keys: NameUse[];
}

const FOREIGN_COLUMN = /\bupstream\b|\bmetallb\b/i;
const SEPARATOR_ROW = /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/;

/** Splits a table row on unescaped pipes; the cells keep their text. */
function cellsOf(row: string): string[] {
  const inner = row.trim().replace(/^\|/, '').replace(/(?<!\\)\|$/, '');
  return inner.split(/(?<!\\)\|/);
}

/** The text without the cells of table columns that describe another product. */
export function withoutForeignColumns(markdown: string): string {
  const lines = markdown.split('\n');
  let foreign: Set<number> | undefined;
  return lines.map((line, i) => {
    const next = lines[i + 1] ?? '';
    if (line.trim().startsWith('|') && SEPARATOR_ROW.test(next) && !SEPARATOR_ROW.test(line)) {
      foreign = new Set(cellsOf(line).flatMap((cell, c) => (FOREIGN_COLUMN.test(cell) ? [c] : [])));
      return line;
    }
    if (!line.trim().startsWith('|')) {
      foreign = undefined;
      return line;
    }
    if (!foreign || foreign.size === 0) return line;
    const kept = foreign;
    return `|${cellsOf(line).map((cell, c) => (kept.has(c) ? ' ' : cell)).join('|')}|`;
  }).join('\n');
}

/** Code in the text: the lines of fenced blocks and the inline spans elsewhere, by line number. */
export function codeOf(markdown: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let fenced = false;
  markdown.split('\n').forEach((line, i) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return;
    }
    if (fenced) {
      out.push({ text: line, line: i + 1 });
      return;
    }
    for (const m of line.matchAll(/(`+)(.+?)\1/g)) out.push({ text: (m[2] ?? '').replace(/\\\|/g, '|'), line: i + 1 });
  });
  return out;
}

const COMMAND = /(?:^|[\s(])(?:npm run )?mikrolb(?: --)? ([a-z][a-z-]*)(?![\w=:.-])([^\n]*)/g;
const FLAG = /(?:^|[\s[(|])(--?[A-Za-z][\w-]*)/g;
const ENV_WORD = /(?<![\w$./-])(\$)?([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)(_\*)?(=)?(?![\w-])/g;
const API_VERSION = /\/v\d+(?:(?:alpha|beta)\d+)?$/;
const KEY = /(?<![\w.-])((?:mikrolb\.de|metallb\.io|metallb\.universe\.tf)\/[A-Za-z0-9._-]*)(\*)?/g;

export function docNames(file: string, markdown: string): DocNames {
  const text = withoutForeignColumns(markdown);
  const commands: CommandUse[] = [];
  const env: NameUse[] = [];
  for (const { text: code, line } of codeOf(text)) {
    const where = `${file}:${line}`;
    for (const m of code.matchAll(COMMAND)) {
      const rest = (m[2] ?? '').split(/;|&&|\s#/)[0] ?? '';
      commands.push({ command: m[1] ?? '', flags: [...rest.matchAll(FLAG)].map((f) => f[1] ?? ''), where });
    }
    for (const m of code.matchAll(ENV_WORD)) {
      const [, dollar, name = '', star, assign] = m;
      const prefix = star !== undefined;
      env.push({ name: prefix ? `${name}_` : name, prefix, claimed: prefix || name.includes('_') || dollar !== undefined || assign !== undefined, where });
    }
  }
  const keys: NameUse[] = [];
  text.split('\n').forEach((lineText, i) => {
    for (const m of lineText.matchAll(KEY)) {
      const name = (m[1] ?? '').replace(/[.]+$/, '');
      if (API_VERSION.test(name)) continue; // `metallb.io/v1beta1` is an API group and version, not a key
      const prefix = m[2] !== undefined || name.endsWith('/');
      keys.push({ name, prefix, claimed: true, where: `${file}:${i + 1}` });
    }
  });
  return { commands, env, keys };
}

/** Whether a doc's name (or family) matches one of the code's names. */
export function matches(use: NameUse, names: Iterable<string>): boolean {
  for (const n of names) if (use.prefix ? n.startsWith(use.name) : n === use.name) return true;
  return false;
}

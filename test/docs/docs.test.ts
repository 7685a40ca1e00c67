import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SUBCOMMANDS, usage } from '../../bridge/main.js';
import { bridgeConfigFromEnv } from '../../bridge/config.js';
import { classesFromEnv, routerFromEnv, type Env } from '../../lib/config.js';
import * as annotations from '../../lib/k8s/keys.js';
import { docNames, matches, type CommandUse, type NameUse } from './doc-names.js';
import { productSources, ROOT } from './sources.js';

/**
 * Keeps the docs (README.md, docs/*.md, and the READMEs of deploy/, deploy/webhook/, the
 * fixtures and the simulator, and the router layout) and the code naming the same things, both ways: every
 * `mikrolb` command and flag, environment variable and annotation key the docs name exists in
 * the code, and every one the code accepts is documented. What counts as "named in the docs"
 * is defined in doc-names.ts; the code's side comes from its own definitions:
 * - commands: the rows of `mikrolb help` (usage()); flags: each subcommand's parseArgs options;
 * - environment variables: what the configuration parsers read (observed on a recording
 *   environment) and the variables non-test code reads from an `env` object by name;
 * - annotations: the ANNOTATION_* keys exported by lib/k8s/keys.ts; other `mikrolb.de/` and
 *   `metallb…/` names (labels, finalizer, class, condition) must occur as string literals in the code.
 */

/** The docs users read, and the READMEs beside the code and manifests they are pointed to. */
const DOC_FILES = [
  'README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  'deploy/README.md', 'deploy/webhook/README.md', 'test/fixtures/README.md', 'lib/routeros/sim/README.md', 'lib/router/LAYOUT.md',
];
const docs = DOC_FILES.map((file) => docNames(file, readFileSync(join(ROOT, file), 'utf8')));
const docCommands: CommandUse[] = docs.flatMap((d) => d.commands);
const docEnv: NameUse[] = docs.flatMap((d) => d.env);
const docKeys: NameUse[] = docs.flatMap((d) => d.keys);

const SOURCES = productSources();
/** The test harness and its scripts (`npm run proof`, bench, chaos): their variables may be documented too. */
const TOOLING = readdirSync(join(ROOT, 'test'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts'))
  .map((f) => ({ path: `test/${f}`, text: readFileSync(join(ROOT, 'test', f), 'utf8') }));

// ---- code side ----------------------------------------------------------------------------------

const commands = usage().split('\n').filter((l) => /^ {2}\S/.test(l)).map((l) => l.trim().split(/\s/)[0] ?? '');

async function flagsOf(command: string): Promise<string[]> {
  const sub = Object.hasOwn(SUBCOMMANDS, command) ? SUBCOMMANDS[command] : undefined;
  const options = sub?.options ? await sub.options() : {};
  return Object.entries(options).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]);
}

/** Variables the configuration parsers read, seen through an environment that records lookups. */
function recordedVariables(): Set<string> {
  const seen = new Set<string>();
  const env: Env = new Proxy<Record<string, string | undefined>>({}, {
    get: (_, key) => {
      if (typeof key === 'string') seen.add(key);
      return undefined;
    },
  });
  bridgeConfigFromEnv(env, { functionUrls: 'optional' });
  classesFromEnv(env);
  routerFromEnv(env);
  return seen;
}

/** Variables read by name from an `env` object: `env.X`, `env['X']`, `{ X: x } = env`, `read(env, 'X'…)`, `…FromEnv(env, 'X'…)`. */
function scannedVariables(files: readonly { text: string }[] = SOURCES): Set<string> {
  const names = new Set<string>();
  for (const { text } of files) {
    for (const m of text.matchAll(/\benv(?:\?\.|\.)([A-Z][A-Z0-9_]*)\b/g)) names.add(m[1] ?? '');
    for (const m of text.matchAll(/\benv\[\s*'([A-Z][A-Z0-9_]*)'\s*\]/g)) names.add(m[1] ?? '');
    for (const m of text.matchAll(/\{([^{}]*)\}\s*=\s*(?:process\.)?env\b/g)) {
      for (const k of (m[1] ?? '').matchAll(/\b([A-Z][A-Z0-9_]*)\s*(?::|,|$)/g)) names.add(k[1] ?? '');
    }
    for (const m of text.matchAll(/\b(?:read|\w+FromEnv)\(\s*(?:env\s*,\s*)?'([A-Z][A-Z0-9_]*)'/g)) names.add(m[1] ?? '');
  }
  return names;
}

const recorded = recordedVariables();
const scanned = scannedVariables();
const variables = new Set([...recorded, ...scanned]);
/** What a doc may name: the product's variables and those the test tooling reads. */
const nameable = new Set([...variables, ...scannedVariables(TOOLING)]);

/** Annotation keys: every ANNOTATION_* string (or list of strings) of keys.ts shaped `prefix/name`. */
const ANNOTATION_KEY = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?\/[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const annotationKeys = Object.entries(annotations).filter(([name]) => name.startsWith('ANNOTATION_')).flatMap(([, v]): unknown[] => (Array.isArray(v) ? v : [v]))
  .filter((v): v is string => typeof v === 'string' && ANNOTATION_KEY.test(v));

/** Every `mikrolb.de/…` and `metallb…/…` string literal in the code. */
const literalKeys = new Set(SOURCES.flatMap(({ text }) => [...text.matchAll(/['"`]((?:mikrolb\.de|metallb\.io|metallb\.universe\.tf)\/[^'"`\s]*)['"`]/g)].map((m) => m[1] ?? '')));

const show = <T extends { where: string }>(uses: T[], what: (u: T) => string): string[] => uses.map((u) => `${u.where}: ${what(u)}`);

// ---- the checks ---------------------------------------------------------------------------------

describe('the docs name only what the code has', () => {
  it('finds what it checks (the extraction works on these docs)', () => {
    expect(docCommands.length).toBeGreaterThan(20);
    expect(docEnv.filter((e) => e.claimed).length).toBeGreaterThan(20);
    expect(docKeys.length).toBeGreaterThan(20);
    expect(commands).toContain('invoke');
    expect(commands).toContain('help');
    expect(annotationKeys.length).toBeGreaterThanOrEqual(5);
    // both ways of finding the variables the code reads find some (else "every variable is
    // documented" would hold of none)
    expect(recorded).toContain('ROUTEROS_URL');
    expect(recorded).toContain('FUNCTION_TIMEOUT');
    expect(scanned).toContain('MIKROLB_CLUSTER_NAME');
    expect(variables.size).toBeGreaterThan(20);
  });

  it('every mikrolb command in the docs exists', () => {
    const unknown = docCommands.filter((c) => !commands.includes(c.command));
    expect(show(unknown, (c) => `mikrolb ${c.command}`)).toEqual([]);
  });

  it('every flag in the docs is one its command accepts', async () => {
    const wrong: string[] = [];
    for (const use of docCommands) {
      const accepted = await flagsOf(use.command);
      for (const flag of use.flags) if (!accepted.includes(flag)) wrong.push(`${use.where}: mikrolb ${use.command} ${flag}`);
    }
    expect(wrong).toEqual([]);
  });

  it('every environment variable in the docs is read by the code', () => {
    const unknown = docEnv.filter((e) => e.claimed && !matches(e, nameable));
    expect(show(unknown, (e) => e.prefix ? `${e.name}*` : e.name)).toEqual([]);
  });

  it('every mikrolb.de/ and metallb annotation key in the docs is one the code knows', () => {
    const known = new Set([...annotationKeys, ...literalKeys]);
    const unknown = docKeys.filter((k) => !matches(k, known));
    expect(show(unknown, (k) => k.prefix ? `${k.name}*` : k.name)).toEqual([]);
  });
});

describe('the docs name everything the code accepts', () => {
  it('every command', () => {
    const named = new Set(docCommands.map((c) => c.command));
    expect(commands.filter((c) => !named.has(c))).toEqual([]);
  });

  it('every long flag of every command', async () => {
    const missing: string[] = [];
    for (const command of commands) {
      const named = new Set(docCommands.filter((c) => c.command === command).flatMap((c) => c.flags));
      for (const flag of await flagsOf(command)) if (flag.startsWith('--') && !named.has(flag)) missing.push(`mikrolb ${command} ${flag}`);
    }
    expect(missing).toEqual([]);
  });

  it('every environment variable', () => {
    const named = new Set(docEnv.filter((e) => !e.prefix).map((e) => e.name));
    expect([...variables].filter((v) => !named.has(v)).sort()).toEqual([]);
  });

  it('every annotation key', () => {
    const named = new Set(docKeys.filter((k) => !k.prefix).map((k) => k.name));
    expect(annotationKeys.filter((k) => !named.has(k))).toEqual([]);
  });
});

describe('the code-side lists are complete', () => {
  it('the source scan finds every variable the parsers read by a literal name', () => {
    const literal = [...recorded].filter((name) => SOURCES.some(({ text }) => text.includes(`'${name}'`)));
    expect(literal.filter((name) => !scanned.has(name))).toEqual([]);
  });

  it('the usage text names only flags its command accepts', async () => {
    const wrong: string[] = [];
    for (const [name, sub] of Object.entries(SUBCOMMANDS)) {
      const accepted = await flagsOf(name);
      for (const m of sub.usage.matchAll(/(?:^|[\s[])(--?[A-Za-z][\w-]*)/g)) if (!accepted.includes(m[1] ?? '')) wrong.push(`${name}: ${m[1]}`);
    }
    expect(wrong).toEqual([]);
  });
});

/**
 * Imports of product code flow one way: functions → lib/core → lib/router → (port) ← lib/routeros.
 * The router model (entries, state, ops, port, errors) lives in lib/router and knows nothing of
 * the wire client that implements it; the pure core knows no wire client and no HTTP. No product
 * code imports test support (test/).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Product source: TypeScript outside tests and test support. */
function productFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', '*.ts'], { cwd: REPO, encoding: 'utf8' });
  return out.split('\0').filter((f) => f !== '' && !f.startsWith('test/') && !/\.test\.ts$|test-support\.ts$/.test(f));
}

/** The repository paths a file imports by relative specifier. */
export function importsOf(file: string, text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    found.push(relative(REPO, normalize(join(REPO, dirname(file), m[1] ?? ''))));
  }
  return found;
}

/** Product code never imports test support (fakes, the tracer, the cluster launcher live under test/). */
const TEST_ONLY = 'test/';

/** Folder → folders its product code must never import. */
const FORBIDDEN: Record<string, readonly string[]> = {
  'lib/router/': ['lib/routeros/', 'lib/core/', 'lib/k8s/', 'lib/http/', 'functions/', 'bridge/'],
  'lib/core/': ['lib/routeros/', 'lib/http/', 'functions/', 'bridge/'],
  'lib/routeros/': ['lib/core/', 'lib/k8s/', 'functions/', 'bridge/'],
  'lib/ip/': ['lib/router/', 'lib/routeros/', 'lib/core/', 'lib/k8s/', 'functions/', 'bridge/'],
  'functions/': ['lib/routeros/', 'bridge/'],
};

/** Functions are built from the registry only, and only the entry points use it (and the constants they need before loading it). */
const REGISTRY: readonly string[] = ['functions/registry.js', 'functions/settings.js'];
const ENTRY_POINTS: readonly string[] = ['bridge/main.ts', 'bridge/all-in-one.ts'];

function violations(files: readonly { file: string; text: string }[]): string[] {
  const found: string[] = [];
  for (const { file, text } of files) {
    const rules = [...(Object.entries(FORBIDDEN).find(([folder]) => file.startsWith(folder))?.[1] ?? []), TEST_ONLY];
    for (const target of importsOf(file, text)) {
      const bad = rules.find((folder) => target.startsWith(folder));
      const intoFunctions = !file.startsWith('functions/') && target.startsWith('functions/');
      if (bad !== undefined || (intoFunctions && (!REGISTRY.includes(target) || !ENTRY_POINTS.includes(file)))) found.push(`${file} imports ${target}`);
    }
  }
  return found;
}

describe('import direction of product code', () => {
  it('finds a backwards import (the check itself can fail)', () => {
    expect(violations([{ file: 'lib/router/planner.ts', text: "import type { X } from '../routeros/client/errors.js';" }]))
      .toEqual(['lib/router/planner.ts imports lib/routeros/client/errors.js']);
    expect(violations([{ file: 'lib/core/a.ts', text: "const m = await import('../http/serve.js');" }])).toEqual(['lib/core/a.ts imports lib/http/serve.js']);
    expect(violations([{ file: 'lib/routeros/client/a.ts', text: "import { RouterError } from '../../router/errors.js';" }])).toEqual([]);
    expect(violations([{ file: 'bridge/main.ts', text: "const m = await import('../test/local-stack/start.js');" }])).toEqual(['bridge/main.ts imports test/local-stack/start.js']);
    expect(violations([
      { file: 'bridge/main.ts', text: "import { FUNCTIONS } from '../functions/registry.js';\nimport { createProgram } from '../functions/program/handler.js';" },
      { file: 'bridge/bridge.ts', text: "import { FUNCTIONS } from '../functions/registry.js';" },
    ])).toEqual(['bridge/main.ts imports functions/program/handler.js', 'bridge/bridge.ts imports functions/registry.js']);
  });

  it('holds for every product file', () => {
    const files = productFiles().map((file) => ({ file, text: readFileSync(join(REPO, file), 'utf8') }));
    expect(files.length).toBeGreaterThan(100);
    expect(violations(files)).toEqual([]);
  });
});

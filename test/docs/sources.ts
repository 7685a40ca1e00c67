import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root directory. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Non-test TypeScript under `dirs` (by default the product: what ships), path (from the root) and text. */
export function productSources(dirs: readonly string[] = ['bridge', 'lib', 'functions']): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('test-support.ts')) {
        out.push({ path: relative(ROOT, path), text: readFileSync(path, 'utf8') });
      }
    }
  };
  for (const dir of dirs) walk(join(ROOT, dir));
  return out;
}

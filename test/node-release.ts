/**
 * A Node.js release other than this machine's: the image's (the Dockerfile's base), for the bench
 * scenarios that measure a process as the image runs it, or any release the tests should pass on
 * (`npm run test:node`). The npm registry publishes each release's official binary as
 * `node-<platform>-<arch>`; it is fetched once into a cache (npm checks the tarball's integrity)
 * and checked with `node --version`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
// not under mikrolb-bench/, which the convergence scenario clears
const CACHE = join(import.meta.dirname, '..', 'node_modules', '.cache', 'mikrolb-node');

export type NodeRelease = { path: string; version: string } | { missing: string; version: string };

/** That release's binary, or why it is not at hand (the registry unreachable, no build for this platform). */
export async function nodeRelease(version: string, log: (line: string) => void): Promise<NodeRelease> {
  const pkg = `node-${process.platform}-${process.arch}`;
  const dir = join(CACHE, `${pkg}-${version}`);
  const bin = join(dir, 'bin', 'node');
  try {
    if (!existsSync(bin)) {
      log(`fetching Node.js ${version} (${pkg} from the npm registry) into ${CACHE}`);
      const work = `${dir}.partial`;
      await rm(work, { recursive: true, force: true });
      await mkdir(work, { recursive: true });
      await run('npm', ['pack', `${pkg}@${version}`, '--pack-destination', work, '--silent'], { timeout: 300_000 });
      const tarball = (await readdir(work)).find((f) => f.endsWith('.tgz'));
      if (!tarball) throw new Error('npm pack left no tarball');
      await run('tar', ['xzf', join(work, tarball), '-C', work]);
      await rm(dir, { recursive: true, force: true });
      await rename(join(work, 'package'), dir);
      await rm(work, { recursive: true, force: true });
    }
    const { stdout } = await run(bin, ['--version']);
    if (stdout.trim() !== `v${version}`) throw new Error(`${bin} is ${stdout.trim()}, not v${version}`);
    return { path: bin, version };
  } catch (e) {
    return { missing: e instanceof Error ? e.message.split('\n')[0] ?? e.message : String(e), version };
  }
}

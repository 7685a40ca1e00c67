/**
 * `npm run test:node -- <version> [vitest arguments]`: runs `npm test` on another Node.js release
 * (fetched once from the npm registry, see node-release.ts), so a change can be checked on the
 * releases the code keeps to (22 and 24) from a machine that has only one. Every process the
 * tests start (the prepare step, vitest, the functions and bridges they spawn) finds that
 * release first on PATH. Exits with the tests' own code.
 */
import { spawn } from 'node:child_process';
import { delimiter, dirname } from 'node:path';
import { nodeRelease } from './node-release.js';

const USAGE = 'usage: npm run test:node -- <version, e.g. 24.22.3> [vitest arguments, e.g. --project unit]';

const [version, ...rest] = process.argv.slice(2);
if (!version || !/^\d+\.\d+\.\d+$/.test(version)) {
  console.error(USAGE);
  process.exit(2);
}

const release = await nodeRelease(version, (line) => console.error(`[test:node] ${line}`));
if ('missing' in release) {
  console.error(`[test:node] Node.js ${version} is not at hand: ${release.missing}`);
  process.exit(1);
}

const env = { ...process.env, PATH: `${dirname(release.path)}${delimiter}${process.env.PATH ?? ''}` };
const run = (args: readonly string[]): Promise<number> => new Promise((resolve) => {
  spawn('npm', args, { stdio: 'inherit', env }).on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
});

// vitest's arguments pick a part of the suite: the prepare step and that part, without the
// Knative pass that npm runs after a whole `npm test` (posttest)
console.error(`[test:node] ${rest.length ? `vitest run ${rest.join(' ')}` : 'npm test'} on Node.js v${version} (${release.path})`);
const code = rest.length ? (await run(['run', 'pretest'])) || (await run(['exec', '--', 'vitest', 'run', ...rest])) : await run(['test']);
process.exit(code);

// npm run chaos -- --seed N --duration 180s [--services 30] [--rate 1.5] [--settle 180s] [--log-dir DIR]
// Prints the seed first and a summary last; exits 0 iff no invariant was violated.
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { parseDuration } from '../../bridge/config.js';
import { runChaos, type ChaosOptions } from './chaos.js';
import { formatReport } from './report.js';
import { messageOf } from '../../lib/errors.js';

const USAGE = 'usage: npm run chaos -- [--seed N] [--duration 180s] [--services 30] [--rate 1.5] [--settle 180s] [--log-dir DIR]';

function options(argv: string[]): ChaosOptions | string {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string' }, duration: { type: 'string', default: '180s' }, services: { type: 'string', default: '30' },
      rate: { type: 'string', default: '1.5' }, settle: { type: 'string', default: '180s' }, 'log-dir': { type: 'string' },
    },
  });
  const seed = values.seed === undefined ? randomInt(1, 2 ** 31) : Number(values.seed);
  const durationMs = parseDuration(values.duration);
  const settleMs = parseDuration(values.settle);
  const services = Number(values.services);
  const rate = Number(values.rate);
  if (!Number.isInteger(seed) || seed < 0) return `--seed must be a whole number, got "${values.seed ?? ''}"`;
  if (durationMs === undefined) return `--duration must be a duration such as 90s or 3m, got "${values.duration}"`;
  if (settleMs === undefined) return `--settle must be a duration such as 90s or 3m, got "${values.settle}"`;
  if (!Number.isInteger(services) || services < 1 || services > 200) return `--services must be 1-200, got "${values.services}"`;
  if (!(rate > 0 && rate <= 50)) return `--rate must be a number of steps per second (0-50], got "${values.rate}"`;
  const logDir = values['log-dir'];
  return { seed, durationMs, settleMs, services, rate, ...(logDir ? { logDir } : {}), progress: (line) => process.stdout.write(`[chaos] ${line}\n`) };
}

async function main(): Promise<number> {
  let opts: ChaosOptions | string;
  try {
    opts = options(process.argv.slice(2));
  } catch (e) {
    opts = messageOf(e);
  }
  if (typeof opts === 'string') {
    process.stderr.write(`${opts}\n${USAGE}\n`);
    return 2;
  }
  process.stdout.write(`[chaos] seed ${opts.seed} (re-run: npm run chaos -- --seed ${opts.seed} --duration ${opts.durationMs / 1000}s --services ${opts.services} --rate ${opts.rate})\n`);
  // Bounded in time whatever hangs: the children's guards stop them when this process exits.
  const hardMs = opts.durationMs + opts.settleMs + 5 * 60_000;
  const deadline = setTimeout(() => {
    process.stdout.write(`[chaos] RESULT: FAIL (seed ${typeof opts === 'string' ? '' : opts.seed}: the run exceeded its hard deadline of ${hardMs / 1000} s)\n`);
    process.exit(3);
  }, hardMs);
  deadline.unref();
  const report = await runChaos(opts);
  process.stdout.write(`${formatReport(report)}\n`);
  return report.violations.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`[chaos] the run failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);

import { parseArgs } from 'node:util';
import { messageOf } from '../../lib/errors.js';

/** Every scenario, in the order the bench runs them. */
export const SCENARIOS = [
  'convergence', 'convergence-split', 'teardown', 'rollout', 'restart', 'idle', 'coldstart', 'bridge',
  'pools', 'choose-scale', 'pool-scale', 'router', 'routes',
] as const;

/** Scenarios that run only when `--only` names them. */
export const ON_REQUEST: ReadonlySet<string> = new Set(['convergence-split']);

export interface BenchOptions {
  json: boolean;
  /** Services of the convergence, teardown, rollout, restart and router scenarios. */
  services: number;
  bridgeServices: number;
  poolAllocations: number;
  rounds: number;
  /** The scenarios `--only` names (undefined: all but ON_REQUEST). */
  only: readonly string[] | undefined;
}

export const BENCH_USAGE = `usage: npm run bench -- [--json] [--services N] [--rounds N] [--bridge-services N]
                        [--pool-allocations N] [--only a,b]

  --json                 all figures and the target checks on stdout (the report on stderr)
  --services N           Services of convergence, teardown, rollout, restart, router (1000)
  --rounds N             how many times convergence measures both controllers (3)
  --bridge-services N    Services and slices the bridge scenario tracks (10000)
  --pool-allocations N   allocations of the pool-scale scenario (50000)
  --only a,b             run only these scenarios: ${SCENARIOS.join(', ')}
                         (convergence-split runs only when named here)

Figures, not pass or fail: the exit code does not depend on them (docs/performance.md).
`;

class UsageError extends Error {}

const whole = (name: string, text: string | undefined, fallback: number): number => {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number ≥ 1, not "${text}"`);
  return n;
};

/**
 * The bench's command line: its options, `help` for `--help`/`-h`, or what is wrong with it
 * (an unknown option or scenario, a count that is not a whole number ≥ 1).
 */
export function benchOptions(argv: readonly string[]): BenchOptions | { help: true } | { error: string } {
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' }, services: { type: 'string' }, 'bridge-services': { type: 'string' },
        'pool-allocations': { type: 'string' }, rounds: { type: 'string' }, only: { type: 'string' },
      },
    });
    if (values.help) return { help: true };
    const only = values.only?.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const unknown = only?.filter((s) => !SCENARIOS.some((known) => known === s)) ?? [];
    if (unknown.length > 0) throw new UsageError(`--only names no scenario "${unknown.join('", "')}"; the scenarios: ${SCENARIOS.join(', ')}`);
    if (only?.length === 0) throw new UsageError('--only names no scenario');
    return {
      json: values.json === true,
      services: whole('services', values.services, 1000),
      bridgeServices: whole('bridge-services', values['bridge-services'], 10_000),
      poolAllocations: whole('pool-allocations', values['pool-allocations'], 50_000),
      rounds: whole('rounds', values.rounds, 3),
      only,
    };
  } catch (e) {
    // parseArgs's own (an unknown option, a missing value) or ours
    return { error: messageOf(e) };
  }
}

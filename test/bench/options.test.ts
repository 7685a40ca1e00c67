import { describe, expect, it } from 'vitest';
import { benchOptions } from './options.js';

describe('the bench\'s command line', () => {
  it('has the documented defaults', () => {
    expect(benchOptions([])).toEqual({ json: false, services: 1000, bridgeServices: 10_000, poolAllocations: 50_000, rounds: 3, only: undefined });
  });

  it('reads every option', () => {
    expect(benchOptions(['--json', '--services', '200', '--rounds', '1', '--bridge-services', '500', '--pool-allocations', '2000', '--only', 'convergence, idle']))
      .toEqual({ json: true, services: 200, bridgeServices: 500, poolAllocations: 2000, rounds: 1, only: ['convergence', 'idle'] });
  });

  it('answers --help and -h with the usage, not a stack trace', () => {
    expect(benchOptions(['--help'])).toEqual({ help: true });
    expect(benchOptions(['-h'])).toEqual({ help: true });
  });

  it.each([
    [['--services', 'abc'], '--services must be a whole number ≥ 1, not "abc"'],
    [['--rounds', '0'], '--rounds must be a whole number ≥ 1, not "0"'],
    [['--pool-allocations', '1.5'], '--pool-allocations must be a whole number ≥ 1, not "1.5"'],
    [['--bridge-services', '0x10'], '--bridge-services must be a whole number ≥ 1, not "0x10"'],
    [['--only', 'convergance'], '--only names no scenario "convergance"; the scenarios: convergence, convergence-split, teardown, rollout, restart, idle, coldstart, bridge, pools, choose-scale, pool-scale, router, routes'],
    [['--only', ','], '--only names no scenario'],
  ])('refuses %j', (argv, error) => {
    expect(benchOptions(argv)).toEqual({ error });
  });

  it('refuses an unknown option with parseArgs\' words', () => {
    expect(benchOptions(['--service', '10'])).toEqual({ error: expect.stringContaining("Unknown option '--service'") });
  });
});

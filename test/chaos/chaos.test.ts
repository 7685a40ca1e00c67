import { describe, expect, it } from 'vitest';
import { runChaos } from './chaos.js';
import { formatReport } from './report.js';

// The short form of `npm run chaos` for CI: one fixed seed (the same storm script on every run,
// so a failure in `npm test` is about the change, not the dice), a 90-second storm, at most 5
// minutes to settle. CHAOS_SEED=N runs another seed; `npm run chaos` tries a new one each time.
const FIXED_SEED = 1292251970;
const seed = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : FIXED_SEED;
const say = (line: string): void => void process.stdout.write(`[chaos] ${line}\n`);

describe('the chaos suite, short form', () => {
  it(`keeps every invariant through kills, outages, router faults and rogue events (seed ${seed})`, async () => {
    say(`seed ${seed} (re-run: CHAOS_SEED=${seed} npx vitest run test/chaos/chaos.test.ts, or npm run chaos -- --seed ${seed} --duration 90s --services 15)`);
    const report = await runChaos({ seed, durationMs: 90_000, services: 15, rate: 1.5, settleMs: 300_000, progress: say });
    say(formatReport(report));
    expect(report.violations.map((v) => `[${v.invariant}] ${v.detail}`)).toEqual([]);
  }, 600_000);
});

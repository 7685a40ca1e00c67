import { describe, expect, it } from 'vitest';
import { answerLost, crashSweeper } from './sweep.js';
import { fakeClock } from './test-support.js';

describe('the collection after program got no answer', () => {
  it('runs shortly after a loss, then at most once per interval, the last loss within one covered at its end', async () => {
    const clock = fakeClock();
    const start = clock.now();
    const swept: number[] = [];
    const sweeper = crashSweeper({ clock, intervalMs: 30_000, delayMs: 2_000, sweep: () => swept.push(clock.now() - start) });
    sweeper.lost();
    await clock.advance(1_999);
    expect(swept).toEqual([]); // what the dead process sent may still be on its way to the router
    await clock.advance(1);
    expect(swept).toEqual([2_000]);
    await clock.advance(3_000);
    sweeper.lost();
    sweeper.lost();
    await clock.advance(1_000);
    sweeper.lost();
    expect(swept).toEqual([2_000]);
    await clock.advance(26_000);
    expect(swept).toEqual([2_000, 32_000]);
    await clock.advance(60_000);
    expect(swept).toEqual([2_000, 32_000]); // nothing lost since: nothing to collect
    sweeper.lost();
    await clock.advance(2_000);
    expect(swept).toEqual([2_000, 32_000, 94_000]);
  });

  it('does nothing once stopped, and drops the one it had scheduled', async () => {
    const clock = fakeClock();
    let swept = 0;
    const sweeper = crashSweeper({ clock, intervalMs: 30_000, delayMs: 2_000, sweep: () => void swept++ });
    sweeper.lost();
    await clock.advance(2_000);
    sweeper.lost();
    sweeper.stop();
    sweeper.lost();
    await clock.advance(120_000);
    expect(swept).toBe(1);
    expect(clock.timers()).toBe(0);
  });

  it.each([
    ['no answer', undefined, true],
    ['a gateway\'s 502 (the container died under Knative\'s queue-proxy)', { status: 502 }, true],
    ['503: the function said the router or the API server is down', { status: 503 }, false],
    ['500: the function failed and said so', { status: 500 }, false],
    ['200', { status: 200 }, false],
  ])('%s: lost is %s', (_, result, lost) => {
    expect(answerLost(result)).toBe(lost);
  });
});

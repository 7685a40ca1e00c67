import { describe, expect, it } from 'vitest';
import { shareRuns } from './share-runs.js';

/** A run that waits until the test lets it finish, recording when it started. */
function gatedRuns() {
  const started: string[] = [];
  const gates: (() => void)[] = [];
  const run = (key: string): Promise<string> => {
    started.push(key);
    const n = started.length;
    return new Promise<string>((resolve) => gates.push(() => resolve(`${key} run ${n}`)));
  };
  const open = async (): Promise<void> => {
    await new Promise((r) => setTimeout(r, 0));
    gates.shift()?.();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { started, run, open };
}

describe('runs shared per key', () => {
  it('runs a burst of calls for one key twice: the run in flight, and one after it for all who came meanwhile', async () => {
    const g = gatedRuns();
    const shared = shareRuns(g.run);
    const first = shared('lan');
    const burst = Array.from({ length: 9 }, () => shared('lan'));
    await g.open(); // the first run ends; the shared one starts only now
    expect(await first).toBe('lan run 1');
    expect(g.started).toEqual(['lan', 'lan']);
    await g.open();
    expect(await Promise.all(burst)).toEqual(Array.from({ length: 9 }, () => 'lan run 2'));
    // nothing in flight: the next call starts its own run
    const later = shared('lan');
    await g.open();
    expect(await later).toBe('lan run 3');
  });

  it('keeps keys apart', async () => {
    const g = gatedRuns();
    const shared = shareRuns(g.run);
    const calls = [shared('lan'), shared('dmz')];
    expect(g.started).toEqual([]); // runs start in a later microtask, never inside the call
    await new Promise((r) => setTimeout(r, 0));
    expect(g.started).toEqual(['lan', 'dmz']);
    await g.open();
    await g.open();
    expect(await Promise.all(calls)).toEqual(['lan run 1', 'dmz run 2']);
  });

  it('gives a run\'s error to its callers only, and runs again for the next', async () => {
    let n = 0;
    const shared = shareRuns(async (key: string) => {
      n++;
      if (n === 1) throw new Error(`${key} failed`);
      return `${key} ok ${n}`;
    });
    const [a, b] = [shared('lan'), shared('lan')];
    await expect(a).rejects.toThrow('lan failed');
    expect(await b).toBe('lan ok 2');
    expect(await shared('lan')).toBe('lan ok 3');
  });

  it('lets a call that any run will do share the run in flight', async () => {
    const g = gatedRuns();
    const shared = shareRuns(g.run);
    const first = shared('lan');
    const joined = shared('lan', true);
    await g.open();
    expect(await Promise.all([first, joined])).toEqual(['lan run 1', 'lan run 1']);
    expect(g.started).toEqual(['lan']);
  });
});

import { describe, expect, it } from 'vitest';
import { RetryLaterError, retryOnConflict } from './conflict.js';
import { KubeError } from './errors.js';

const conflict = (): KubeError => new KubeError('the object has been modified', 409, 'Conflict');
const exists = (): KubeError => new KubeError('already exists', 409, 'AlreadyExists');
const noPause = { attempts: 3, pause: (): Promise<void> => Promise.resolve() };

/** Runs retryOnConflict over a script of attempt outcomes; returns what it gave and what ran. */
async function run(script: readonly (KubeError | Error | 'ok')[]): Promise<{ result: unknown; attempts: number; conflicts: number; pauses: number[] }> {
  let attempts = 0;
  let conflicts = 0;
  const pauses: number[] = [];
  const result = await retryOnConflict('updating x', { attempts: noPause.attempts, pause: (n) => (pauses.push(n), Promise.resolve()) }, (n) => {
    attempts = n;
    const step = script[n - 1];
    if (step === undefined) throw new Error(`attempt ${n} was not scripted`);
    if (step === 'ok') return Promise.resolve(`done on attempt ${n}`);
    return Promise.reject(step);
  }, () => (conflicts += 1)).catch((e: unknown) => e);
  return { result, attempts, conflicts, pauses };
}

describe('retryOnConflict', () => {
  it.each<[string, (KubeError | Error | 'ok')[], { result: unknown; attempts: number; conflicts: number; pauses: number[] }]>([
    ['succeeds at once', ['ok'], { result: 'done on attempt 1', attempts: 1, conflicts: 0, pauses: [] }],
    ['decides again after a conflict', [conflict(), 'ok'], { result: 'done on attempt 2', attempts: 2, conflicts: 1, pauses: [1] }],
    ['decides again after two conflicts, pausing longer', [conflict(), conflict(), 'ok'], { result: 'done on attempt 3', attempts: 3, conflicts: 2, pauses: [1, 2] }],
    ['gives up after the last attempt with RetryLater', [conflict(), conflict(), conflict()],
      { result: new RetryLaterError('updating x: still conflicting after 3 attempts'), attempts: 3, conflicts: 3, pauses: [1, 2] }],
    ['does not retry AlreadyExists (a name taken is no conflict)', [exists()], { result: exists(), attempts: 1, conflicts: 0, pauses: [] }],
    ['does not retry other errors', [new Error('boom')], { result: new Error('boom'), attempts: 1, conflicts: 0, pauses: [] }],
    ['does not retry a server error (the caller answers it)', [new KubeError('etcd timeout', 500, 'InternalError')],
      { result: new KubeError('etcd timeout', 500, 'InternalError'), attempts: 1, conflicts: 0, pauses: [] }],
  ])('%s', async (_story, script, want) => {
    const got = await run(script);
    expect(got).toEqual(want);
    if (want.result instanceof Error) expect(got.result).toBeInstanceOf(want.result.constructor);
  });

  it('asks to be retried after a second when it gives up', async () => {
    const { result } = await run([conflict(), conflict(), conflict()]);
    expect(result instanceof RetryLaterError ? result.retryAfterSeconds : undefined).toBe(1);
  });
});

import { describe, expect, it } from 'vitest';
import { IPAllocationSchema, type IPAllocation } from '../k8s/schemas.js';
import { settleWrites, stillHolding, type SettleSteps } from './settle.js';

const holding = (name: string, address: string): IPAllocation =>
  IPAllocationSchema.parse({ metadata: { name, uid: `uid-${name}` }, spec: { ipFamily: 'IPv4' }, status: { phase: 'Programmed', address } });
const deleting = (a: IPAllocation): IPAllocation => ({ ...a, metadata: { ...a.metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } });
const names = (as: readonly IPAllocation[]): string[] => as.map((a) => a.metadata.name);

/** Steps over a scripted cluster: each read of the allocations takes the next answer (the last one repeats). */
function scripted(answers: IPAllocation[][], live = true) {
  const writes: string[][] = [];
  const gone: string[][] = [];
  let reads = 0;
  const steps: SettleSteps<string> = {
    owner: () => Promise.resolve(live ? 'web' : undefined),
    allocations: () => Promise.resolve(answers[Math.min(reads++, answers.length - 1)] ?? []),
    write: (_, planned) => Promise.resolve(void writes.push(names(planned))),
    gone: (planned) => Promise.resolve(void gone.push(names(planned))),
  };
  return { steps, writes, gone };
}

const a = holding('a', '10.0.0.5');
const b = holding('b', '10.0.0.6');

describe('settleWrites: a router write followed until it was planned from what the cluster still says', () => {
  it('writes nothing more when every allocation planned with still holds its address', async () => {
    const s = scripted([[a, b, holding('new', '10.0.0.7')]]);
    expect(await settleWrites(s.steps, [a, b], 5)).toMatchObject({ kind: 'settled' });
    expect(s.writes).toEqual([]);
  });

  it('plans again from the allocations left when one was released, and reads after that write too', async () => {
    // b released during the first write, then a during the second
    const s = scripted([[a], []]);
    const settled = await settleWrites(s.steps, [a, b], 5);
    expect(s.writes).toEqual([['a'], []]);
    expect(settled).toEqual({ kind: 'settled', allocations: [] });
  });

  it('removes everything of an owner gone meanwhile, naming what the last write planned with', async () => {
    const s = scripted([[a]], false);
    expect(await settleWrites(s.steps, [a, b], 5)).toEqual({ kind: 'gone' });
    expect(s.gone).toEqual([['a', 'b']]);
    expect(s.writes).toEqual([]);
  });

  it('gives up after the rounds allowed when the allocations keep changing', async () => {
    const s = scripted([[holding('x', '10.0.0.1')], [holding('y', '10.0.0.2')], [holding('z', '10.0.0.3')]]);
    expect(await settleWrites(s.steps, [a], 2)).toMatchObject({ kind: 'unsettled' });
    expect(s.writes).toEqual([['x'], ['y']]);
  });
});

describe('stillHolding: whether a router write planned from some allocations is still wanted', () => {
  it('holds while every planned allocation keeps its address; a new one does not count', () => {
    expect(stillHolding([a, b], [b, a])).toBe(true);
    expect(stillHolding([a], [a, b])).toBe(true);
    expect(stillHolding([], [a])).toBe(true);
  });

  it('fails when a planned allocation is gone, being deleted or moved to another address', () => {
    expect(stillHolding([a, b], [a])).toBe(false);
    expect(stillHolding([a, b], [a, deleting(b)])).toBe(false);
    expect(stillHolding([a], [holding('a', '10.0.0.9')])).toBe(false);
  });
});

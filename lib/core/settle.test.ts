import { describe, expect, it } from 'vitest';
import { IPAllocationSchema, type IPAllocation } from '../k8s/schemas.js';
import { noneNew, settleWrites, stillHolding, type SettleSteps } from './settle.js';

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
  it('writes nothing more when every allocation planned with still holds its address (a narrowed write: a new one does not count)', async () => {
    const s = scripted([[a, b, holding('new', '10.0.0.7')]]);
    expect(await settleWrites(s.steps, [a, b], { rounds: 5 })).toMatchObject({ kind: 'settled' });
    expect(s.writes).toEqual([]);
  });

  it('after a write against whole menus, plans again with an allocation that holds an address it did not plan (its entries went with the write)', async () => {
    const c = holding('c', '10.0.0.7');
    const s = scripted([[b, c]]);
    expect(await settleWrites(s.steps, [b], { whole: true, rounds: 5 })).toEqual({ kind: 'settled', allocations: [b, c] });
    expect(s.writes).toEqual([['b', 'c']]);
  });

  it('after a write against whole menus, a new allocation that holds no address yet changes nothing', async () => {
    const pending = IPAllocationSchema.parse({ metadata: { name: 'p', uid: 'uid-p' }, spec: { ipFamily: 'IPv4' } });
    const s = scripted([[b, pending]]);
    expect(await settleWrites(s.steps, [b], { whole: true, rounds: 5 })).toMatchObject({ kind: 'settled' });
    expect(s.writes).toEqual([]);
  });

  it('the settle\'s own writes are against whole menus: an allocation recorded during one is planned by the next', async () => {
    const c = holding('c', '10.0.0.7');
    // b released during the first write; c recorded during the settle's write without b
    const s = scripted([[a], [a, c], [a, c]]);
    expect(await settleWrites(s.steps, [a, b], { rounds: 5 })).toMatchObject({ kind: 'settled' });
    expect(s.writes).toEqual([['a'], ['a', 'c']]);
  });

  it('plans again from the allocations left when one was released, and reads after that write too', async () => {
    // b released during the first write, then a during the second
    const s = scripted([[a], []]);
    const settled = await settleWrites(s.steps, [a, b], { rounds: 5 });
    expect(s.writes).toEqual([['a'], []]);
    expect(settled).toEqual({ kind: 'settled', allocations: [] });
  });

  it('removes everything of an owner gone meanwhile, naming what the last write planned with', async () => {
    const s = scripted([[a]], false);
    expect(await settleWrites(s.steps, [a, b], { rounds: 5 })).toEqual({ kind: 'gone' });
    expect(s.gone).toEqual([['a', 'b']]);
    expect(s.writes).toEqual([]);
  });

  it('gives up after the rounds allowed when the allocations keep changing', async () => {
    const s = scripted([[holding('x', '10.0.0.1')], [holding('y', '10.0.0.2')], [holding('z', '10.0.0.3')]]);
    expect(await settleWrites(s.steps, [a], { rounds: 2 })).toMatchObject({ kind: 'unsettled' });
    expect(s.writes).toEqual([['x'], ['y']]);
  });
});

describe('settleWrites with the other inputs of a write (moved)', () => {
  it('writes again, once, when they changed after the last write though the allocations did not', async () => {
    const s = scripted([[a, b]]);
    const answers = [true, false];
    let asked = 0;
    const settled = await settleWrites({ ...s.steps, moved: () => Promise.resolve(answers[asked++] ?? false) }, [a, b], { rounds: 5 });
    expect(settled).toMatchObject({ kind: 'settled' });
    expect(s.writes).toEqual([['a', 'b']]);
    expect(asked).toBe(2);
  });

  it('is not asked while the allocations still change', async () => {
    const s = scripted([[a], [a]]);
    let asked = 0;
    const moved = (): Promise<boolean> => {
      asked++;
      return Promise.resolve(false);
    };
    await settleWrites({ ...s.steps, moved }, [a, b], { rounds: 5 });
    expect(s.writes).toEqual([['a']]);
    expect(asked).toBe(1);
  });
});

describe('noneNew: whether an allocation holds an address a write did not plan', () => {
  it('holds when every holder was planned with its address; one being deleted does not count', () => {
    expect(noneNew([a, b], [a, b])).toBe(true);
    expect(noneNew([a, b], [a])).toBe(true);
    expect(noneNew([a], [a, deleting(b)])).toBe(true);
  });

  it('fails for a new holder, or one that recorded another address since', () => {
    expect(noneNew([a], [a, b])).toBe(false);
    expect(noneNew([a], [holding('a', '10.0.0.9')])).toBe(false);
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

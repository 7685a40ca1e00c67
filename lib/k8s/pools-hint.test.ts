import { describe, expect, it } from 'vitest';
import { memoryPort } from './memory.js';
import type { KubePort } from './port.js';
import { PoolsHint } from './pools-hint.js';

const pool = (name: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true },
});

function counting() {
  const kube = memoryPort({ objects: [pool('a')], now: () => new Date(0) });
  let lists = 0;
  let gate: Promise<void> | undefined;
  const port: KubePort = {
    ...kube.port,
    list: async (...args) => {
      lists++;
      const result = await kube.port.list(...args);
      if (gate) await gate;
      return result;
    },
  };
  return { kube, port, lists: () => lists, hold: (p: Promise<void>) => { gate = p; } };
}

const names = (l: { items: { metadata: { name: string } }[] }) => l.items.map((p) => p.metadata.name);

describe('the pools hint', () => {
  it('lists once within its maximum age, again after it', async () => {
    const c = counting();
    const hint = new PoolsHint(5_000);
    expect(names(await hint.get(c.port, 1_000))).toEqual(['a']);
    await c.kube.port.create('IPPool', pool('b'));
    expect(names(await hint.get(c.port, 5_999))).toEqual(['a']); // a hint: stale for at most the age
    expect(c.lists()).toBe(1);
    expect(names(await hint.get(c.port, 6_000))).toEqual(['a', 'b']);
    expect(c.lists()).toBe(2);
  });

  it('lists again at once after forget() (a pool changed)', async () => {
    const c = counting();
    const hint = new PoolsHint(5_000);
    await hint.get(c.port, 0);
    await c.kube.port.create('IPPool', pool('b'));
    hint.forget();
    expect(names(await hint.get(c.port, 1))).toEqual(['a', 'b']);
  });

  it('does not keep a list that started before a forget() (it may predate the change)', async () => {
    const c = counting();
    const hint = new PoolsHint(5_000);
    let release = (): void => undefined;
    c.hold(new Promise<void>((r) => { release = r; }));
    const slow = hint.get(c.port, 0);
    hint.forget();
    release();
    expect(names(await slow)).toEqual(['a']);
    c.hold(Promise.resolve());
    await hint.get(c.port, 1);
    expect(c.lists()).toBe(2);
  });

  it('a clock that went backwards lists again', async () => {
    const c = counting();
    const hint = new PoolsHint(5_000);
    await hint.get(c.port, 10_000);
    await hint.get(c.port, 9_000);
    expect(c.lists()).toBe(2);
  });
});

import { describe, expect, it, vi } from 'vitest';
import type { Holding } from '../../lib/core/assign.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { ClaimsHint } from './hint.js';
import { memoryPortAs } from '../test-support.js';

const NOW = () => new Date('2026-01-01T00:00:00Z');
const claim = (address: string, uid: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim',
  metadata: { name: address, labels: { 'mikrolb.de/pool': 'lan', 'mikrolb.de/allocation-uid': uid } },
  spec: { address, poolName: 'lan', allocationName: `a-${uid}`, allocationUID: uid },
});

describe('the claims hint of a warm allocate instance', () => {
  it('lists the claims once per age limit, and knows who holds what', async () => {
    const kube = memoryPortAs('allocate', { now: NOW, objects: [claim('192.0.2.5', 'u5'), claim('192.0.2.9', 'u9')] });
    const hint = new ClaimsHint(60_000);
    expect(await hint.load(kube.port, 0)).toBe(true);
    expect(await hint.load(kube.port, 59_999)).toBe(false);
    expect([0xc0000205n, 0xc0000209n, 0xc0000206n].map((v) => hint.takenOf('IPv4').has(v))).toEqual([true, true, false]);
    expect(hint.heldBy('u9')?.address).toBe('192.0.2.9');
    expect(hint.isTaken('192.0.2.5')).toBe(true);
    hint.forget('192.0.2.5');
    expect(hint.isTaken('192.0.2.5')).toBe(false);
    expect(await hint.load(kube.port, 60_000)).toBe(true);
    expect(hint.isTaken('192.0.2.5')).toBe(true);
  });

  it('a failed refresh is logged and the choice goes on with what it has; a forced load fails loudly', async () => {
    const kube = memoryPortAs('allocate', { now: NOW, objects: [claim('192.0.2.5', 'u5')] });
    const hint = new ClaimsHint(60_000);
    await hint.load(kube.port, 0);
    const failing = { ...kube.port, list: async () => { throw new Error('no answer within 30000 ms'); } };
    const log = memoryLogger();
    expect(await hint.refresh(failing, 120_000, log, true)).toBe(false);
    expect(hint.isTaken('192.0.2.5')).toBe(true);
    expect(log.entries.map((e) => [e.level, e.msg])).toEqual([['warn', 'Listing the address claims failed; choosing from what this instance knows']]);
    // not tried again for a few seconds
    expect(await hint.refresh(kube.port, 121_000, log, true)).toBe(false);
    expect(await hint.refresh(kube.port, 126_000, log, true)).toBe(true);
    await expect(hint.load(failing, 200_000, true)).rejects.toThrow('no answer');
  });

  it('shares lists between concurrent invocations: a stale hint waits for the list in flight, forced loads share one list after it', async () => {
    const kube = memoryPortAs('allocate', { now: NOW, objects: [claim('192.0.2.5', 'u5')] });
    let lists = 0;
    let release = (): void => undefined;
    const gate = (): Promise<void> => new Promise((r) => (release = r));
    let gated = gate();
    const counting = { ...kube.port, list: async (...args: Parameters<typeof kube.port.list>) => {
      lists++;
      const answer = await kube.port.list(...args); // read when asked: what came later is not in it
      await gated;
      return answer;
    } };
    const hint = new ClaimsHint(60_000);
    const stale = Array.from({ length: 16 }, () => hint.load(counting, 0));
    await new Promise((r) => setTimeout(r, 0));
    expect(lists).toBe(1);
    // a claim made while that list runs; forced loads asked for now must see it
    await kube.admin.create('IPAddressClaim', claim('192.0.2.9', 'u9'));
    const forced = Array.from({ length: 8 }, () => hint.load(counting, 1, true));
    release();
    expect(await Promise.all(stale)).toEqual(stale.map(() => true));
    await new Promise((r) => setTimeout(r, 0));
    expect(lists).toBe(2);
    gated = Promise.resolve();
    release();
    expect(await Promise.all(forced)).toEqual(forced.map(() => true));
    expect(lists).toBe(2); // 24 loads, 2 lists (before: 24)
    expect(hint.isTaken('192.0.2.9')).toBe(true);
    // nothing in flight: a forced load lists on its own
    expect(await hint.load(counting, 2, true)).toBe(true);
    expect(lists).toBe(3);
  });

  it('gives a failed list to the loads that shared it, and lists again for the next', async () => {
    const kube = memoryPortAs('allocate', { now: NOW, objects: [claim('192.0.2.5', 'u5')] });
    let calls = 0;
    const flaky = { ...kube.port, list: async (...args: Parameters<typeof kube.port.list>) => {
      if (++calls === 1) {
        await new Promise((r) => setTimeout(r, 0));
        throw new Error('no answer within 30000 ms');
      }
      return kube.port.list(...args);
    } };
    const hint = new ClaimsHint(60_000);
    const shared = [hint.load(flaky, 0), hint.load(flaky, 0)];
    const results = await Promise.allSettled(shared);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    expect(await hint.load(flaky, 0)).toBe(true);
    expect(hint.isTaken('192.0.2.5')).toBe(true);
  });

  /** A claim of `address` shared under `key` by two Services (a TCP and a UDP one, say). */
  const shared = (address: string, key: string): Holding => ({
    address, poolName: 'lan', allocationName: `a-${address}`, allocationUID: `u-${address}`, sharingKey: key,
    holders: [{ allocationName: `a-${address}`, allocationUID: `u-${address}`, ports: [{ protocol: 'TCP', port: 53 }] }, { allocationName: `b-${address}`, allocationUID: `v-${address}`, ports: [{ protocol: 'UDP', port: 53 }] }],
  });

  it('keeps one group per shared address: an address noted again or forgotten leaves the group it was in', () => {
    const hint = new ClaimsHint(60_000);
    hint.noteTaken(shared('192.0.2.5', 'dns'));
    hint.noteTaken(shared('192.0.2.6', 'dns'));
    expect(hint.sharedIn('lan', 'dns').map((s) => s.address)).toEqual(['192.0.2.5', '192.0.2.6']);
    hint.noteTaken(shared('192.0.2.5', 'web'));
    expect(hint.sharedIn('lan', 'dns').map((s) => s.address)).toEqual(['192.0.2.6']);
    expect(hint.isShared('lan', 'web', '192.0.2.5')).toBe(true);
    hint.noteTaken({ address: '192.0.2.5', poolName: 'lan', allocationName: 'c', allocationUID: 'w' });
    expect(hint.isShared('lan', 'web', '192.0.2.5')).toBe(false);
    hint.forget('192.0.2.6');
    expect(hint.isShared('lan', 'dns', '192.0.2.6')).toBe(false);
    hint.noteTaken(shared('192.0.2.6', 'dns'));
    hint.noteFreed(shared('192.0.2.6', 'dns'));
    expect(hint.sharedIn('lan', 'dns')).toEqual([]);
    expect(hint.isTaken('192.0.2.6')).toBe(false);
  });

  it('notes a claim at the same cost beside 10 or 10,000 shared addresses (it walked every group: O(N²) for a burst)', () => {
    const deletesPerNote = (groups: number): number => {
      const hint = new ClaimsHint(60_000);
      for (let i = 0; i < groups; i++) hint.noteTaken(shared(`10.0.${i >> 8}.${i & 255}`, `key-${i}`));
      const deletes = vi.spyOn(Map.prototype, 'delete');
      try {
        hint.noteTaken({ address: '192.0.2.77', poolName: 'lan', allocationName: 'a', allocationUID: 'u' });
        hint.forget('192.0.2.78');
        return deletes.mock.calls.length;
      } finally {
        deletes.mockRestore();
      }
    };
    expect(deletesPerNote(10_000)).toBe(deletesPerNote(10));
  });
});

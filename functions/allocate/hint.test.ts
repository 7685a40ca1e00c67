import { describe, expect, it } from 'vitest';
import { memoryPort } from '../../lib/k8s/memory.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { ClaimsHint } from './hint.js';

const NOW = () => new Date('2026-01-01T00:00:00Z');
const claim = (address: string, uid: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim',
  metadata: { name: address, labels: { 'mikrolb.de/pool': 'lan', 'mikrolb.de/allocation-uid': uid } },
  spec: { address, poolName: 'lan', allocationName: `a-${uid}`, allocationUID: uid },
});

describe('the claims hint of a warm allocate instance', () => {
  it('lists the claims once per age limit, and knows who holds what', async () => {
    const kube = memoryPort({ now: NOW, objects: [claim('192.0.2.5', 'u5'), claim('192.0.2.9', 'u9')] });
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
    const kube = memoryPort({ now: NOW, objects: [claim('192.0.2.5', 'u5')] });
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
});

import { describe, expect, it } from 'vitest';
import { KubeError } from './errors.js';
import { memoryPort } from './memory.js';
import type { KubePort } from './port.js';
import { IPAllocationSchema } from './schemas.js';
import { listUnsettledAllocations } from './typed.js';

const phases = ['Allocated', 'Programmed', 'Failed', 'Pending', undefined] as const;

async function seeded(): Promise<KubePort> {
  const { port } = memoryPort();
  for (const [i, phase] of phases.entries()) {
    const made = IPAllocationSchema.parse(await port.create('IPAllocation', { metadata: { name: `a${i}` }, spec: { ipFamily: 'IPv4' } }));
    if (phase) await port.replaceStatus('IPAllocation', { ...made, status: { phase } });
  }
  return port;
}

describe('listUnsettledAllocations', () => {
  it('asks the server for the allocations that are neither Allocated nor Programmed', async () => {
    const port = await seeded();
    const asked: (string | undefined)[] = [];
    const spy: KubePort = { ...port, list: (kind, opts) => (asked.push(opts?.fieldSelector), port.list(kind, opts)) };
    expect((await listUnsettledAllocations(spy)).items.map((a) => a.metadata.name)).toEqual(['a2', 'a3', 'a4']);
    expect(asked).toEqual(['status.phase!=Allocated,status.phase!=Programmed']);
  });

  it('lists every allocation and filters them itself where the server refuses the selector (a CRD without selectable fields)', async () => {
    const port = await seeded();
    const asked: (string | undefined)[] = [];
    const old: KubePort = {
      ...port,
      list: (kind, opts) => {
        asked.push(opts?.fieldSelector);
        return opts?.fieldSelector ? Promise.reject(new KubeError('field label not supported: status.phase', 400, 'BadRequest')) : port.list(kind, opts);
      },
    };
    expect((await listUnsettledAllocations(old)).items.map((a) => a.metadata.name)).toEqual(['a2', 'a3', 'a4']);
    expect(asked).toEqual(['status.phase!=Allocated,status.phase!=Programmed', undefined]);
  });

  it('passes any other failure on', async () => {
    const port = await seeded();
    const down: KubePort = { ...port, list: () => Promise.reject(new KubeError('unavailable', 503, 'ServiceUnavailable')) };
    await expect(listUnsettledAllocations(down)).rejects.toThrow('unavailable');
  });
});

import { describe, expect, it } from 'vitest';
import { IPAllocationSchema, type IPAllocation } from '../k8s/schemas.js';
import { allocatedStatus, formerCleared, outcomeChanged, programmedStatus, stateConditions, statusChanged, type AllocationState, type RouterOutcome } from './allocation-status.js';
import type { Decision } from './assign.js';

const T0 = new Date('2026-12-01T10:00:00Z');
const T1 = new Date('2026-12-01T10:05:00Z');
const ADDRESS = '192.0.2.20';
const allocated: Decision = { ok: true, pool: 'lan', address: ADDRESS, held: true };

const fresh = (): IPAllocation => IPAllocationSchema.parse({ metadata: { name: 'ip-0123456789ab', uid: 'u-1', generation: 1 }, spec: { ipFamily: 'IPv4' } });
const withStatus = (a: IPAllocation, status: IPAllocation['status']): IPAllocation => ({ ...a, ...(status ? { status } : {}) });

describe('the conditions of each allocation state', () => {
  it.each<[string, AllocationState, [string, string, string][]]>([
    ['no address', { kind: 'notAllocated', reason: 'PoolExhausted', message: 'Pool lan has no free address.' },
      [['Allocated', 'False', 'PoolExhausted'], ['Programmed', 'False', 'NotAllocated'], ['Ready', 'False', 'PoolExhausted']]],
    ['waiting for the router', { kind: 'pending', address: ADDRESS, pool: 'lan' },
      [['Programmed', 'Unknown', 'Pending'], ['Ready', 'False', 'ProgrammingPending']]],
    ['a pool that does not advertise', { kind: 'notAdvertised', address: ADDRESS },
      [['Programmed', 'False', 'NotAdvertised'], ['Ready', 'True', 'AllocatedButNotAdvertised']]],
    ['advertised', { kind: 'advertised', address: ADDRESS, interfaceName: 'ether1' },
      [['Programmed', 'True', 'Programmed'], ['Ready', 'True', 'AllocatedAndProgrammed']]],
    ['the router failed', { kind: 'backendError', message: 'The router refused or did not answer: timeout' },
      [['Programmed', 'False', 'BackendError'], ['Ready', 'False', 'BackendError']]],
  ])('%s', (_story, state, want) => {
    const conditions = stateConditions(state);
    expect(conditions.map((c) => [c.type, c.status, c.reason])).toEqual(want);
    for (const c of conditions) expect(c.message).not.toBe('');
  });
});

/**
 * A resync runs allocate and then program for every allocation. Once both have run, another
 * round must leave the status exactly as it is: otherwise each resync costs two status writes
 * (and the watch events they cause wake the other function again).
 */
describe('allocate and program agree: a second round writes nothing', () => {
  it.each<[string, { advertise: boolean; interfaceName?: string }, RouterOutcome, string]>([
    ['a pool with advertise: false', { advertise: false }, { kind: 'notAdvertised' }, 'AllocatedButNotAdvertised'],
    ['a pool with advertise: false and an interface', { advertise: false, interfaceName: 'ether1' }, { kind: 'notAdvertised' }, 'AllocatedButNotAdvertised'],
    ['an advertising pool with its interface', { advertise: true, interfaceName: 'ether1' }, { kind: 'advertised', interfaceName: 'ether1' }, 'AllocatedAndProgrammed'],
    ['an advertising pool, interface from the routes', { advertise: true }, { kind: 'advertised', interfaceName: 'bridge' }, 'AllocatedAndProgrammed'],
    ['a router that fails', { advertise: true }, { kind: 'failed', message: 'The router refused or did not answer: timeout' }, 'BackendError'],
  ])('%s', (_story, pool, outcome, readyReason) => {
    const afterAllocate = withStatus(fresh(), allocatedStatus(fresh(), allocated, pool, T0));
    const settled = withStatus(afterAllocate, programmedStatus(afterAllocate, outcome, T0));
    expect(settled.status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe(readyReason);

    const byAllocate = allocatedStatus(settled, allocated, pool, T1);
    expect(statusChanged(settled.status, byAllocate), 'allocate on resync').toBe(false);
    const byProgram = programmedStatus(withStatus(settled, byAllocate), outcome, T1);
    expect(statusChanged(settled.status, byProgram), 'program on resync').toBe(false);
  });
});

/** The phase and the readable conditions after each writer, from each starting point. */
describe('phases: what allocate and program make of an allocation', () => {
  const summary = (s: IPAllocation['status']): [string | undefined, string | undefined, boolean | undefined, string[]] =>
    [s?.phase, s?.address, s?.advertised, (s?.conditions ?? []).map((c) => `${c.type}=${c.status}/${c.reason}`).sort()];
  const advertising = { advertise: true, interfaceName: 'ether1' };
  const programmed = (): IPAllocation => {
    const a = withStatus(fresh(), allocatedStatus(fresh(), allocated, advertising, T0));
    return withStatus(a, programmedStatus(a, { kind: 'advertised', interfaceName: 'ether1' }, T0));
  };

  it.each<[string, () => IPAllocation, Decision, { advertise: boolean; interfaceName?: string } | undefined, ReturnType<typeof summary>]>([
    ['a new allocation waits for the router', fresh, allocated, advertising,
      ['Allocated', ADDRESS, false, ['Allocated=True/Allocated', 'Programmed=Unknown/Pending', 'Ready=False/ProgrammingPending']]],
    ['a pool that does not advertise is ready at once', fresh, allocated, { advertise: false },
      ['Allocated', ADDRESS, false, ['Allocated=True/Allocated', 'Programmed=False/NotAdvertised', 'Ready=True/AllocatedButNotAdvertised']]],
    ['an exhausted pool fails, without an address', fresh, { ok: false, reason: 'PoolExhausted', message: 'Pool lan has no free address.' }, advertising,
      ['Failed', undefined, undefined, ['Allocated=False/PoolExhausted', 'Programmed=False/NotAllocated', 'Ready=False/PoolExhausted']]],
    ['the same address keeps Programmed', programmed, allocated, advertising,
      ['Programmed', ADDRESS, true, ['Allocated=True/Allocated', 'Programmed=True/Programmed', 'Ready=True/AllocatedAndProgrammed']]],
    ['a new address goes back to waiting', programmed, { ok: true, pool: 'lan', address: '192.0.2.21', held: true }, advertising,
      ['Allocated', '192.0.2.21', false, ['Allocated=True/Allocated', 'Programmed=Unknown/Pending', 'Ready=False/ProgrammingPending']]],
    ['a pool switched to advertise: false is no longer Programmed', programmed, allocated, { advertise: false },
      ['Allocated', ADDRESS, false, ['Allocated=True/Allocated', 'Programmed=False/NotAdvertised', 'Ready=True/AllocatedButNotAdvertised']]],
    ['a Programmed allocation whose pool went away fails', programmed, { ok: false, reason: 'PoolNotFound', message: 'Pool lan does not exist.' }, undefined,
      ['Failed', undefined, undefined, ['Allocated=False/PoolNotFound', 'Programmed=False/NotAllocated', 'Ready=False/PoolNotFound']]],
  ])('allocate: %s', (_story, start, decision, pool, want) => {
    expect(summary(allocatedStatus(start(), decision, pool, T1))).toEqual(want);
  });

  const waiting = (): IPAllocation => withStatus(fresh(), allocatedStatus(fresh(), allocated, advertising, T0));
  it.each<[string, () => IPAllocation, RouterOutcome, ReturnType<typeof summary>]>([
    ['advertised', waiting, { kind: 'advertised', interfaceName: 'ether1' },
      ['Programmed', ADDRESS, true, ['Allocated=True/Allocated', 'Programmed=True/Programmed', 'Ready=True/AllocatedAndProgrammed']]],
    ['the router failed', waiting, { kind: 'failed', message: 'The router refused or did not answer: timeout' },
      ['Allocated', ADDRESS, false, ['Allocated=True/Allocated', 'Programmed=False/BackendError', 'Ready=False/BackendError']]],
    ['the router holds the address itself', waiting, { kind: 'refused', reason: 'AddressInUseByRouter', message: 'The router itself holds 192.0.2.20.' },
      ['Allocated', ADDRESS, false, ['Allocated=True/Allocated', 'Programmed=False/AddressInUseByRouter', 'Ready=False/AddressInUseByRouter']]],
    ['a Programmed address the router then fails on goes back to Allocated', programmed, { kind: 'failed', message: 'The router refused or did not answer: timeout' },
      ['Allocated', ADDRESS, false, ['Allocated=True/Allocated', 'Programmed=False/BackendError', 'Ready=False/BackendError']]],
  ])('program: %s', (_story, start, outcome, want) => {
    expect(summary(programmedStatus(start(), outcome, T1))).toEqual(want);
  });
});

describe('former addresses: what an allocation moved in place may have left on the router', () => {
  const at = (address: string): Decision => ({ ok: true, pool: 'lan', address, held: true });
  const programmedAt = (address: string, formerAddresses?: string[]): IPAllocation =>
    withStatus(fresh(), programmedStatus(withStatus(fresh(), { ...allocatedStatus(fresh(), at(address), { advertise: true }, T0), ...(formerAddresses ? { formerAddresses } : {}) }), { kind: 'advertised', interfaceName: 'ether1' }, T0));

  it('records the address it leaves, for a move and for a failure that gives the address back', () => {
    const moved = allocatedStatus(programmedAt('192.0.2.20'), at('192.0.2.21'), { advertise: true }, T1);
    expect(moved).toMatchObject({ address: '192.0.2.21', phase: 'Allocated', formerAddresses: ['192.0.2.20'] });
    const failed = allocatedStatus(programmedAt('192.0.2.20'), { ok: false, reason: 'PoolScopeMismatch', message: 'no pool serves it' }, { advertise: true }, T1);
    expect(failed).toMatchObject({ phase: 'Failed', formerAddresses: ['192.0.2.20'] });
    expect(failed.address).toBeUndefined();
    // a status change all the same, so the record is written
    expect(statusChanged({ ...moved, formerAddresses: [] }, moved)).toBe(true);
  });

  it('keeps them while the address stays, drops an address held again, and keeps the newest few', () => {
    const kept = allocatedStatus(programmedAt('192.0.2.21', ['192.0.2.20']), at('192.0.2.21'), { advertise: true }, T1);
    expect(kept.formerAddresses).toEqual(['192.0.2.20']);
    expect(kept.phase).toBe('Programmed');
    const back = allocatedStatus(programmedAt('192.0.2.21', ['192.0.2.20']), at('192.0.2.20'), { advertise: true }, T1);
    expect(back.formerAddresses).toEqual(['192.0.2.21']);
    const many = Array.from({ length: 8 }, (_, i) => `192.0.2.${100 + i}`);
    const capped = allocatedStatus(programmedAt('192.0.2.21', many), at('192.0.2.22'), { advertise: true }, T1);
    expect(capped.formerAddresses).toEqual([...many.slice(1), '192.0.2.21']);
    expect(allocatedStatus(fresh(), allocated, { advertise: true }, T0).formerAddresses).toBeUndefined();
  });

  it('program clears those whose entries it took off, and only those', () => {
    const s = { ...allocatedStatus(fresh(), allocated, { advertise: true }, T0), formerAddresses: ['192.0.2.1', '192.0.2.2'] };
    expect(formerCleared(s, new Set(['192.0.2.1'])).formerAddresses).toEqual(['192.0.2.2']);
    expect('formerAddresses' in formerCleared(s, new Set(['192.0.2.1', '192.0.2.2']))).toBe(false);
    expect(formerCleared(s, new Set())).toEqual(s);
  });
});

/**
 * A spec rewritten while the address stays (a Service pinning the address it holds: a new
 * generation): every condition judges that generation, program's too — nothing it judged
 * changed — with its words and transition times as they were. Except a refusal, which words
 * whether the allocation asked for its address by name: program words it again.
 */
describe('a new generation that keeps the address', () => {
  const respecced = (a: IPAllocation): IPAllocation => ({ ...a, metadata: { ...a.metadata, generation: 2 }, spec: { address: ADDRESS } });
  const judged = (s: IPAllocation['status']) => (s?.conditions ?? []).map((c) => [c.type, c.status, c.reason, c.lastTransitionTime, c.observedGeneration]);

  it.each<[string, RouterOutcome]>([
    ['advertised', { kind: 'advertised', interfaceName: 'ether1' }],
    ['the router failed', { kind: 'failed', message: 'The router refused or did not answer: timeout' }],
  ])("restates program's word (%s) at it", (_story, outcome) => {
    const afterAllocate = withStatus(fresh(), allocatedStatus(fresh(), allocated, { advertise: true }, T0));
    const settled = withStatus(afterAllocate, programmedStatus(afterAllocate, outcome, T0));
    const next = allocatedStatus(respecced(settled), allocated, { advertise: true }, T1);
    expect(next.observedGeneration).toBe(2);
    expect(judged(next)).toEqual(judged(settled.status).map(([type, status, reason, since]) => [type, status, reason, since, 2]));
    expect(next.conditions?.map((c) => c.message)).toEqual(settled.status?.conditions?.map((c) => c.message));
    expect(next.phase).toBe(settled.status?.phase);
    // program, running next with the router as it was, finds nothing to write
    expect(statusChanged(next, programmedStatus({ ...respecced(settled), status: next }, outcome, T1))).toBe(false);
  });

  it("leaves a refusal at the generation program judged (its words depend on the spec)", () => {
    const afterAllocate = withStatus(fresh(), allocatedStatus(fresh(), allocated, { advertise: true }, T0));
    const refused: RouterOutcome = { kind: 'refused', reason: 'AddressInUseByRouter', message: "Address 192.0.2.20 is the router's own; the allocation moves to another free address if one is left." };
    const settled = withStatus(afterAllocate, programmedStatus(afterAllocate, refused, T0));
    const next = allocatedStatus(respecced(settled), allocated, { advertise: true }, T1);
    expect(judged(next).map(([type, , reason, , gen]) => [type, reason, gen])).toEqual([['Allocated', 'Allocated', 2], ['Programmed', 'AddressInUseByRouter', 1], ['Ready', 'AddressInUseByRouter', 1]]);
  });
});

describe("what tells of a new outcome (program's events go with it)", () => {
  const afterAllocate = withStatus(fresh(), allocatedStatus(fresh(), allocated, { advertise: true }, T0));
  const advertised = programmedStatus(afterAllocate, { kind: 'advertised', interfaceName: 'ether1' }, T0);

  it('the first outcome after allocate, and one that changes kind or words', () => {
    expect(outcomeChanged(afterAllocate.status, advertised)).toBe(true);
    expect(outcomeChanged(advertised, programmedStatus(withStatus(afterAllocate, advertised), { kind: 'advertised', interfaceName: 'bridge' }, T1))).toBe(true);
    const failed = programmedStatus(withStatus(afterAllocate, advertised), { kind: 'failed', message: 'timeout' }, T1);
    expect(outcomeChanged(advertised, failed)).toBe(true);
    expect(outcomeChanged(failed, programmedStatus(withStatus(afterAllocate, failed), { kind: 'failed', message: 'refused' }, T1))).toBe(true);
  });

  it('not the same outcome restated at a newer generation', () => {
    const later: IPAllocation = { ...afterAllocate, metadata: { ...afterAllocate.metadata, generation: 2 }, status: advertised };
    const restated = programmedStatus(later, { kind: 'advertised', interfaceName: 'ether1' }, T1);
    expect(statusChanged(advertised, restated)).toBe(true);
    expect(outcomeChanged(advertised, restated)).toBe(false);
  });
});

/**
 * `status.interfaceName` says where the address is advertised: a pool switched to
 * `advertise: false` takes it away with the advertisement, rather than showing
 * `advertised: false` beside the interface it was advertised on.
 */
describe('the interface of an address no longer advertised', () => {
  const advertisedOn = (pool: { advertise: boolean; interfaceName?: string }, iface: string): IPAllocation => {
    const a = withStatus(fresh(), allocatedStatus(fresh(), allocated, pool, T0));
    return withStatus(a, programmedStatus(a, { kind: 'advertised', interfaceName: iface }, T0));
  };

  it.each<[string, { advertise: boolean; interfaceName?: string }, string]>([
    ['named by the pool', { advertise: true, interfaceName: 'ether1' }, 'ether1'],
    ['found by route', { advertise: true }, 'bridge'],
  ])('goes when the pool stops advertising (interface %s)', (_story, pool, iface) => {
    const programmed = advertisedOn(pool, iface);
    expect(programmed.status?.interfaceName).toBe(iface);
    const byAllocate = allocatedStatus(programmed, allocated, { ...pool, advertise: false }, T1);
    expect(byAllocate).toMatchObject({ phase: 'Allocated', advertised: false });
    expect(byAllocate.interfaceName).toBeUndefined();
    const byProgram = programmedStatus(programmed, { kind: 'notAdvertised' }, T1);
    expect(byProgram).toMatchObject({ phase: 'Allocated', advertised: false });
    expect(byProgram.interfaceName).toBeUndefined();
    // and the two writers agree: no status write back and forth
    expect(statusChanged(byAllocate, programmedStatus(withStatus(programmed, byAllocate), { kind: 'notAdvertised' }, T1))).toBe(false);
  });
});

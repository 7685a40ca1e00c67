import { describe, expect, it } from 'vitest';
import { KubeError } from '../lib/k8s/errors.js';
import { transportAs } from '../lib/k8s/rbac/test-support.js';
import type { RestRequest, Transport } from '../lib/k8s/rest.js';
import { memoryLogger } from '../lib/log/logger.js';
import { leaseHeld, startElector, type LeaseSettings } from './lease.js';
import { fakeClock, type FakeClock } from './test-support.js';
import * as z from 'zod';

const Body = z.object({ metadata: z.object({ resourceVersion: z.string().optional() }).loose(), spec: z.record(z.string(), z.unknown()) }).loose();

/** The Lease endpoints of an API server, with resourceVersion preconditions, reached as the bridge's ServiceAccount (deploy/base). */
function leaseApi() {
  let stored: { metadata: Record<string, unknown>; spec: Record<string, unknown> } | undefined;
  let rv = 0;
  const writes: string[] = [];
  const transport = (name: string, broken: () => boolean): Transport => transportAs(async (req: RestRequest) => {
    if (broken()) throw new KubeError('connect ECONNREFUSED', 0, 'NetworkError');
    if (req.method === 'GET') {
      if (!stored) throw new KubeError('not found', 404, 'NotFound');
      return structuredClone(stored);
    }
    const body = Body.parse(req.body);
    if (req.method === 'POST' && stored) throw new KubeError('exists', 409, 'AlreadyExists');
    if (req.method === 'PUT' && body.metadata.resourceVersion !== stored?.metadata['resourceVersion']) throw new KubeError('conflict', 409, 'Conflict');
    stored = { metadata: { ...body.metadata, resourceVersion: String(++rv) }, spec: body.spec };
    writes.push(`${name} ${req.method} ${String(body.spec['holderIdentity'] ?? '-')}`);
    return stored;
  }, 'bridge');
  return { transport, writes, holder: () => stored?.spec['holderIdentity'] };
}

const settings = (identity: string): LeaseSettings => ({
  namespace: 'mikrolb-system', name: 'mikrolb-bridge', identity, durationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 500,
});

/** `skewMs`: how far this replica's clock runs ahead of the others' (negative: behind). */
function replica(api: ReturnType<typeof leaseApi>, clock: FakeClock, identity: string, skewMs = 0) {
  let broken = false;
  const events: string[] = [];
  const elector = startElector({
    transport: api.transport(identity, () => broken),
    settings: settings(identity),
    clock: { now: () => clock.now() + skewMs, schedule: (ms, fn) => clock.schedule(ms, fn) },
    log: memoryLogger(),
    onLeading: () => events.push('leading'),
    onFollowing: () => events.push('following'),
  });
  return { elector, events, breakNetwork: () => void (broken = true) };
}

describe('leader election', () => {
  it('creates the lease and keeps renewing it', async () => {
    const clock = fakeClock();
    const api = leaseApi();
    const a = replica(api, clock, 'a');
    await clock.advance(5_000);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.events).toEqual(['leading']);
    expect(api.writes[0]).toBe('a POST a');
    expect(api.writes.length).toBeGreaterThan(8);
    await a.elector.stop();
  });

  it('lets only one of two replicas lead', async () => {
    const clock = fakeClock();
    const api = leaseApi();
    const a = replica(api, clock, 'a');
    const b = replica(api, clock, 'b');
    await clock.advance(10_000);
    expect([a.elector.isLeader(), b.elector.isLeader()].filter(Boolean)).toHaveLength(1);
    await a.elector.stop();
    await b.elector.stop();
  });

  it('hands over within one retry period when the leader stops and releases', async () => {
    const clock = fakeClock();
    const api = leaseApi();
    const a = replica(api, clock, 'a');
    await clock.advance(100);
    const b = replica(api, clock, 'b');
    await clock.advance(3_000);
    expect(b.elector.isLeader()).toBe(false);
    await a.elector.stop();
    await clock.advance(600);
    expect(b.elector.isLeader()).toBe(true);
    expect(a.events).toEqual(['leading', 'following']);
    await b.elector.stop();
  });

  it('takes over from a crashed leader once the lease expires, and the old leader pauses first', async () => {
    const clock = fakeClock();
    const api = leaseApi();
    const a = replica(api, clock, 'a');
    await clock.advance(100);
    const b = replica(api, clock, 'b');
    await clock.advance(1_000);
    a.breakNetwork();
    const cutAt = clock.now();
    let pausedAt: number | undefined;
    let takenAt: number | undefined;
    for (let t = 0; t < 5_000 && takenAt === undefined; t += 50) {
      await clock.advance(50);
      if (pausedAt === undefined && !a.elector.isLeader()) pausedAt = clock.now();
      if (b.elector.isLeader()) takenAt = clock.now();
    }
    expect(pausedAt).toBeDefined();
    expect(takenAt).toBeDefined();
    expect(pausedAt ?? Infinity).toBeLessThan(takenAt ?? 0);
    expect((takenAt ?? Infinity) - cutAt).toBeLessThan(3_000);
    expect(api.holder()).toBe('b');
    await a.elector.stop();
    await b.elector.stop();
  });
});

describe('replicas whose clocks disagree', () => {
  // The lease's renewTime is written by the holder's clock; judging it by another replica's clock
  // let a replica ahead take the lease from a healthy leader, and one behind wait out the skew
  // before it took over from a dead one (an hour, for a node whose clock is an hour off).
  it('takes over from a crashed leader whose clock runs an hour ahead, a lease duration after it last saw the lease change', async () => {
    const clock = fakeClock();
    const api = leaseApi();
    const a = replica(api, clock, 'a', 3_600_000);
    await clock.advance(100);
    const b = replica(api, clock, 'b');
    await clock.advance(3_000);
    expect([a.elector.isLeader(), b.elector.isLeader()]).toEqual([true, false]);
    a.breakNetwork();
    const cutAt = clock.now();
    let takenAt: number | undefined;
    for (let t = 0; t < 10_000 && takenAt === undefined; t += 50) {
      await clock.advance(50);
      if (b.elector.isLeader()) takenAt = clock.now();
    }
    expect((takenAt ?? Infinity) - cutAt).toBeLessThan(3_000);
    expect(api.holder()).toBe('b');
    await a.elector.stop();
    await b.elector.stop();
  });

  it('leaves the lease to a leader that keeps renewing it, however far its own clock runs ahead', async () => {
    const clock = fakeClock();
    const api = leaseApi();
    const a = replica(api, clock, 'a');
    await clock.advance(100);
    const b = replica(api, clock, 'b', 3_600_000);
    await clock.advance(10_000);
    expect([a.elector.isLeader(), b.elector.isLeader()]).toEqual([true, false]);
    expect(a.events).toEqual(['leading']);
    expect(b.events).toEqual([]);
    expect(api.holder()).toBe('a');
    await a.elector.stop();
    await b.elector.stop();
  });
});

describe('a leader that stops', () => {
  it('steps down at info, releases the lease and warns of nothing (a warning at every rollout would be noise)', async () => {
    const clock = fakeClock();
    const api = leaseApi();
    const log = memoryLogger();
    const events: string[] = [];
    const elector = startElector({ transport: api.transport('a', () => false), settings: settings('a'), clock, log, onLeading: () => events.push('leading'), onFollowing: () => events.push('following') });
    await clock.advance(1_000);
    expect(elector.isLeader()).toBe(true);
    await elector.stop();
    expect(events).toEqual(['leading', 'following']);
    expect(log.entries.filter((e) => e.level === 'warn')).toEqual([]);
    expect(log.entries.map((e) => e.msg)).toEqual(['Became leader', 'Stepping down; pausing invocations', 'Released the lease']);
    // released: no holder, so the next replica takes it at once
    expect(api.holder()).toBeUndefined();
    expect(api.writes.at(-1)).toBe('a PUT -');
  });
});

describe('a lease that cannot be written', () => {
  it.each([
    ['its namespace missing', new KubeError('namespaces "mikrolb-system" not found', 404, 'NotFound'), 'namespace mikrolb-system does not exist: create it, or set LEASE_NAMESPACE'],
    ['no right to Leases', new KubeError('leases.coordination.k8s.io is forbidden', 403, 'Forbidden'), 'may not read or write Leases in namespace mikrolb-system'],
  ])('says what to do when %s, and never leads', async (_what, refusal, hint) => {
    const clock = fakeClock();
    const log = memoryLogger();
    const transport: Transport = async (req: RestRequest) => {
      // the read finds no Lease (a missing namespace holds none); every write is refused
      if (req.method === 'GET') throw new KubeError('not found', 404, 'NotFound');
      throw refusal;
    };
    const elector = startElector({ transport, settings: settings('a'), clock, log, onLeading: () => undefined, onFollowing: () => undefined });
    await clock.advance(1_200);
    expect(elector.isLeader()).toBe(false);
    const failures = log.entries.filter((e) => e.msg === 'Lease update failed');
    expect(failures.length).toBeGreaterThanOrEqual(2); // it keeps trying, every retry period
    for (const f of failures) expect(f).toMatchObject({ level: 'warn', fields: { error: refusal.message, hint: expect.stringContaining(hint) } });
    expect(failures[0]?.fields['hint']).toContain('this replica does no work until it holds the lease');
    await elector.stop();
  });

  it('adds no hint to a failure that passes by itself (the API server away)', async () => {
    const clock = fakeClock();
    const log = memoryLogger();
    const transport: Transport = async () => {
      throw new KubeError('connect ECONNREFUSED', 0, 'NetworkError');
    };
    const elector = startElector({ transport, settings: settings('a'), clock, log, onLeading: () => undefined, onFollowing: () => undefined });
    await clock.advance(600);
    const [failure] = log.entries.filter((e) => e.msg === 'Lease update failed');
    expect(failure?.fields).toEqual({ lease: 'mikrolb-system/mikrolb-bridge', identity: 'a', error: 'connect ECONNREFUSED' });
    await elector.stop();
  });
});

describe('whether a lease is held', () => {
  const now = Date.parse('2025-01-01T00:00:10Z');
  const fiveSecondsAgo = now - 5_000;
  // renewTime is the holder's clock: it decides nothing
  it.each([
    ['seen changing 5 s ago, for 15 s', { holderIdentity: 'a', renewTime: '2025-01-01T00:00:05.000000Z', leaseDurationSeconds: 15 }, true],
    ['seen changing 5 s ago, for 2 s', { holderIdentity: 'a', renewTime: '2025-01-01T00:00:05.000000Z', leaseDurationSeconds: 2 }, false],
    ['seen changing 5 s ago, for 15 s, renewed an hour ago by the holder\'s clock', { holderIdentity: 'a', renewTime: '2024-12-31T23:00:05.000000Z', leaseDurationSeconds: 15 }, true],
    ['seen changing 5 s ago, for 2 s, renewed an hour ahead by the holder\'s clock', { holderIdentity: 'a', renewTime: '2025-01-01T01:00:05.000000Z', leaseDurationSeconds: 2 }, false],
    ['released (no holder)', { renewTime: '2025-01-01T00:00:09.000000Z', leaseDurationSeconds: 15 }, false],
    ['no duration', { holderIdentity: 'a' }, false],
  ])('%s: %s', (_, spec, held) => expect(leaseHeld(spec, fiveSecondsAgo, now)).toBe(held));
});

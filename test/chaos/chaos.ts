import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClassConfig } from '../../lib/core/service.js';
import { ownerOf } from '../../lib/router/index.js';
import { unheldClaims } from './claim-invariants.js';
import { isShared } from '../../lib/core/sharing.js';
import type { Violation, World } from './invariants.js';
import { createRng } from './rng.js';
import { rogueInvoker, type Rogue, type RogueCounts } from './rogue.js';
import { unexpectedFaultsIn } from './faults.js';
import { foreignEntries } from './router-seed.js';
import { traceCommands, type CommandTrace } from './router-trace.js';
import { OUR_CLASS, POOLS, poolObject, RESERVATIONS, reservationObject } from './shapes.js';
import { settle, type SettleResult } from './settle.js';
import { RELEASE_CLAIM_GRACE_MS, startChaosStack, type ChaosStack } from './stack.js';
import { runStorm, type StormCounts } from './storm.js';
import { workload, type WorkloadCounts } from './workload.js';

export interface ChaosOptions {
  seed: number;
  /** How long the storm lasts. */
  durationMs: number;
  /** Service slots the workload uses (s-0 ... s-N-1). */
  services: number;
  /** Workload steps per second. */
  rate: number;
  /** The longest the settle period may take before the invariants are judged. */
  settleMs: number;
  /** Where every process logs; a new folder under the temp dir by default. */
  logDir?: string;
  progress: (line: string) => void;
}

export interface ProcessFigures {
  name: string;
  starts: number;
  kills: number;
  unexpectedExits: number;
}

export interface ChaosReport {
  options: Omit<ChaosOptions, 'progress'>;
  logDir: string;
  violations: Violation[];
  /** Whether every invariant held (twice in a row) before the settle deadline. */
  converged: boolean;
  timings: { startupMs: number; stormMs: number; settleMs: number };
  /** Resyncs the settle period sent itself (the bridges' timers are set longer than a run). */
  forcedResyncs: number;
  /** Whether events and retries alone converged; what stayed open if not (a resync then repaired it). */
  eventDriven: SettleResult['eventDriven'];
  workload: WorkloadCounts;
  storm: StormCounts;
  processes: ProcessFigures[];
  bridges: { restarts: number; killsA: number };
  rogue: RogueCounts;
  router: { commands: number; connections: number };
  final: {
    services: number; managed: number; allocations: Record<string, number>; routerEntries: number;
    /** IPAddressClaims, and those nobody holds (left to release's GC, within its grace period). */
    claims: number; unheldClaims: number;
    /** Claims held by more than one allocation (shared addresses). */
    sharedClaims: number;
  };
}

const CLASSES: ClassConfig = { loadBalancerClass: OUR_CLASS, defaultClass: false };

async function seedObjects(stack: ChaosStack): Promise<void> {
  for (const p of POOLS) await stack.kube.create('IPPool', poolObject(p));
  for (const r of RESERVATIONS) await stack.kube.create('IPAllocation', reservationObject(r));
}

function finalFigures(world: World | undefined): ChaosReport['final'] {
  if (!world) return { services: 0, managed: 0, allocations: {}, routerEntries: 0, claims: 0, unheldClaims: 0, sharedClaims: 0 };
  const allocations: Record<string, number> = {};
  for (const a of world.allocations) {
    const phase = a.status?.phase ?? 'none';
    const label = phase === 'Failed' ? `Failed/${a.status?.conditions?.find((c) => c.type === 'Ready')?.reason ?? '?'}` : phase;
    allocations[label] = (allocations[label] ?? 0) + 1;
  }
  const managed = world.services.filter((s) => s.metadata.finalizers?.includes('mikrolb.de/finalizer')).length;
  const routerEntries = Object.values(world.router).flat().filter((e) => ownerOf(e.comment) !== undefined).length;
  return { services: world.services.length, managed, allocations, routerEntries, claims: world.claims.length, unheldClaims: unheldClaims(world).length, sharedClaims: world.claims.filter((c) => isShared(c.spec)).length };
}

/** Crashes nobody caused, well-formed events refused, invocations failing unexpectedly: violations the world cannot show. */
function processViolations(stack: ChaosStack, rogue: Rogue, logDir: string): Violation[] {
  const bridgeExits = stack.bridges.unexpectedExitsA();
  const faults = stack.processes().flatMap((p) => {
    const found = unexpectedFaultsIn(join(logDir, `${p.name}.log`));
    return found.length === 0 ? [] : [{ invariant: 'unexpected-fault', detail: `${p.name} answered 500 ${found.length} time(s) (see ${p.name}.log), first: ${found[0] ?? ''}` }];
  });
  return [
    ...rogue.counts.badRequests.map((detail) => ({ invariant: 'event-rejected', detail: `a well-formed event was answered 400: ${detail}` })),
    ...faults,
    ...stack.processes().filter((p) => p.counts.unexpectedExits > 0).map((p) => ({ invariant: 'crash', detail: `${p.name} exited ${p.counts.unexpectedExits} time(s) without being killed (see ${p.name}.log)` })),
    ...(bridgeExits > 0 ? [{ invariant: 'crash', detail: `bridge-a exited ${bridgeExits} time(s) without being killed (see bridge-a.log)` }] : []),
  ];
}

/**
 * What events and retries alone left open after the storm (a resync then repaired it): work the
 * product lost until its safety net came round — on a cluster, up to RESYNC_INTERVAL (5 minutes
 * by default). Each is a violation: a freed address, a failed decision, a released allocation or
 * a router failure must reach the functions without a resync. (Pool counts, which follow the
 * claims through allocate's resync, and claims only release's resync collects, are not judged
 * in that stage: see settle.ts.)
 */
function resyncOnly(eventDriven: SettleResult['eventDriven']): Violation[] {
  if (eventDriven.converged) return [];
  const after = `${Math.round(eventDriven.ms / 1000)} s`;
  return eventDriven.open.map((v) => ({ invariant: 'resync-only', detail: `open ${after} after the storm, before any resync: [${v.invariant}] ${v.detail}` }));
}

interface RunOutcome {
  options: ChaosReport['options'];
  logDir: string;
  stack: ChaosStack;
  settled: SettleResult;
  rogue: Rogue;
  storm: StormCounts;
  workload: WorkloadCounts;
  timings: ChaosReport['timings'];
}

function report(o: RunOutcome): ChaosReport {
  const stats = o.stack.sim.stats;
  return {
    options: o.options, logDir: o.logDir, violations: [...o.settled.violations, ...resyncOnly(o.settled.eventDriven), ...processViolations(o.stack, o.rogue, o.logDir)], converged: o.settled.converged,
    timings: o.timings, forcedResyncs: o.settled.forcedResyncs, eventDriven: o.settled.eventDriven, workload: o.workload, storm: o.storm,
    processes: o.stack.processes().map((p) => ({ name: p.name, ...p.counts })), bridges: { ...o.stack.bridges.counts }, rogue: o.rogue.counts,
    router: { commands: stats.commands, connections: stats.connections }, final: finalFigures(o.settled.world),
  };
}

/** One seeded chaos run: start, storm, settle, judge, stop (also when anything fails). */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { progress, ...plain } = options;
  const rng = createRng(options.seed);
  const logDir = options.logDir ?? join(tmpdir(), `mikrolb-chaos-${options.seed}-${Date.now()}`);
  await mkdir(logDir, { recursive: true });
  const logFile = createWriteStream(join(logDir, 'chaos.log'), { flags: 'a' });
  const t0 = Date.now();
  const log = (line: string): void => void logFile.write(`${new Date().toISOString()} +${((Date.now() - t0) / 1000).toFixed(1)}s ${line}\n`);
  progress(`logs in ${logDir}`);
  let stack: ChaosStack | undefined;
  let trace: CommandTrace | undefined;
  try {
    stack = await startChaosStack(logDir, rng.fork('bridges').chance(0.5), log);
    const foreignBefore = foreignEntries(stack.sim.state());
    trace = traceCommands(stack.sim);
    await seedObjects(stack);
    const startupMs = Date.now() - t0;
    progress(`stack up in ${startupMs} ms: API server, router simulator, 6 function processes, 2 bridges (leader election ${stack.bridges.leaderElection ? 'on' : 'off'})`);
    const load = workload(stack.transport, rng.fork('services'), options.services);
    const processUrls = stack.processes();
    const rogue = rogueInvoker(() => processUrls.filter((p) => p.running()).map((p) => p.url), rng.fork('rogue'), options.services);
    const s0 = Date.now();
    const storm = await runStorm({ stack, rng: rng.fork('storm'), durationMs: options.durationMs, rate: options.rate, workload: load, rogue, log, progress });
    const stormMs = Date.now() - s0;
    progress(`storm over after ${stormMs} ms; settling (at most ${options.settleMs} ms)`);
    log('storm over: faults cleared, settling');
    const settled = await settle(stack, { settleMs: options.settleMs, eventDrivenMs: Math.min(60_000, options.settleMs / 2), classes: CLASSES, foreignBefore, claimGraceMs: RELEASE_CLAIM_GRACE_MS, log, progress, logDir, trace });
    return report({ options: plain, logDir, stack, settled, rogue, storm, workload: load.counts, timings: { startupMs, stormMs, settleMs: settled.ms } });
  } finally {
    progress('stopping everything the run started');
    trace?.stop();
    await stack?.stop();
    await new Promise<void>((r) => logFile.end(() => r()));
  }
}

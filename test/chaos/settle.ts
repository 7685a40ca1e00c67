import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClassConfig } from '../../lib/core/service.js';
import { resyncInvocation, toCloudEvent } from '../../lib/events/cloudevent.js';
import { connectRouter, type RouterClient } from '../../lib/routeros/client/index.js';
import { checkInvariants, type Violation, type World } from './invariants.js';
import type { CommandTrace } from './router-trace.js';
import { readWorld, type SettleFacts } from './snapshot.js';
import type { ChaosStack } from './stack.js';
import { messageOf } from '../../lib/errors.js';

export interface SettleResult {
  /** What the last check found: the run's verdict. */
  violations: Violation[];
  world?: World;
  /** Clean twice in a row (5 s apart) before the deadline. */
  converged: boolean;
  ms: number;
  /** Resyncs the settle period sent itself (at least one: see `settle`). */
  forcedResyncs: number;
  /**
   * The first stage, events and retries only (no resync from anyone): did that suffice? Pool
   * counts and claims the GC collects are not judged in it (only a resync refreshes or collects them).
   */
  eventDriven: { converged: boolean; ms: number; open: Violation[] };
}

export interface SettleOptions {
  settleMs: number;
  /** How long the first stage waits for convergence without any resync. */
  eventDrivenMs: number;
  classes: ClassConfig;
  foreignBefore: string;
  /** The grace period of the release processes (see `World.claimGraceMs`). */
  claimGraceMs: number;
  log: (line: string) => void;
  progress: (line: string) => void;
  /** Where the world (and the router's commands) are saved when violations are open, for the post-mortem. */
  logDir: string;
  trace: CommandTrace;
}

async function saveWorld(opts: SettleOptions, label: string, world: World | undefined): Promise<void> {
  if (world) await writeFile(join(opts.logDir, `world-${label}.json`), JSON.stringify(world, null, 1));
  await opts.trace.save(join(opts.logDir, `router-commands-${label}.log`));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const kinds = (vs: readonly Violation[]): string => [...new Set(vs.map((v) => v.invariant))].join(', ');

/**
 * Sends a resync to each function of set A, in order, and waits for the answers; records when
 * each one that answered 2xx was sent. Release first (its GC frees claims nobody holds), then
 * allocate (which refreshes every pool's counts from the claims left), then program.
 */
async function forceResync(stack: ChaosStack, resynced: SettleFacts['resynced'], log: (l: string) => void): Promise<void> {
  for (const [fn, proc] of [['release', stack.sets.a.release], ['allocate', stack.sets.a.allocate], ['program', stack.sets.a.program]] as const) {
    const ev = toCloudEvent(resyncInvocation({ source: 'chaos/settle' }));
    const sentAt = Date.now();
    try {
      const res = await fetch(proc.url, { method: 'POST', headers: ev.headers, body: ev.body, signal: AbortSignal.timeout(120_000) });
      log(`settle: resync ${proc.name} answered ${res.status} ${(await res.text()).slice(0, 300)}`);
      if (res.ok && fn !== 'program') resynced[fn] = sentAt;
    } catch (e) {
      log(`settle: resync ${proc.name} failed: ${messageOf(e)}`);
    }
  }
}

async function judge(stack: ChaosStack, router: RouterClient, facts: SettleFacts, classes: ClassConfig): Promise<{ world?: World; violations: Violation[] }> {
  try {
    const world = await readWorld(stack.kube, router, stack.sim, facts);
    return { world, violations: checkInvariants(world, classes) };
  } catch (e) {
    return { violations: [{ invariant: 'settle', detail: `reading the world failed: ${messageOf(e)}` }] };
  }
}

/**
 * Faults off and everything up; then the invariants are judged every 5 s. First with events and
 * retries alone, until clean twice in a row or `eventDrivenMs`; then after resyncs (as a
 * bridge's timer or a PingSource would send them), one at once and another every 30 s while
 * anything is open, until clean twice in a row or the deadline. The first resync is sent even
 * when events sufficed: pool counts follow the claims only through it, and claims nobody holds
 * are only collected by it.
 */
export async function settle(stack: ChaosStack, opts: SettleOptions): Promise<SettleResult> {
  const t0 = Date.now();
  const elapsed = (): number => Date.now() - t0;
  stack.sim.faults.clear();
  await stack.sim.faults.comeBack();
  await Promise.all(stack.processes().map((p) => p.start().catch((e: unknown) => opts.log(`settle: starting ${p.name} failed: ${String(e)}`))));
  const router = connectRouter({ url: stack.sim.url, username: stack.user.name, password: stack.user.password, timeoutMs: 5000 });
  const facts: SettleFacts = { foreignBefore: opts.foreignBefore, claimGraceMs: opts.claimGraceMs, resynced: {} };
  let last: { world?: World; violations: Violation[] } = { violations: [{ invariant: 'settle', detail: 'the world was never read' }] };
  let clean = 0;
  let forced = 0;
  const check = async (): Promise<void> => {
    await sleep(5000);
    last = await judge(stack, router, facts, opts.classes);
    clean = last.violations.length === 0 ? clean + 1 : 0;
    opts.progress(`settle t=${Math.round(elapsed() / 1000)}s${forced ? '' : ' (no resync yet)'}: ${last.violations.length} open violation(s)${last.violations.length ? ` (${kinds(last.violations)})` : ''}`);
  };
  try {
    while (elapsed() < opts.eventDrivenMs && clean < 2) await check();
    const eventDriven = { converged: clean >= 2, ms: elapsed(), open: clean >= 2 ? [] : last.violations };
    if (!eventDriven.converged) {
      for (const v of last.violations) opts.log(`settle: open without resync: [${v.invariant}] ${v.detail}`);
      await saveWorld(opts, 'before-resync', last.world);
    }
    clean = 0;
    let lastResync = 0;
    while (elapsed() < opts.settleMs && clean < 2) {
      if (clean === 0 && Date.now() - lastResync >= 30_000) {
        forced++;
        await forceResync(stack, facts.resynced, opts.log);
        lastResync = Date.now();
      }
      await check();
    }
    const converged = clean >= 2;
    if (!converged) await saveWorld(opts, 'final', last.world);
    return { violations: last.violations, ...(last.world ? { world: last.world } : {}), converged, ms: elapsed(), forcedResyncs: forced, eventDriven };
  } finally {
    await router.close();
  }
}

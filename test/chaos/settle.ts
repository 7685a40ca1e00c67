import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClassConfig } from '../../lib/core/service.js';
import { resyncInvocation, toCloudEvent } from '../../lib/events/cloudevent.js';
import { connectRouter, type RouterClient } from '../../lib/routeros/client/index.js';
import { checkInvariants, type Violation, type World } from './invariants.js';
import type { CommandTrace } from './router-trace.js';
import { readWorld } from './snapshot.js';
import type { ChaosStack } from './stack.js';
import { messageOf } from '../../lib/errors.js';

export interface SettleResult {
  /** What the last check found: the run's verdict. */
  violations: Violation[];
  world?: World;
  /** Clean twice in a row (5 s apart) before the deadline. */
  converged: boolean;
  ms: number;
  /** Resyncs the settle period sent itself. */
  forcedResyncs: number;
  /** The first stage, events and retries only (no resync from anyone): did that suffice? */
  eventDriven: { converged: boolean; ms: number; open: Violation[] };
}

export interface SettleOptions {
  settleMs: number;
  /** How long the first stage waits for convergence without any resync. */
  eventDrivenMs: number;
  classes: ClassConfig;
  foreignBefore: string;
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

/** Sends a resync to each function of set A, in order, and waits for the answers. */
async function forceResync(stack: ChaosStack, log: (l: string) => void): Promise<void> {
  for (const fn of [stack.sets.a.allocate, stack.sets.a.program, stack.sets.a.release]) {
    const ev = toCloudEvent(resyncInvocation({ source: 'chaos/settle' }));
    try {
      const res = await fetch(fn.url, { method: 'POST', headers: ev.headers, body: ev.body, signal: AbortSignal.timeout(120_000) });
      log(`settle: resync ${fn.name} answered ${res.status} ${(await res.text()).slice(0, 300)}`);
    } catch (e) {
      log(`settle: resync ${fn.name} failed: ${messageOf(e)}`);
    }
  }
}

async function judge(stack: ChaosStack, router: RouterClient, opts: SettleOptions): Promise<{ world?: World; violations: Violation[] }> {
  try {
    const world = await readWorld(stack.kube, router, stack.sim, opts.foreignBefore);
    return { world, violations: checkInvariants(world, opts.classes) };
  } catch (e) {
    return { violations: [{ invariant: 'settle', detail: `reading the world failed: ${messageOf(e)}` }] };
  }
}

/**
 * Faults off and everything up; then the invariants are judged every 5 s. First with events and
 * retries alone; if that does not converge, with resyncs (as a bridge's timer or a PingSource
 * would send them), until clean twice in a row or the deadline.
 */
export async function settle(stack: ChaosStack, opts: SettleOptions): Promise<SettleResult> {
  const t0 = Date.now();
  const elapsed = (): number => Date.now() - t0;
  stack.sim.faults.clear();
  await stack.sim.faults.comeBack();
  await Promise.all(stack.processes().map((p) => p.start().catch((e: unknown) => opts.log(`settle: starting ${p.name} failed: ${String(e)}`))));
  const router = connectRouter({ url: stack.sim.url, username: stack.user.name, password: stack.user.password, timeoutMs: 5000 });
  let last: { world?: World; violations: Violation[] } = { violations: [{ invariant: 'settle', detail: 'the world was never read' }] };
  let clean = 0;
  let forced = 0;
  let eventDriven: SettleResult['eventDriven'] | undefined;
  let lastResync = 0;
  try {
    while (elapsed() < opts.settleMs && clean < 2) {
      await sleep(5000);
      last = await judge(stack, router, opts);
      clean = last.violations.length === 0 ? clean + 1 : 0;
      opts.progress(`settle t=${Math.round(elapsed() / 1000)}s${eventDriven ? '' : ' (no resync yet)'}: ${last.violations.length} open violation(s)${last.violations.length ? ` (${kinds(last.violations)})` : ''}`);
      if (clean >= 2) break;
      if (!eventDriven && elapsed() >= opts.eventDrivenMs) {
        eventDriven = { converged: false, ms: elapsed(), open: last.violations };
        for (const v of last.violations) opts.log(`settle: open without resync: [${v.invariant}] ${v.detail}`);
        await saveWorld(opts, 'before-resync', last.world);
      }
      if (eventDriven && last.violations.length > 0 && Date.now() - lastResync >= 30_000) {
        forced++;
        await forceResync(stack, opts.log);
        lastResync = Date.now();
      }
    }
  } finally {
    await router.close();
  }
  const converged = clean >= 2;
  if (!converged) await saveWorld(opts, 'final', last.world);
  return {
    violations: last.violations, ...(last.world ? { world: last.world } : {}), converged, ms: elapsed(), forcedResyncs: forced,
    eventDriven: eventDriven ?? { converged, ms: elapsed(), open: converged ? [] : last.violations },
  };
}

import { objectInvocation, toCloudEvent } from '../../lib/events/cloudevent.js';
import { listAllocations } from '../../lib/k8s/typed.js';
import type { RouterSimFaults } from '../../lib/routeros/sim/index.js';
import type { MikrolbProcess } from './processes.js';
import type { Rng } from './rng.js';
import type { Rogue } from './rogue.js';
import { NAMESPACE } from './shapes.js';
import type { ChaosStack } from './stack.js';
import type { Workload } from './workload.js';
import { messageOf } from '../../lib/errors.js';

export interface StormCounts {
  steps: number;
  apiRestarts: number;
  apiDownMs: number;
  routerFaults: Record<string, number>;
  leaderElection: boolean[];
}

export interface StormContext {
  stack: ChaosStack;
  rng: Rng;
  durationMs: number;
  /** Workload steps per second. */
  rate: number;
  workload: Workload;
  rogue: Rogue;
  /** One line per chaos action, for the run's log. */
  log: (line: string) => void;
  /** Progress for the console. */
  progress: (line: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Runs `action` at random intervals until `end`; never sleeps past it. */
async function every(end: number, interval: () => number, action: () => Promise<void>): Promise<void> {
  for (;;) {
    const wait = interval();
    if (Date.now() + wait >= end) return sleep(end - Date.now());
    await sleep(wait);
    await action();
  }
}

function routerFault(faults: RouterSimFaults, rng: Rng, counts: Record<string, number>, log: (l: string) => void): () => Promise<void> {
  const commands = ['/ip/firewall/nat/add', '/ip/address/add', '/ipv6/address/add', '/ip/firewall/address-list/add', /\/remove$/, /\/set$/, /\/move$/, /\/print$/];
  return async () => {
    const kind = rng.pick(['refuse', 'drop', 'delay', 'trap', 'hang', 'fatal', 'away', 'away']);
    counts[kind] = (counts[kind] ?? 0) + 1;
    switch (kind) {
      case 'refuse': {
        const ms = rng.int(2000, 6000);
        log(`router refuses connections for ${ms} ms`);
        faults.refuseConnections(rng.chance(0.5) ? 'reset' : 'close');
        await sleep(ms);
        faults.refuseConnections(false);
        return;
      }
      case 'drop': {
        const n = rng.int(0, 40);
        log(`router drops a connection after ${n} sentences`);
        return faults.dropAfterSentences(n, { partial: rng.chance(0.5) });
      }
      case 'delay': {
        const ms = rng.int(100, 1500);
        log(`router delays replies by ${ms} ms`);
        faults.delayReplies(ms);
        await sleep(rng.int(3000, 10_000));
        faults.delayReplies(0);
        return;
      }
      case 'trap': {
        const c = rng.pick(commands);
        log(`router traps ${String(c)}`);
        return faults.trapCommand(c, { message: 'failure: chaos says no', times: rng.int(1, 3) });
      }
      case 'hang': {
        const c = rng.pick(commands);
        log(`router never answers ${String(c)} once`);
        return faults.hangCommand(c, { times: 1 });
      }
      case 'fatal':
        log('router answers the next command with !fatal');
        return faults.fatalOnNextCommand();
      default: {
        const ms = rng.int(4000, 15_000);
        log(`router goes away for ${ms} ms`);
        await faults.goAway();
        await sleep(ms);
        await faults.comeBack();
      }
    }
  };
}

/** Kills one function process of a set at random points and starts it again after a short outage. */
function killer(processes: MikrolbProcess[], rng: Rng, log: (l: string) => void): () => Promise<void> {
  return async () => {
    const p = rng.pick(processes);
    const down = rng.int(0, 3000);
    log(`SIGKILL ${p.name}, back in ${down} ms`);
    await p.kill();
    await sleep(down);
    await p.start().catch(failed(`restarting ${p.name}`, log));
  };
}

interface Storm {
  ctx: StormContext;
  t0: number;
  end: number;
  counts: StormCounts;
}

const failed = (what: string, log: (l: string) => void) => (e: unknown): void => log(`${what} failed: ${messageOf(e)}`);

function workloadLoop({ ctx, end, counts }: Storm): Promise<void> {
  const rng = ctx.rng.fork('workload');
  const gap = (): number => Math.min(5000, Math.max(50, -Math.log(1 - rng.next()) * (1000 / ctx.rate)));
  return every(end, gap, async () => {
    ctx.log(await ctx.workload.step());
    counts.steps++;
  });
}

/** Per set of functions: a random process, at a random moment. */
function randomKills({ ctx, end }: Storm): Promise<void>[] {
  return (['a', 'b'] as const).map((set) => {
    const rng = ctx.rng.fork(`kill-${set}`);
    return every(end, () => rng.int(3000, 12_000), killer(Object.values(ctx.stack.sets[set]), rng, ctx.log));
  });
}

/** Right after a workload write, the function it woke (likely mid-invocation), in one set or both. */
function aimedKills({ ctx, end }: Storm): Promise<void> {
  const { stack, log } = ctx;
  const rng = ctx.rng.fork('aimed');
  return every(end, () => rng.int(3000, 9000), async () => {
    const what = await Promise.race([ctx.workload.nextStep(), sleep(end - Date.now()).then(() => undefined)]);
    if (what === undefined) return;
    const fn = /^(delete|re-create|flash)/.test(what) ? 'release' : /^(create|annotate|s-\d+ becomes)/.test(what) ? rng.pick(['allocate', 'program'] as const) : 'program';
    const targets = rng.chance(0.3) ? [stack.sets.a[fn], stack.sets.b[fn]] : [rng.pick([stack.sets.a, stack.sets.b])[fn]];
    await sleep(rng.int(0, 400));
    const down = rng.int(0, 2000);
    log(`aimed SIGKILL ${targets.map((p) => p.name).join(' and ')} after "${what.slice(0, 60)}", back in ${down} ms`);
    await Promise.all(targets.map((p) => p.kill()));
    await sleep(down);
    await Promise.all(targets.map((p) => p.start().catch(failed(`restarting ${p.name}`, log))));
  });
}

/** Bridge A SIGKILLed now and then; halfway, both bridges restart with leader election flipped. */
function bridgeChaos({ ctx, end, counts }: Storm): Promise<void>[] {
  const { stack, log } = ctx;
  const rng = ctx.rng.fork('bridge');
  const kills = every(end, () => rng.int(20_000, 45_000), async () => {
    const down = rng.int(0, 4000);
    log(`SIGKILL bridge-a, back in ${down} ms`);
    await stack.bridges.killA(down).catch(failed('restarting bridge-a', log));
  });
  const flip = (async () => {
    await sleep(ctx.durationMs / 2);
    const le = !stack.bridges.leaderElection;
    log(`both bridges restart with leader election ${le ? 'on' : 'off'}`);
    await stack.bridges.restart(le);
    counts.leaderElection.push(le);
  })();
  return [kills, flip];
}

/** One API server restart per 75 s of storm (at least one), 3-10 s down each. */
async function apiOutages({ ctx, t0, counts }: Storm): Promise<void> {
  const rng = ctx.rng.fork('api');
  const n = ctx.durationMs >= 150_000 ? 2 : 1;
  for (let i = 0; i < n; i++) {
    await sleep(t0 + ctx.durationMs * ((i + rng.next() * 0.6 + 0.2) / n) - Date.now());
    const down = rng.int(3000, 10_000);
    ctx.log(`API server stops for ${down} ms`);
    const s0 = Date.now();
    await ctx.stack.cluster.stopApiServer();
    await sleep(down);
    await ctx.stack.cluster.startApiServer();
    counts.apiRestarts++;
    counts.apiDownMs += Date.now() - s0;
    ctx.log(`API server is back after ${Date.now() - s0} ms`);
  }
}

/**
 * The program/release race, aimed: router replies slowed down so program's read-to-write window
 * spans a deletion, program events for a live Service sent to both program functions, and the
 * Service deleted meanwhile (release follows through the bridges). No entry of it may remain
 * (the router-leak invariant).
 */
function programReleaseRaces({ ctx, end }: Storm): Promise<void> {
  const rng = ctx.rng.fork('race');
  const { stack } = ctx;
  const post = async (url: string, name: string): Promise<void> => {
    const ev = toCloudEvent(objectInvocation('update', { kind: 'Service', namespace: NAMESPACE, name }, { source: 'chaos/race' }));
    await fetch(url, { method: 'POST', headers: ev.headers, body: ev.body, signal: AbortSignal.timeout(30_000) }).then((r) => r.text()).catch(() => undefined);
  };
  return every(end, () => rng.int(8000, 20_000), async () => {
    const delay = rng.int(200, 800);
    stack.sim.faults.delayReplies(delay);
    const what = await ctx.workload.deleteDuring(async (name) => {
      await Promise.all([stack.sets.a.program, stack.sets.b.program].filter((p) => p.running()).map((p) => post(p.url, name)));
    }).catch((e: unknown) => `race failed: ${messageOf(e)}`);
    stack.sim.faults.delayReplies(0);
    if (what) ctx.log(`${what} (router replies delayed ${delay} ms)`);
  });
}

function rogueLoops({ ctx, end }: Storm): Promise<void>[] {
  const rng = ctx.rng.fork('rogue-timing');
  const bursts = every(end, () => rng.int(300, 2000), () => ctx.rogue.burst());
  const learn = every(end, () => 10_000, async () => {
    const listed = await listAllocations(ctx.stack.kube).catch(() => undefined);
    ctx.rogue.learnAllocations(listed?.items.map((a) => a.metadata.name) ?? []);
  });
  return [bursts, learn];
}

function ticker({ ctx, t0, end, counts }: Storm): Promise<void> {
  return every(end, () => 15_000, async () => {
    const kills = ctx.stack.processes().reduce((n, p) => n + p.counts.kills, 0);
    const faults = Object.values(counts.routerFaults).reduce((n, x) => n + x, 0);
    ctx.progress(`t=${Math.round((Date.now() - t0) / 1000)}s steps=${counts.steps} kills=${kills}+${ctx.stack.bridges.counts.killsA} api-restarts=${counts.apiRestarts} router-faults=${faults} rogue-events=${ctx.rogue.counts.sent}`);
  });
}

/** Everything at once, until the storm's end: workload, kills, API outages, router faults, rogue events, bridge changes. */
export async function runStorm(ctx: StormContext): Promise<StormCounts> {
  const t0 = Date.now();
  const counts: StormCounts = { steps: 0, apiRestarts: 0, apiDownMs: 0, routerFaults: {}, leaderElection: [ctx.stack.bridges.leaderElection] };
  const storm: Storm = { ctx, t0, end: t0 + ctx.durationMs, counts };
  const rr = ctx.rng.fork('router');
  await Promise.all([
    workloadLoop(storm), ...randomKills(storm), aimedKills(storm), programReleaseRaces(storm), ...bridgeChaos(storm), apiOutages(storm),
    every(storm.end, () => rr.int(4000, 12_000), routerFault(ctx.stack.sim.faults, rr, counts.routerFaults, ctx.log)),
    ...rogueLoops(storm), ticker(storm),
  ]);
  return counts;
}

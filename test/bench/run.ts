/**
 * `npm run bench [-- --json] [--services N] [--rounds N] [--only a,b]`: MikroLB's figures on this machine,
 * each scenario on its own real API server and RouterOS simulator, each figure printed with its
 * target (issue 14) and whether it was met. Figures, not pass/fail: the exit code does not
 * depend on them. Scenarios: convergence (ours and the minimal reference controller), teardown
 * (the same Services deleted at once: no target), rollout (every Service's pods replaced: no
 * target), restart (our controller restarted over the converged Services: no target), idle,
 * coldstart, bridge, pools, choose-scale, pool-scale (`--pool-allocations N`, default 50,000),
 * router, routes. Convergence runs `--rounds` times (default 3; see convergence()).
 * `convergence-split` (only when named in `--only`) runs convergence with kube-apiserver and
 * etcd on half of the CPUs and everything else on the other half (affinity.ts): no target.
 */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { splitCpus } from './affinity.js';
import { convergence, idleLatency, RATE_RATIO_TARGET, type ConvergenceResult } from './convergence.js';
import { compileChildren, imageProcess } from './controllers.js';
import { nodeRelease } from '../node-release.js';
import { fillIPv6Pool } from './claims.js';
import { allocateInLargePools, chooseScaling, chooseTimes } from './pools.js';
import { bridgeFootprint, coldStart, type ColdStarts } from './processes.js';
import { routerProgramming, routeTableCost } from './router.js';
import { rollout } from './rollout.js';
import { restart } from './restart.js';
import { teardown } from './teardown.js';
import { fig, table, targets } from './report.js';
import { ms } from './support.js';
import { BENCH_USAGE, benchOptions, ON_REQUEST } from './options.js';
import { messageOf } from '../../lib/errors.js';

const parsed = benchOptions(process.argv.slice(2));
if ('help' in parsed) {
  process.stdout.write(BENCH_USAGE);
  process.exit(0);
}
if ('error' in parsed) {
  process.stderr.write(`npm run bench: ${parsed.error}\n${BENCH_USAGE}`);
  process.exit(2);
}
const { services: N, bridgeServices: BRIDGE_N, poolAllocations: POOL_N, rounds: ROUNDS, only } = parsed;
const want = (name: string): boolean => (only ? only.includes(name) : !ON_REQUEST.has(name));
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const goals = targets();
const results: Record<string, unknown> = {
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
  date: new Date().toISOString(),
};

async function scenario<T>(name: string, title: string, run: () => Promise<T> | T, describe: (r: T) => string[]): Promise<void> {
  if (!want(name)) return;
  log(`\n== ${title}`);
  const t = performance.now();
  try {
    const r = await run();
    results[name] = r;
    for (const line of describe(r)) log(`  ${line}`);
  } catch (e) {
    results[name] = { error: messageOf(e) };
    log(`  FAILED: ${messageOf(e)}`);
  }
  log(`  (${((performance.now() - t) / 1000).toFixed(0)} s)`);
}

if (want('coldstart') || want('bridge') || want('convergence') || want('convergence-split') || want('teardown') || want('rollout') || want('restart')) {
  log('building dist/ (npm run build) for the process scenarios');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: join(import.meta.dirname, '..', '..'), stdio: ['ignore', 2, 2] }); // stdout stays JSON-only
}
if (want('convergence') || want('convergence-split') || want('teardown') || want('rollout') || want('restart')) {
  log('compiling the reference controller and the probe (test/bench/child)');
  await compileChildren();
}

await scenario('convergence', `Convergence: ${N} LoadBalancer Services (2 endpoints each) created at once, ours vs the minimal reference controller${ROUNDS > 1 ? `, ${ROUNDS} rounds (medians)` : ''}`, () => convergence(N, log, ROUNDS), (r) => describeConvergence(r, goals));
await scenario('convergence-split', `Convergence with the cores split: kube-apiserver and etcd on half of the CPUs, the controllers, the bench and the simulator on the other half (as when the controller runs on another node than the API server; no target)${ROUNDS > 1 ? `, ${ROUNDS} rounds (medians)` : ''}`, () => convergence(N, log, ROUNDS, { split: splitCpus(cpus().length) }), (r) => describeConvergence(r));
await scenario('teardown', `Teardown: ${N} converged LoadBalancer Services deleted at once (with their slices), until release has let every one go`, () => teardown(N, log), (r) => [
  `released ${r.services} Services in ${fig(r.seconds)} s (${fig(r.servicesPerSecond)}/s): finalizers removed, allocations and claims deleted, router entries gone`,
  `per Service: ${fig(r.apiRequestsPerService)} API requests, ${fig(r.routerRoundTripsPerService)} router round trips; CPU: our controller ${fig(r.cpuMsPerService)} ms, kube-apiserver ${fig(r.apiServerCpuMsPerService)}, etcd ${fig(r.etcdCpuMsPerService)}; the machine ${fig(r.idlePercent, 1)} % idle`,
  'our API requests by function × verb × resource (top 20, per Service):',
  ...table(r.requestsByCall.slice(0, 20).map(([call, n]) => [`  ${call}`, String(n), `${fig(n / r.services, 2)}/Service`])),
]);
await scenario('rollout', `Rollout: ${N} converged LoadBalancer Services whose pods are all replaced at once (each slice updated twice), until the router sends to the new pods only`, () => rollout(N, log), (r) => [
  `rolled ${r.services} Services (${r.sliceUpdates} slice updates) in ${fig(r.seconds)} s (${fig(r.servicesPerSecond)}/s): every dst-nat rule sends to a new pod, none to an old one`,
  `per Service: ${fig(r.apiRequestsPerService)} API requests, ${fig(r.routerRoundTripsPerService)} router round trips; CPU: our controller ${fig(r.cpuMsPerService)} ms, kube-apiserver ${fig(r.apiServerCpuMsPerService)}, etcd ${fig(r.etcdCpuMsPerService)}; the machine ${fig(r.idlePercent, 1)} % idle`,
  'our API requests by function × verb × resource (top 10, per Service):',
  ...table(r.requestsByCall.slice(0, 10).map(([call, n]) => [`  ${call}`, String(n), `${fig(n / r.services, 2)}/Service`])),
]);
await scenario('restart', `Restart: our controller stopped and started again over ${N} converged LoadBalancer Services, until it is quiet`, () => restart(N, log), (r) => [
  `ready ${fig(r.readySeconds)} s and quiet ${fig(r.quietSeconds)} s after its start; invocations: ${Object.entries(r.invocations).map(([fn, k]) => `${fn} ${k}`).join(', ')}`,
  `router: ${r.routerWrites} writes, configuration ${r.routerUnchanged ? 'unchanged' : 'CHANGED'}`,
  `per Service: ${fig(r.apiRequestsPerService)} API requests, ${fig(r.routerRoundTripsPerService)} router round trips; CPU: our controller ${fig(r.cpuMsPerService)} ms (its start-up included), kube-apiserver ${fig(r.apiServerCpuMsPerService)}, etcd ${fig(r.etcdCpuMsPerService)}; the machine ${fig(r.idlePercent, 1)} % idle`,
  'our API requests by function × verb × resource (top 10, per Service):',
  ...table(r.requestsByCall.slice(0, 10).map(([call, n]) => [`  ${call}`, String(n), `${fig(n / r.services, 2)}/Service`])),
]);
await scenario('idle', 'Idle latency: one Service at a time on a quiet system', () => idleLatency(20, log), (r) => [
  `creation → ingress over ${r.samples} Services: p50 ${ms(r.p50)} (target ≤ 60 ms: ${goals.check('idle', 'creation → ingress p50', r.p50, '<=', 60, ' ms')}), p99 ${ms(r.p99)} (target ≤ 150 ms: ${goals.check('idle', 'creation → ingress p99', r.p99, '<=', 150, ' ms')})`,
]);
await scenario('coldstart', 'Function cold start: mikrolb serve allocate (compiled)', async () => coldStart(await nodeRelease((await imageProcess()).nodeVersion, log)), (r) => {
  const each = (c: ColdStarts): string => `median of ${c.samplesMs.length} ${ms(c.medianMs)} (each: ${c.samplesMs.map((x) => x.toFixed(0)).join(', ')})`;
  const machine = process.version.replace(/^v/, '');
  // The target is the image's: where its Node.js could not be fetched, this machine's stands in (and says so).
  const target = r.image ?? r.machineNode;
  return [
    r.image
      ? `process start → first invocation answered, as the image runs it (its Node.js ${r.imageNodeVersion}; ${r.access}): ${each(r.image)}`
      : `as the image runs it: not measured, its Node.js could not be fetched (${r.imageNodeMissing ?? 'unknown'}); this machine's Node.js ${machine} stands in`,
    `  target ≤ 300 ms: ${goals.check('coldstart', 'process start → first invocation answered', target.medianMs, '<=', 300, ' ms')}`,
    `the same with this machine's Node.js ${machine}: ${each(r.machineNode)}`,
    `this machine's Node.js and environment (NODE_EXTRA_CA_CERTS set), a kubeconfig, no invocation auth (as measured before December 3): ${each(r.machineNodeAndEnv)}`,
    `RSS after 1,000 invocations: ${r.rssAfter1000Mb.toFixed(0)} MB (${r.invocationsPerSecond.toFixed(0)} invocations/s, one at a time)`,
  ];
});
await scenario('bridge', `Bridge footprint: mikrolb bridge (compiled) tracking ${BRIDGE_N} Services + EndpointSlices`, () => bridgeFootprint(BRIDGE_N, log), (r) => [
  `RSS: ${r.idleRssMb.toFixed(0)} MB before, ${r.rssMb.toFixed(0)} MB after (peak ${r.peakRssMb.toFixed(0)} MB) (target: peak ≤ 150 MB: ${goals.check('bridge', `RSS peak tracking ${BRIDGE_N} Services + slices`, r.peakRssMb, '<=', 150, ' MB')})`,
  `CPU: ${r.cpuDuringLoadPercent.toFixed(0)} % of a core while the objects were created, ${r.cpuIdlePercent.toFixed(1)} % idle; ${r.invocations} invocations sent`,
]);
await scenario('pools', 'Large pools: choosing and allocating', async () => ({ choose: chooseTimes(), allocate: await allocateInLargePools() }), (r) => [
  `choose (address engine): IPv6 /64 with 10,000 taken ${ms(r.choose.v6TakenMs)}; IPv4 /16 with one free ${ms(r.choose.v4OneFreeMs)}`,
  `allocate (function, real API server, cold instance): IPv6 /64 with 10,000 claims ${ms(r.allocate.v6With10kMs)}; IPv4 /20 with one free (${r.allocate.v4Held} claims) ${ms(r.allocate.v4OneFreeMs)}`,
]);
await scenario('choose-scale', 'Address engine: choosing for a new Service in a pool holding 10 vs 20,000 addresses', () => chooseScaling(), (r) => r.map((p) =>
  `${p.pool}: ${fig(p.held10Us, 2)} µs with 10 held, ${fig(p.held20kUs, 2)} µs with 20,000 held: ${fig(p.ratio, 1)}× (target ≤ 1.5×: ${goals.check('choose-scale', `choose cost 20,000 ÷ 10 held, ${p.pool}`, p.ratio, '<=', 1.5, '×')})`));
await scenario('pool-scale', `One IPv6 pool filled with ${POOL_N.toLocaleString('en')} allocations through allocate (real API server, 16 in flight)`, () => fillIPv6Pool(POOL_N, 16, log), (r) => [
  `${r.allocations.toLocaleString('en')} allocations in ${r.seconds.toFixed(0)} s (${fig(r.allocationsPerSecond, 1)}/s): ${r.claims.toLocaleString('en')} claims, ${r.retriedLater} invocations answered "retry later" and delivered again, ${r.duplicates} duplicate addresses, ${r.unallocated} without an address (target: all, 0 duplicates: ${goals.check('pool-scale', 'allocations without an address or duplicated', r.duplicates + r.unallocated, '<=', 0, '')}); the pool reports ${r.poolAllocated ?? '?'} allocated`,
  `one allocation, median of the first vs the last 1,000: ${ms(r.firstMs)} vs ${ms(r.lastMs)}: ${fig(r.lastMs / r.firstMs, 2)}× (target ≤ 1.5×: ${goals.check('pool-scale', 'allocate cost, last ÷ first 1,000', r.lastMs / r.firstMs, '<=', 1.5, '×')})`,
]);
await scenario('router', `Router programming: ${N} Services into the simulator`, () => routerProgramming(N), (r) => [
  `from scratch: ${r.programSeconds.toFixed(1)} s, ${r.programRoundTrips} round trips (${(r.programRoundTrips / r.services).toFixed(1)} per Service), ${r.entries} router entries`,
  `one Service, median of the first vs the last tenth: ${ms(r.firstTenthMs)} vs ${ms(r.lastTenthMs)} (${fig(r.lastTenthMs / r.firstTenthMs, 2)}×)`,
  `resync with nothing to change: ${ms(r.resyncMs)}, ${r.resyncRoundTrips} round trip(s), ${r.resyncOps} changes`,
]);
await scenario('routes', 'Route tables: programming one Service (pool without interfaceName) with 10 and 1,000,000 routes in the simulator', async () => {
  const small = await routeTableCost(10);
  const large = await routeTableCost(Number(process.env.MIKROLB_BENCH_ROUTES ?? 1_000_000));
  return { small, large };
}, (r) => [r.small, r.large].map((c) =>
  `${c.routes.toLocaleString('en')} routes: ${c.roundTrips} round trips, ${c.routeEntriesRead} route entries read, ${(c.bytesReceived / 1024).toFixed(1)} KiB received, advertised on ${c.interfaceName ?? '-'}; ${ms(c.programMs)} wall clock and heap ${c.heapDeltaMb >= 0 ? '+' : ''}${c.heapDeltaMb.toFixed(1)} MiB, both including the in-process simulator's scan of its table for the query (the router's own work; seeded in ${c.seedSeconds.toFixed(1)} s)`));

/**
 * The convergence report: each figure with its target (checked against `checks`, the issue's
 * measurement), or, for a run with the cores split, the figures alone.
 */
function describeConvergence(r: ConvergenceResult, checks?: typeof goals): string[] {
  const { ours, reference: ref, ratios } = r;
  const c = (figure: string, value: number, op: '<=' | '>=', bound: number, unit = ''): string => checks?.check('convergence', figure, value, op, bound, unit) ?? '';
  /** A target's text, where this run's figures are checked against the targets. */
  const t = (target: string): string => (checks ? target : '');
  const split = r.split && r.server ? { cpus: r.split, server: r.server } : undefined;
  const rows = [
    ['figure', 'ours', 'reference', 'ours/ref', 'target', 'met?'],
    ['Services/s until ingress (ours: and dst-nat rules)', fig(ours.servicesPerSecond), fig(ref.servicesPerSecond), fig(ratios.servicesPerSecond, 2), t('≥ 40/s'), c('Services/s', ours.servicesPerSecond, '>=', 40, '/s')],
    ...(checks ? [['', '', '', '', `ratio ≥ ${RATE_RATIO_TARGET}`, c('Services/s ÷ reference', ratios.servicesPerSecond, '>=', RATE_RATIO_TARGET)]] : []),
    ['API requests per Service', fig(ours.apiRequestsPerService), fig(ref.apiRequestsPerService), fig(ratios.apiRequestsPerService, 1), t('≤ 8'), c('API requests per Service', ours.apiRequestsPerService, '<=', 8)],
    ['router round trips per Service', fig(ours.routerRoundTripsPerService), '–', '', t('≤ 3'), c('router round trips per Service', ours.routerRoundTripsPerService ?? Number.NaN, '<=', 3)],
    ['router commands per Service', fig(ours.routerCommandsPerService), '–', '', '', ''],
    ['router reply sentences / bytes per Service', ours.routerRepliesPerService ? `${fig(ours.routerRepliesPerService.sentences)} / ${fig(ours.routerRepliesPerService.bytes, 0)}` : '–', '–', '', '', ''],
    ['controller CPU per Service (ms)', fig(ours.cpuMsPerService), fig(ref.cpuMsPerService), fig(ratios.cpuMsPerService, 1), t('≤ 15 ms'), c('controller CPU per Service', ours.cpuMsPerService, '<=', 15, ' ms')],
    ['kube-apiserver CPU per Service (ms)', fig(ours.apiServerCpuMsPerService), fig(ref.apiServerCpuMsPerService), fig(ours.apiServerCpuMsPerService / ref.apiServerCpuMsPerService, 1), '', ''],
    ['etcd CPU per Service (ms)', fig(ours.etcdCpuMsPerService), fig(ref.etcdCpuMsPerService), fig(ours.etcdCpuMsPerService / ref.etcdCpuMsPerService, 1), '', ''],
    ['bench process CPU per Service (ms; ours: and the simulator)', fig(ours.benchCpuMsPerService), fig(ref.benchCpuMsPerService), fig(ours.benchCpuMsPerService / ref.benchCpuMsPerService, 1), '', ''],
    ['RSS peak during the run (MB)', fig(ours.peakRssMb, 0), fig(ref.peakRssMb, 0), fig(ratios.peakRssMb, 1), t('≤ 150 MB'), c('RSS peak during the run', ours.peakRssMb, '<=', 150, ' MB')],
    ['RSS idle, before the run (MB)', fig(ours.idleRssMb, 0), fig(ref.idleRssMb, 0), '', t('≤ 100 MB'), c('RSS idle', ours.idleRssMb, '<=', 100, ' MB')],
    ['all converged after (s)', fig(ours.totalSeconds), fig(ref.totalSeconds), '', '', ''],
    ['the hypervisor\'s steal time during the run (%)', fig(ours.stealPercent, 1), fig(ref.stealPercent, 1), '', '', ''],
    ['the machine idle during the run (%)', fig(ours.idlePercent, 1), fig(ref.idlePercent, 1), '', '', ''],
    ...(split ? [
      [`idle on the API server's CPUs (${split.cpus.server.join(', ')}) during the run (%)`, fig(ours.coreIdlePercent?.server, 1), fig(ref.coreIdlePercent?.server, 1), '', '', ''],
      [`idle on the other CPUs (${split.cpus.clients.join(', ')}: controller, bench, simulator) (%)`, fig(ours.coreIdlePercent?.clients, 1), fig(ref.coreIdlePercent?.clients, 1), '', '', ''],
      ['kube-apiserver and etcd CPU per Service (ms)', fig(split.server.oursMs), fig(split.server.referenceMs), `${fig(split.server.ratio, 2)} (ref/ours)`, '', ''],
    ] : []),
    ['the machine\'s CPU per Service (ms; the four processes above)', fig(r.cpu.oursMs), fig(r.cpu.referenceMs), `${fig(r.cpu.cpuRatio, 2)} (ref/ours)`, '', ''],
    ['creation → ingress p50 / p99 (ms)', `${fig(ours.latencyMs.p50, 0)} / ${fig(ours.latencyMs.p99, 0)}`, `${fig(ref.latencyMs.p50, 0)} / ${fig(ref.latencyMs.p99, 0)}`, '', '', ''],
  ];
  return [
    ...(r.rounds.length > 1 ? [
      // the CPU the rate follows: the machine's, or with the cores split the API server's side
      ...table([['round', 'ours Services/s', 'reference Services/s', 'ours/ref', `${split ? "kube-apiserver and etcd's" : "the machine's"} CPU per Service ref/ours`, 'steal % (ours / ref)'],
        ...r.rounds.map((x, i) => [String(i + 1), fig(x.ours.servicesPerSecond), fig(x.reference.servicesPerSecond), fig(x.ratio, 2), fig(split ? x.server?.ratio : x.cpu.cpuRatio, 2), `${fig(x.ours.stealPercent, 1)} / ${fig(x.reference.stealPercent, 1)}`])]),
      `each figure below: the median of the ${r.rounds.length} rounds (ours/ref of the rate: the median of the rounds' ratios)`,
    ] : []),
    ...table(rows),
    split
      ? `with the cores split, the API server's CPUs fill first (idle above): both runs go as fast as kube-apiserver and etcd answer them, so the rate's ratio follows their CPU per Service in each run: ${fig(split.server.ratio, 2)} (medians of the rounds)`
      : `what the CPU leaves for the rate's ratio (medians of the rounds; a busy machine's rate is its CPU ÷ the CPU per Service): ${fig(r.cpu.cpuRatio, 2)} as measured; ${fig(r.cpu.withoutController, 2)} if our controller cost nothing (the rest of our run: kube-apiserver and etcd answering our writes, the bench, the simulator); ${RATE_RATIO_TARGET} needs our controller at ${fig(r.cpu.controllerBudgetMs, 1)} ms of CPU per Service or less (measured: ${fig(ours.cpuMsPerService, 1)})`,
    'our API requests during convergence by function × verb × resource (top 10, per Service):',
    ...table(ours.requestsByCall.slice(0, 10).map(([call, n]) => [`  ${call}`, String(n), `${fig(n / ours.services, 2)}/Service`])),
    `reference: ${ref.requestsByCall.map(([call, n]) => `${call} ${n}`).join(', ')}`,
  ];
}

const checked = goals.all();
results.targets = checked;
if (checked.length > 0) {
  log('\n== Targets (issue 14)');
  for (const line of table([['scenario', 'figure', 'value', 'target', 'met?'], ...checked.map((t) => [t.scenario, t.figure, fig(t.value, 2), t.target, t.met ? 'met' : 'MISSED'])])) log(`  ${line}`);
}
if (parsed.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);

/**
 * `npm run bench [-- --json] [--services N] [--only a,b]`: MikroLB's figures on this machine,
 * each scenario on its own real API server and RouterOS simulator. Figures, not pass/fail.
 */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { convergence, idleLatency } from './convergence.js';
import { allocateInLargePools, chooseTimes } from './pools.js';
import { bridgeFootprint, coldStart } from './processes.js';
import { routerProgramming, routeTableCost } from './router.js';
import { ms } from './support.js';
import { messageOf } from '../../lib/errors.js';

const { values } = parseArgs({ options: { json: { type: 'boolean' }, services: { type: 'string' }, 'bridge-services': { type: 'string' }, only: { type: 'string' } } });
const N = Number(values.services ?? 1000);
const BRIDGE_N = Number(values['bridge-services'] ?? 10_000);
const only = values.only?.split(',');
const want = (name: string): boolean => !only || only.includes(name);
const log = (line: string): void => void process.stderr.write(`${line}\n`);
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

if (want('coldstart') || want('bridge')) {
  log('building dist/ (npm run build) for the process scenarios');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: join(import.meta.dirname, '..', '..'), stdio: 'inherit' });
}

await scenario('convergence', `Convergence: ${N} LoadBalancer Services (2 endpoints each) created at once`, () => convergence(N, log), (r) => [
  `all converged (ingress + router rules) in ${r.totalSeconds.toFixed(1)} s (target: under 30 s for 1,000)`,
  `creation → ingress: p50 ${ms(r.latencyMs.p50)}, p95 ${ms(r.latencyMs.p95)}, p99 ${ms(r.latencyMs.p99)}`,
  `API requests per Service (the functions'): ${r.apiRequestsPerService.toFixed(1)}`,
  `router round trips per Service: ${r.routerRoundTripsPerService.toFixed(1)} (${r.routerCommandsPerService.toFixed(1)} API commands)`,
]);
await scenario('idle', 'Idle latency: one Service at a time on a quiet system', () => idleLatency(20, log), (r) => [
  `creation → ingress over ${r.samples} Services: p50 ${ms(r.p50)}, p99 ${ms(r.p99)} (target: p50 under 150 ms)`,
]);
await scenario('coldstart', 'Function cold start: mikrolb serve allocate (compiled)', () => coldStart(), (r) => [
  `process start → first invocation answered: ${ms(r.coldStartMs)} (target: under 500 ms)`,
  `RSS after 1,000 invocations: ${r.rssAfter1000Mb.toFixed(0)} MB (${r.invocationsPerSecond.toFixed(0)} invocations/s, one at a time)`,
]);
await scenario('bridge', `Bridge footprint: mikrolb bridge (compiled) tracking ${BRIDGE_N} Services + EndpointSlices`, () => bridgeFootprint(BRIDGE_N, log), (r) => [
  `RSS: ${r.idleRssMb.toFixed(0)} MB before, ${r.rssMb.toFixed(0)} MB after (peak ${r.peakRssMb.toFixed(0)} MB) (target: under 150 MB)`,
  `CPU: ${r.cpuDuringLoadPercent.toFixed(0)} % of a core while the objects were created, ${r.cpuIdlePercent.toFixed(1)} % idle; ${r.invocations} invocations sent`,
]);
await scenario('pools', 'Large pools: choosing and allocating', async () => ({ choose: chooseTimes(), allocate: await allocateInLargePools() }), (r) => [
  `choose (address engine): IPv6 /64 with 10,000 taken ${ms(r.choose.v6TakenMs)}; IPv4 /16 with one free ${ms(r.choose.v4OneFreeMs)}`,
  `allocate (function, real API server): IPv6 /64 with 10,000 in the ledger (${(r.allocate.v6LedgerBytes / 1024).toFixed(0)} KiB) ${ms(r.allocate.v6WithLedger10kMs)}; IPv4 /20 with one free (${r.allocate.v4Ledger} held) ${ms(r.allocate.v4OneFreeMs)}`,
]);
await scenario('router', `Router programming: ${N} Services into the simulator`, () => routerProgramming(N), (r) => [
  `from scratch: ${r.programSeconds.toFixed(1)} s, ${r.programRoundTrips} round trips (${(r.programRoundTrips / r.services).toFixed(1)} per Service), ${r.entries} router entries`,
  `resync with nothing to change: ${ms(r.resyncMs)}, ${r.resyncRoundTrips} round trip(s), ${r.resyncOps} changes`,
]);
await scenario('routes', 'Route tables: programming one Service (pool without interfaceName) with 10 and 1,000,000 routes in the simulator', async () => {
  const small = await routeTableCost(10);
  const large = await routeTableCost(Number(process.env.MIKROLB_BENCH_ROUTES ?? 1_000_000));
  return { small, large };
}, (r) => [r.small, r.large].map((c) =>
  `${c.routes.toLocaleString('en')} routes: ${c.roundTrips} round trips, ${c.routeEntriesRead} route entries read, ${(c.bytesReceived / 1024).toFixed(1)} KiB received, advertised on ${c.interfaceName ?? '-'}; ${ms(c.programMs)} wall clock and heap ${c.heapDeltaMb >= 0 ? '+' : ''}${c.heapDeltaMb.toFixed(1)} MiB, both including the in-process simulator's scan of its table for the query (the router's own work; seeded in ${c.seedSeconds.toFixed(1)} s)`));

if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);

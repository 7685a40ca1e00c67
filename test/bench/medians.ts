import type { ControllerRun } from './convergence.js';

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}

/** One controller's runs as one: each figure's median; the requests by call of the run with the median rate. */
export function medianRun(runs: readonly ControllerRun[]): ControllerRun {
  const [first] = runs;
  if (!first) throw new Error('no run to summarise');
  if (runs.length === 1) return first;
  const m = (f: (r: ControllerRun) => number | undefined): number => median(runs.map((r) => f(r) ?? Number.NaN));
  const optional = (f: (r: ControllerRun) => number | undefined): number | undefined => (f(first) === undefined ? undefined : m(f));
  const rate = m((r) => r.servicesPerSecond);
  const middle = [...runs].sort((a, b) => Math.abs(a.servicesPerSecond - rate) - Math.abs(b.servicesPerSecond - rate))[0] ?? first;
  const roundTrips = optional((r) => r.routerRoundTripsPerService);
  const commands = optional((r) => r.routerCommandsPerService);
  const replies = first.routerRepliesPerService ? { sentences: m((r) => r.routerRepliesPerService?.sentences), bytes: m((r) => r.routerRepliesPerService?.bytes) } : undefined;
  return {
    controller: first.controller, services: first.services,
    totalSeconds: m((r) => r.totalSeconds), servicesPerSecond: rate,
    latencyMs: { p50: m((r) => r.latencyMs.p50), p95: m((r) => r.latencyMs.p95), p99: m((r) => r.latencyMs.p99) },
    apiRequestsPerService: m((r) => r.apiRequestsPerService), requestsByCall: middle.requestsByCall,
    ...(roundTrips === undefined ? {} : { routerRoundTripsPerService: roundTrips }),
    ...(commands === undefined ? {} : { routerCommandsPerService: commands }),
    ...(replies ? { routerRepliesPerService: replies } : {}),
    cpuMsPerService: m((r) => r.cpuMsPerService),
    apiServerCpuMsPerService: m((r) => r.apiServerCpuMsPerService), etcdCpuMsPerService: m((r) => r.etcdCpuMsPerService),
    benchCpuMsPerService: m((r) => r.benchCpuMsPerService),
    idleRssMb: m((r) => r.idleRssMb), peakRssMb: m((r) => r.peakRssMb),
    stealPercent: m((r) => r.stealPercent), idlePercent: m((r) => r.idlePercent),
    ...(first.coreIdlePercent ? { coreIdlePercent: { server: m((r) => r.coreIdlePercent?.server), clients: m((r) => r.coreIdlePercent?.clients) } } : {}),
  };
}

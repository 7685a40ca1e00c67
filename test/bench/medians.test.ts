import { describe, expect, it } from 'vitest';
import type { ControllerRun } from './convergence.js';
import { median, medianRun } from './medians.js';
import { machineCpu, machineQuiet, stealPercent } from './support.js';

const run = (servicesPerSecond: number, extra: Partial<ControllerRun> = {}): ControllerRun => ({
  controller: 'ours', services: 1000, totalSeconds: 1000 / servicesPerSecond, servicesPerSecond,
  latencyMs: { p50: servicesPerSecond, p95: 2 * servicesPerSecond, p99: 3 * servicesPerSecond },
  apiRequestsPerService: 6, requestsByCall: [[`call at ${servicesPerSecond}/s`, 1000]],
  cpuMsPerService: 100 / servicesPerSecond, apiServerCpuMsPerService: 20, etcdCpuMsPerService: 5, benchCpuMsPerService: 4,
  idleRssMb: 70, peakRssMb: 130, stealPercent: 2, idlePercent: 1,
  ...extra,
});

describe('the convergence rounds summarised', () => {
  it('takes the middle value, or the mean of the two middle ones, and skips what was not measured', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([5, Number.NaN])).toBe(5);
    expect(median([])).toBeNaN();
  });

  it("gives each figure its own median, the requests by call of the run with the median rate", () => {
    const summary = medianRun([
      run(30, { peakRssMb: 150, routerRoundTripsPerService: 3, routerCommandsPerService: 15, routerRepliesPerService: { sentences: 31, bytes: 3000 } }),
      run(50, { peakRssMb: 120, routerRoundTripsPerService: 3, routerCommandsPerService: 15, routerRepliesPerService: { sentences: 31, bytes: 3200 } }),
      run(40, { peakRssMb: 140, routerRoundTripsPerService: 2, routerCommandsPerService: 16, routerRepliesPerService: { sentences: 33, bytes: 3100 } }),
    ]);
    expect(summary.servicesPerSecond).toBe(40);
    expect(summary.peakRssMb).toBe(140);
    expect(summary.cpuMsPerService).toBe(2.5);
    expect(summary.latencyMs).toEqual({ p50: 40, p95: 80, p99: 120 });
    expect(summary.requestsByCall).toEqual([['call at 40/s', 1000]]);
    expect(summary.routerRoundTripsPerService).toBe(3);
    expect(summary.routerRepliesPerService).toEqual({ sentences: 31, bytes: 3100 });
    expect('coreIdlePercent' in summary).toBe(false); // the cores were not split
  });

  it("gives each side's idle share its median when the cores were split", () => {
    const split = medianRun([
      run(30, { coreIdlePercent: { server: 1, clients: 40 } }),
      run(50, { coreIdlePercent: { server: 3, clients: 20 } }),
      run(40, { coreIdlePercent: { server: 2, clients: 50 } }),
    ]);
    expect(split.coreIdlePercent).toEqual({ server: 2, clients: 40 });
  });

  it('leaves out the router figures of a controller that has no router, and returns a single run as it is', () => {
    const reference = medianRun([run(80, { controller: 'reference' }), run(90, { controller: 'reference' })]);
    expect(reference.servicesPerSecond).toBe(85);
    expect(reference.controller).toBe('reference');
    expect('routerRoundTripsPerService' in reference).toBe(false);
    const one = run(33);
    expect(medianRun([one])).toBe(one);
    expect(() => medianRun([])).toThrow(/no run/);
  });
});

describe("the hypervisor's steal time", () => {
  it('is the share of the machine time between two readings that went to other guests', async () => {
    expect(stealPercent({ steal: 100, total: 1000 }, { steal: 150, total: 2000 })).toBe(5);
    expect(stealPercent({ steal: 100, total: 1000 }, { steal: 100, total: 1000 })).toBe(0);
    const now = await machineCpu(); // this machine's /proc/stat
    expect(now.total).toBeGreaterThan(0);
    expect(now.steal).toBeGreaterThanOrEqual(0);
    expect(now.steal).toBeLessThan(now.total);
  });

  it('is read per CPU too: the CPUs named add up to no more than the whole machine', async () => {
    const first = await machineCpu([0]);
    const whole = await machineCpu(); // read after: the counters only grow
    expect(first.total).toBeGreaterThan(0);
    expect(first.total).toBeLessThanOrEqual(whole.total);
    expect(first.idle).toBeLessThanOrEqual(first.total);
    await expect(machineCpu([100_000])).rejects.toThrow(/no line for cpu100000/);
  });
});

describe('waiting for a quiet machine', () => {
  it('measures half a second at a time, and gives up at its limit when the machine never is quiet enough', async () => {
    expect(await machineQuiet(0, 10_000)).toBeGreaterThanOrEqual(490); // any machine is 0 % idle or more: one window (timers may fire a hair early)
    expect(await machineQuiet(1.01, 1_200)).toBeGreaterThanOrEqual(1_200); // never more than 100 % idle: the limit
  });
});

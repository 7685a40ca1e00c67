import { describe, expect, it } from 'vitest';
import type { ControllerRun } from './convergence.js';
import { cpuAccount, machineMsPerService, medianAccount, medianServerAccount, serverAccount } from './cpu-account.js';

const run = (controller: ControllerRun['controller'], ms: { controller: number; apiServer: number; etcd: number; bench: number }): ControllerRun => ({
  controller, services: 1000, totalSeconds: 20, servicesPerSecond: 50,
  latencyMs: { p50: 1, p95: 2, p99: 3 }, apiRequestsPerService: 6, requestsByCall: [],
  cpuMsPerService: ms.controller, apiServerCpuMsPerService: ms.apiServer, etcdCpuMsPerService: ms.etcd, benchCpuMsPerService: ms.bench,
  idleRssMb: 70, peakRssMb: 130, stealPercent: 0, idlePercent: 1,
});

describe("the machine's CPU in a pair of convergence runs", () => {
  // December 4's figures at b9fbfba: ours 7.4 + 16.9 + 3.0 + 3.2, the reference's 1.5 + 9.1 + 1.9 + 1.4
  const ours = run('ours', { controller: 7.4, apiServer: 16.9, etcd: 3.0, bench: 3.2 });
  const reference = run('reference', { controller: 1.5, apiServer: 9.1, etcd: 1.9, bench: 1.4 });

  it('adds up every process a run keeps busy', () => {
    expect(machineMsPerService(ours)).toBeCloseTo(30.5, 9);
    expect(machineMsPerService(reference)).toBeCloseTo(13.9, 9);
  });

  it('gives the ratio the CPU allows, what it would be if our controller cost nothing, and the controller CPU a target leaves', () => {
    const a = cpuAccount(ours, reference, 0.5);
    expect(a.cpuRatio).toBeCloseTo(13.9 / 30.5, 9);
    expect(a.withoutController).toBeCloseTo(13.9 / 23.1, 9);
    expect(a.controllerBudgetMs).toBeCloseTo(27.8 - 23.1, 9);
    // at its budget, our controller would make the CPU ratio the target
    const atBudget = cpuAccount({ ...ours, cpuMsPerService: a.controllerBudgetMs }, reference, 0.5);
    expect(atBudget.cpuRatio).toBeCloseTo(0.5, 9);
  });

  it('gives a negative budget when the rest of our run alone costs more than the target allows', () => {
    const heavy = run('ours', { controller: 5, apiServer: 30, etcd: 5, bench: 3 });
    const a = cpuAccount(heavy, reference, 0.5);
    expect(a.withoutController).toBeLessThan(0.5);
    expect(a.controllerBudgetMs).toBeLessThan(0);
  });

  it("summarises rounds by each figure's median", () => {
    const rounds = [1, 2, 3].map((k) => cpuAccount(run('ours', { controller: 6 + k, apiServer: 17, etcd: 3, bench: 3 }), reference, 0.5));
    const m = medianAccount(rounds);
    expect(m.oursMs).toBeCloseTo(31, 9);
    expect(m.cpuRatio).toBeCloseTo(13.9 / 31, 9);
    expect(m.controllerBudgetMs).toBeCloseTo(27.8 - 23, 9);
  });
});

describe("the API server's side, with the cores split", () => {
  // December 4's split runs: ours 15.0 + 2.3, the reference's 7.5 + 1.3
  const ours = run('ours', { controller: 6.8, apiServer: 15.0, etcd: 2.3, bench: 2.9 });
  const reference = run('reference', { controller: 1.4, apiServer: 7.5, etcd: 1.3, bench: 1.6 });

  it('counts kube-apiserver and etcd only: the controllers and the bench run on the other CPUs', () => {
    const a = serverAccount(ours, reference);
    expect(a.oursMs).toBeCloseTo(17.3, 9);
    expect(a.referenceMs).toBeCloseTo(8.8, 9);
    expect(a.ratio).toBeCloseTo(8.8 / 17.3, 9);
    // our controller's own CPU does not enter it
    expect(serverAccount({ ...ours, cpuMsPerService: 60 }, reference)).toEqual(a);
  });

  it("summarises rounds by each figure's median", () => {
    const rounds = [16, 18, 17].map((apiServer) => serverAccount(run('ours', { controller: 7, apiServer, etcd: 2, bench: 3 }), reference));
    expect(medianServerAccount(rounds)).toEqual(serverAccount(run('ours', { controller: 7, apiServer: 17, etcd: 2, bench: 3 }), reference));
  });
});

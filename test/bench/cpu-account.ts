import type { ControllerRun } from './convergence.js';
import { median } from './medians.js';

/**
 * Where the machine's two cores went in a pair of convergence runs, and what that leaves for
 * the rate's ratio. When a run keeps the machine busy (its idle share near zero), its rate is
 * the machine's CPU divided by the CPU each Service costs all the processes the run keeps busy
 * (the controller, kube-apiserver, etcd, the bench with the simulator), so the ratio of the
 * rates follows the ratio of those costs.
 */
export interface CpuAccount {
  /** ms of CPU per Service, all four processes, in our run and in the reference's. */
  oursMs: number;
  referenceMs: number;
  /** reference ÷ ours: the rate ratio the CPU accounts for. */
  cpuRatio: number;
  /** reference ÷ (ours without our controller): the most the rest of our run would allow, our controller costing nothing. */
  withoutController: number;
  /** Our controller's CPU per Service at which the CPU would allow `target` (negative: no controller could reach it). */
  controllerBudgetMs: number;
}

/** The machine's CPU per Service in one run: every process the run kept busy. */
export const machineMsPerService = (r: ControllerRun): number =>
  r.cpuMsPerService + r.apiServerCpuMsPerService + r.etcdCpuMsPerService + r.benchCpuMsPerService;

/** One round's account (see CpuAccount). */
export function cpuAccount(ours: ControllerRun, reference: ControllerRun, target: number): CpuAccount {
  const oursMs = machineMsPerService(ours);
  const referenceMs = machineMsPerService(reference);
  const rest = oursMs - ours.cpuMsPerService;
  return { oursMs, referenceMs, cpuRatio: referenceMs / oursMs, withoutController: referenceMs / rest, controllerBudgetMs: referenceMs / target - rest };
}

/** Each figure's median over the rounds' own accounts. */
export function medianAccount(accounts: readonly CpuAccount[]): CpuAccount {
  const m = (f: (a: CpuAccount) => number): number => median(accounts.map(f));
  return { oursMs: m((a) => a.oursMs), referenceMs: m((a) => a.referenceMs), cpuRatio: m((a) => a.cpuRatio), withoutController: m((a) => a.withoutController), controllerBudgetMs: m((a) => a.controllerBudgetMs) };
}

/**
 * With the cores split (affinity.ts), the API server's side is the one that fills: both
 * controllers' runs then go as fast as kube-apiserver and etcd answer them, and the rate's
 * ratio follows what a Service costs those two in each run.
 */
export interface ServerAccount {
  /** ms of kube-apiserver's and etcd's CPU per Service, in our run and in the reference's. */
  oursMs: number;
  referenceMs: number;
  /** reference ÷ ours. */
  ratio: number;
}

export const serverMsPerService = (r: ControllerRun): number => r.apiServerCpuMsPerService + r.etcdCpuMsPerService;

export function serverAccount(ours: ControllerRun, reference: ControllerRun): ServerAccount {
  const oursMs = serverMsPerService(ours);
  const referenceMs = serverMsPerService(reference);
  return { oursMs, referenceMs, ratio: referenceMs / oursMs };
}

export function medianServerAccount(accounts: readonly ServerAccount[]): ServerAccount {
  const m = (f: (a: ServerAccount) => number): number => median(accounts.map(f));
  return { oursMs: m((a) => a.oursMs), referenceMs: m((a) => a.referenceMs), ratio: m((a) => a.ratio) };
}

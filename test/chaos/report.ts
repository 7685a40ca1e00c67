import type { ChaosReport } from './chaos.js';

const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const list = (r: Record<string, number>): string => Object.entries(r).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';

/** The human summary printed last: figures, then every violation, then the verdict. */
export function formatReport(r: ChaosReport): string {
  const w = r.workload;
  const kills = r.processes.reduce((n, p) => n + p.kills, 0);
  const restarts = r.processes.reduce((n, p) => n + Math.max(0, p.starts - 1), 0);
  const lines = [
    `== chaos summary: seed ${r.options.seed}`,
    `time: startup ${s(r.timings.startupMs)}, storm ${s(r.timings.stormMs)}, settle ${s(r.timings.settleMs)} (converged: ${r.converged ? 'yes' : 'no'}; by events and retries alone: ${r.eventDriven.converged ? `yes, within ${s(r.eventDriven.ms)}` : `no, ${r.eventDriven.open.length} open after ${s(r.eventDriven.ms)}`}; resyncs sent by the settle period: ${r.forcedResyncs}, the first one always)`,
    `services (${r.options.services} slots, ${r.options.rate}/s): ${r.storm.steps} steps; created ${w.created}, deleted ${w.deleted}, re-created at once ${w.recreated}, created and deleted within 1.5 s ${w.flashes}; changed annotations ${w.changed.annotations}, ports ${w.changed.ports}, endpoint slices ${w.changed.slices}, type ${w.changed.type}, pools ${w.changed.pools}, namespace tiers ${w.changed.namespaces}; writes refused or lost ${w.failedWrites}`,
    `function processes: ${kills} SIGKILLs, ${restarts} restarts (${r.processes.map((p) => `${p.name} ${p.kills}`).join(', ')})`,
    `bridges: bridge-a SIGKILLed ${r.bridges.killsA} times; both restarted ${r.bridges.restarts} time(s); leader election by phase: ${r.storm.leaderElection.map((le) => (le ? 'on' : 'off')).join(' -> ')}`,
    `API server: ${r.storm.apiRestarts} restart(s), ${s(r.storm.apiDownMs)} without it`,
    `router: faults ${list(r.storm.routerFaults)}; ${r.router.commands} commands over ${r.router.connections} connections`,
    `rogue invoker: ${r.rogue.sent} events (${r.rogue.duplicates} duplicates, ${r.rogue.resyncs} resyncs); answers ${list(r.rogue.answers)}`,
    `final state: ${r.final.services} Services (${r.final.managed} with our finalizer), allocations ${list(r.final.allocations)}, ${r.final.routerEntries} router entries of ours; ${r.final.claims} address claims (${r.final.sharedClaims} shared), ${r.final.unheldClaims} held by nobody (left to release's GC)`,
    `logs: ${r.logDir}`,
  ];
  if (r.violations.length > 0) {
    lines.push(`== ${r.violations.length} invariant violation(s):`);
    for (const v of r.violations) lines.push(`  [${v.invariant}] ${v.detail}`);
  }
  lines.push(r.violations.length === 0 ? `RESULT: PASS (seed ${r.options.seed}: 0 invariant violations)` : `RESULT: FAIL (seed ${r.options.seed}: ${r.violations.length} invariant violation(s))`);
  return lines.join('\n');
}

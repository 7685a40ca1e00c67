import { allocatedNote, formerCleared, outcomeChanged, programmedStatus, statusChanged, type RouterOutcome } from '../../lib/core/allocation-status.js';
import { retryOnConflict } from '../../lib/k8s/conflict.js';
import type { IPAllocation, IPAllocationStatus } from '../../lib/k8s/schemas.js';
import { getAllocation } from '../../lib/k8s/typed.js';
import { isNotFound } from '../../lib/k8s/errors.js';
import type { ProgramDeps, ProgramReport } from './deps.js';

/**
 * An allocation's status after a program run: the router's outcome for its address (none: as it
 * was), without the former addresses whose entries the run took off (`cleared`).
 */
export function statusAfterRun(a: IPAllocation, outcome: RouterOutcome | undefined, cleared: ReadonlySet<string>, now: Date): IPAllocationStatus | undefined {
  const status = outcome ? programmedStatus(a, outcome, now) : a.status;
  return status && formerCleared(status, cleared);
}

/**
 * Writes what the router did into each allocation's status (only what changed), with the
 * outcome's event (`Programmed`, a Warning `ProgrammingFailed`, …) when the outcome itself
 * changed (see outcomeChanged). Returns the allocations as written.
 */
export async function writeOutcomes(deps: ProgramDeps, allocations: readonly IPAllocation[], outcomes: ReadonlyMap<string, RouterOutcome>, report: ProgramReport, cleared: ReadonlySet<string> = new Set()): Promise<IPAllocation[]> {
  const result: IPAllocation[] = [];
  for (const first of allocations) {
    const outcome = outcomes.get(first.metadata.name);
    if (!outcome && !(first.status?.formerAddresses ?? []).some((f) => cleared.has(f))) {
      result.push(first);
      continue;
    }
    const written = await retryOnConflict(`updating ${first.metadata.name}`, deps.retry, async (attempt) => {
      const a = attempt === 1 ? first : await getAllocation(deps.kube, first.metadata.name);
      if (!a || a.status?.address !== first.status?.address) return a;
      const next = statusAfterRun(a, outcome, cleared, deps.now());
      if (!next || !statusChanged(a.status, next)) return a;
      try {
        await deps.kube.replaceStatus('IPAllocation', { ...a, status: next });
      } catch (e) {
        // deleted and gone since it was read: release takes its entries off, nothing to record
        if (isNotFound(e)) return undefined;
        throw e;
      }
      report.actions.push(`${a.metadata.name}: ${outcome?.kind ?? 'former addresses cleared'}`);
      if (outcome && outcomeChanged(a.status, next)) await recordEvent(deps, a, outcome);
      return { ...a, status: next };
    });
    if (written) result.push(written);
  }
  return result;
}

export async function recordEvent(deps: ProgramDeps, a: IPAllocation, outcome: RouterOutcome): Promise<void> {
  const regarding = { kind: 'IPAllocation' as const, name: a.metadata.name, uid: a.metadata.uid };
  if (outcome.kind === 'refused') {
    deps.log.warn('Refused to program an address', { allocation: a.metadata.name, address: a.status?.address, reason: outcome.reason, message: outcome.message });
    await deps.kube.recordEvent({ regarding, type: 'Warning', reason: outcome.reason, note: outcome.message, action: 'Program', occurs: 'onChange' });
  } else if (outcome.kind === 'failed') {
    deps.log.warn('Programming the router failed', { allocation: a.metadata.name, address: a.status?.address, message: outcome.message });
    await deps.kube.recordEvent({ regarding, type: 'Warning', reason: 'ProgrammingFailed', note: outcome.message, action: 'Program', occurs: 'onChange' });
  } else if (outcome.kind === 'advertised') {
    deps.log.info('Advertised an address on the router', { allocation: a.metadata.name, address: a.status?.address, interface: outcome.interfaceName });
    await deps.kube.recordEvent({ regarding, type: 'Normal', reason: 'Programmed', note: `Address ${a.status?.address} is advertised on interface ${outcome.interfaceName}.`, action: 'Program', occurs: 'onChange' });
  }
}

/**
 * The events of an address allocated and programmed in one invocation (the hand-off): its
 * `IPAllocated` event says what the router did, so an advertised address needs no `Programmed`
 * event (one write per Service fewer); a refusal or a failure is still its own Warning.
 */
export async function recordAllocatedEvent(deps: ProgramDeps, a: IPAllocation, pool: string, outcome: RouterOutcome): Promise<void> {
  const regarding = { kind: 'IPAllocation' as const, name: a.metadata.name, uid: a.metadata.uid };
  const note = allocatedNote(a.status?.address ?? '', pool, outcome);
  if (outcome.kind !== 'advertised') {
    await Promise.all([deps.kube.recordEvent({ regarding, type: 'Normal', reason: 'IPAllocated', note, action: 'Allocate', occurs: 'onChange' }), recordEvent(deps, a, outcome)]);
    return;
  }
  deps.log.info('Advertised an address on the router', { allocation: a.metadata.name, address: a.status?.address, interface: outcome.interfaceName });
  await deps.kube.recordEvent({ regarding, type: 'Normal', reason: 'IPAllocated', note, action: 'Allocate', occurs: 'onChange' });
}

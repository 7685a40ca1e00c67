import { newProgramReport, type ProgramDeps } from '../program/deps.js';
import { commonDeps, NEEDS_ROUTER, programDeps, type FunctionEntry, type FunctionPorts } from '../ports.js';
import { createAllocateApp } from './app.js';
import type { AllocateDeps, Handoff } from './deps.js';
import { createAllocate } from './handler.js';

/**
 * Program's side of allocate's hand-off, its actions reported in allocate's answer. Program's
 * code is imported at the hand-off, not with allocate: `mikrolb serve allocate` hands nothing
 * off and so never loads it (its cold start), and where program runs in process (the all-in-one
 * controller) the registry has loaded it already.
 */
function handoffTo(deps: ProgramDeps): Handoff {
  return async (svc, handed, pools, report, announced) => {
    const { programHandoff } = await import('../program/service.js');
    const own = newProgramReport();
    try {
      return await programHandoff(deps, svc, handed, pools, own, announced);
    } finally {
      report.actions.push(...own.actions.map((a) => `program: ${a}`));
    }
  };
}

const allocateDeps = (p: FunctionPorts): AllocateDeps => ({
  ...commonDeps(p),
  ...(p.programInProcess ? { handoff: handoffTo({ ...programDeps(p), log: p.log.child({ function: 'program' }), ...(p.programAgain ? { again: p.programAgain } : {}) }) } : {}),
  ...(p.recentServices ? { recent: p.recentServices } : {}),
});

/** The allocate function, built from its ports. */
export const allocateEntry: FunctionEntry = {
  needsRouter: NEEDS_ROUTER.allocate, handler: (p) => createAllocate(allocateDeps(p)), app: (p) => createAllocateApp(allocateDeps(p)),
};

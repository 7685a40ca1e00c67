import { NEEDS_ROUTER, programDeps, type FunctionEntry } from '../ports.js';
import { createProgramApp } from './app.js';
import { createProgram } from './handler.js';

/** The program function, built from its ports. */
export const programEntry: FunctionEntry = {
  needsRouter: NEEDS_ROUTER.program, handler: (p) => createProgram(programDeps(p)), app: (p) => createProgramApp(programDeps(p)),
};

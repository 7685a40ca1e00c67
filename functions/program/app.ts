import { createFunctionApp } from '../../lib/http/function-app.js';
import type { ProgramDeps } from './deps.js';
import { createProgram } from './handler.js';

/** The program function as an HTTP app (CloudEvents in, JSON out). */
export function createProgramApp(deps: ProgramDeps) {
  return createFunctionApp('program', createProgram(deps), { log: deps.log });
}

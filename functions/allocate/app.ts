import { createFunctionApp } from '../../lib/http/function-app.js';
import type { AllocateDeps } from './deps.js';
import { createAllocate } from './handler.js';

/** The allocate function as an HTTP app (CloudEvents in, JSON out). */
export function createAllocateApp(deps: AllocateDeps) {
  return createFunctionApp('allocate', createAllocate(deps), { log: deps.log });
}

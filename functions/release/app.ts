import { createFunctionApp } from '../../lib/http/function-app.js';
import type { ReleaseDeps } from './deps.js';
import { createRelease } from './handler.js';

/** The release function as an HTTP app (CloudEvents in, JSON out). */
export function createReleaseApp(deps: ReleaseDeps) {
  return createFunctionApp('release', createRelease(deps), { log: deps.log });
}

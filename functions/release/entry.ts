import { CLAIM_GRACE_MS, commonDeps, NEEDS_ROUTER, routerOf, type FunctionEntry, type FunctionPorts } from '../ports.js';
import { createReleaseApp } from './app.js';
import type { ReleaseDeps } from './deps.js';
import { createRelease } from './handler.js';

const releaseDeps = (p: FunctionPorts): ReleaseDeps => ({
  ...commonDeps(p), router: routerOf(p, 'release'), claimGraceMs: p.claimGraceMs ?? CLAIM_GRACE_MS, ...(p.counters ? { counters: p.counters } : {}),
});

/** The release function, built from its ports. */
export const releaseEntry: FunctionEntry = {
  needsRouter: NEEDS_ROUTER.release, handler: (p) => createRelease(releaseDeps(p)), app: (p) => createReleaseApp(releaseDeps(p)),
};

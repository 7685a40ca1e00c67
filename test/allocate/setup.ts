import { createAllocateApp } from '../../functions/allocate/app.js';
import type { AllocateDeps } from '../../functions/allocate/deps.js';
import { defaultPause } from '../../lib/k8s/conflict.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { testCluster } from '../helpers/cluster.js';
import { serveFunction, type FunctionClient } from '../helpers/functions.js';

export const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };

export function allocateDeps(kube: KubePort, overrides: Partial<AllocateDeps> = {}): AllocateDeps {
  return { kube, classes: CLASSES, now: () => new Date(), log: memoryLogger(), retry: { attempts: 50, pause: defaultPause() }, ...overrides };
}

/** The allocate function served over HTTP, talking to the shared real API server. */
export async function startAllocate(overrides: Partial<AllocateDeps> = {}): Promise<{ fn: FunctionClient; kube: KubePort; deps: AllocateDeps }> {
  const { transport } = testCluster();
  const kube = apiServerPort(transport);
  const deps = allocateDeps(overrides.kube ?? kube, overrides);
  const fn = await serveFunction(createAllocateApp(deps));
  return { fn, kube, deps };
}

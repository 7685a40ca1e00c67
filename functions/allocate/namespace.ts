import { needsNamespaceLabels } from '../../lib/core/pool-scope.js';
import { managedAndLive } from '../../lib/core/service.js';
import { readPools } from '../../lib/k8s/mirror.js';
import { listServices } from '../../lib/k8s/typed.js';
import type { AllocateRun, Report } from './deps.js';
import { reconcileService } from './service.js';

/**
 * A Namespace's labels changed: while some pool selects namespaces by label
 * (`namespaceSelectors`), the Services in it are checked as a resync checks them — one a scoped
 * pool no longer serves gives its address back and is allocated again, and one a pool serves
 * now (its allocation failed with PoolScopeMismatch, say) is tried again. Without such a pool
 * a Namespace's labels decide nothing, and nothing is read beyond the pools.
 */
export async function namespaceChanged(deps: AllocateRun, name: string, report: Report): Promise<void> {
  const pools = await readPools(deps.kube, deps.pools);
  if (!needsNamespaceLabels(pools.items)) {
    report.actions.push(`nothing to check for Namespace ${name}: no pool selects namespaces by label`);
    return;
  }
  for (const svc of (await listServices(deps.kube, name)).items) {
    if (!managedAndLive(svc, deps.classes)) continue;
    await reconcileService(deps, name, svc.metadata.name, report, { verify: true });
  }
}

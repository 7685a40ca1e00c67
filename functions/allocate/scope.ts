import { needsNamespaceLabels, type Requester } from '../../lib/core/pool-scope.js';
import type { IPPool } from '../../lib/k8s/schemas.js';
import { getNamespace } from '../../lib/k8s/typed.js';
import type { OwnerState } from './allocation.js';
import type { AllocateRun } from './deps.js';

/**
 * The Service as pool scopes see it (none for an operator's reservation). Its namespace's
 * labels are read only when some pool selects namespaces by label: one `get` on the
 * Namespace, the only read of namespaces allocate makes (RBAC: get on namespaces).
 */
export async function requesterOf(deps: AllocateRun, owner: OwnerState, pools: readonly IPPool[]): Promise<Requester | undefined> {
  if (owner.state !== 'present') return undefined;
  const requester: Requester = { key: owner.key, namespace: owner.namespace, labels: owner.labels };
  if (!needsNamespaceLabels(pools)) return requester;
  const namespace = await getNamespace(deps.kube, owner.namespace);
  return { ...requester, namespaceLabels: namespace?.metadata.labels ?? {} };
}

import type { KubePort } from '../../lib/k8s/port.js';
import { getService, listAllocations, listClaims } from '../../lib/k8s/typed.js';
import { API_VERSION, type IPAllocation } from '../../lib/k8s/schemas.js';
import { claimsOfPool, LABEL_SERVICE_NAME, LABEL_SERVICE_NAMESPACE } from '../../lib/k8s/keys.js';
import type { Service } from '../../lib/k8s/core-objects.js';

/** Small builders for the objects integration tests create. */
export function objects(kube: KubePort) {
  const made: { kind: 'IPPool' | 'IPAllocation' | 'Service'; name: string; namespace?: string }[] = [];
  return {
    async namespace(name: string): Promise<void> {
      await kube.create('Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    },
    async pool(name: string, spec: Record<string, unknown>): Promise<void> {
      await kube.create('IPPool', { apiVersion: API_VERSION, kind: 'IPPool', metadata: { name }, spec });
      made.push({ kind: 'IPPool', name });
    },
    async service(namespace: string, name: string, spec: Record<string, unknown>, annotations: Record<string, string> = {}): Promise<Service | undefined> {
      await kube.create('Service', {
        apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, annotations },
        spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }], ...spec },
      });
      made.push({ kind: 'Service', name, namespace });
      return getService(kube, namespace, name);
    },
    async allocation(name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}): Promise<void> {
      await kube.create('IPAllocation', { apiVersion: API_VERSION, kind: 'IPAllocation', metadata: { name, labels }, spec });
      made.push({ kind: 'IPAllocation', name });
    },
    async allocationsOf(namespace: string, name: string): Promise<IPAllocation[]> {
      const list = await listAllocations(kube, `${LABEL_SERVICE_NAMESPACE}=${namespace},${LABEL_SERVICE_NAME}=${name}`);
      return list.items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    },
    /**
     * Deletes what the test made, stripping finalizers first (no release function runs here):
     * allocations, then Services, then pools, each kind a few objects at a time.
     */
    async cleanup(): Promise<void> {
      for (const kind of ['IPAllocation', 'Service', 'IPPool'] as const) {
        const batch = made.filter((m) => m.kind === kind);
        for (let i = 0; i < batch.length; i += 16) {
          await Promise.all(batch.slice(i, i + 16).map((m) => forceDelete(kube, m.kind, m.name, m.namespace)));
        }
      }
      // the claims held from the test's pools would keep their addresses taken for later tests
      for (const pool of made.filter((m) => m.kind === 'IPPool')) {
        for (const c of (await listClaims(kube, claimsOfPool(pool.name))).items) await kube.remove('IPAddressClaim', c.metadata.name);
      }
      made.length = 0;
    },
  };
}

export async function forceDelete(kube: KubePort, kind: 'IPPool' | 'IPAllocation' | 'Service', name: string, namespace?: string): Promise<void> {
  await kube.remove(kind, name, namespace);
  for (let i = 0; i < 5; i++) {
    const raw = await kube.get(kind, name, namespace);
    if (raw === undefined || typeof raw !== 'object' || raw === null) return;
    const obj = { ...raw, metadata: { ...(('metadata' in raw && typeof raw.metadata === 'object' && raw.metadata) || {}), name, namespace, finalizers: [] } };
    try {
      await kube.replace(kind, obj);
      return;
    } catch {
      // raced with a writer: read again
    }
  }
}

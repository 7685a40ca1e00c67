/**
 * The Service-write admission policy of deploy/ (base/service-write-policy.yaml) in the test
 * cluster: applied for real from the rendered overlay (idempotent) and waited for until the API
 * server enforces it; and requests as MikroLB's ServiceAccounts (the admin impersonates them).
 *
 * It is never deleted again: kube-apiserver 1.36.3 keeps evaluating a policy that was deleted
 * and re-created with the ConfigMap values it saw at re-creation (later changes of mikrolb-config
 * are not seen until it restarts), which would break the LOAD_BALANCER_DEFAULT test of whichever
 * file runs second. It only narrows what MikroLB's ServiceAccounts may do, which no other test
 * file exercises apart from the RBAC lifecycle, which applies it itself.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { apiServerPort } from '../../lib/k8s/client.js';
import { isKubeError } from '../../lib/k8s/errors.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { kubeTransport, type Transport } from '../../lib/k8s/rest.js';
import type { Service } from '../../lib/k8s/core-objects.js';
import { getService } from '../../lib/k8s/typed.js';
import type { Kubectl } from '../helpers/cluster.js';
import { uniq } from '../helpers/cluster.js';
import { applyForReal, manifestOf, NAMESPACE, renderWithoutCertManager, type Doc } from './render.js';

export const POLICY = 'mikrolb-service-writes';
/** How the API server words a denial by this policy (the message follows). */
export const DENIED_BY_POLICY = new RegExp(`ValidatingAdmissionPolicy '${POLICY}' with binding '${POLICY}' denied request`);

/** A kubeconfig that acts as `system:serviceaccount:mikrolb-system:<sa>` (the admin impersonates). */
export function actingAs(kc: KubeConfig, sa: string, namespace = NAMESPACE): KubeConfig {
  const out = new KubeConfig();
  out.loadFromOptions({
    clusters: kc.clusters,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
    users: kc.users.map((u) => ({ ...u, impersonateUser: `system:serviceaccount:${namespace}:${sa}` })),
  });
  return out;
}

const POLICY_KINDS = new Set(['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);

/**
 * The policy and its binding, and what they need - the namespace and the ConfigMap mikrolb-config
 * (the binding's paramRef) - as the default overlay renders them.
 */
export async function policyDocs(kubectl: Kubectl): Promise<Doc[]> {
  const docs = (await renderWithoutCertManager(kubectl, 'default')).docs;
  return docs.filter((d) => POLICY_KINDS.has(d.kind) || d.kind === 'Namespace' || (d.kind === 'ConfigMap' && d.metadata.name === 'mikrolb-config'));
}

/**
 * Applies the policy for real and returns once the API server enforces it: a dry-run spec change
 * of a probe Service as mikrolb-controller is refused by the policy (RBAC for it must be applied).
 */
export async function applyServicePolicy(kubectl: Kubectl, kc: KubeConfig): Promise<Doc[]> {
  const docs = await policyDocs(kubectl);
  if (docs.filter((d) => POLICY_KINDS.has(d.kind)).length !== 2) throw new Error('the default overlay renders no ValidatingAdmissionPolicy and binding');
  await applyForReal(kubectl, ['-f', '-'], manifestOf(docs));
  await untilPolicy(kc, 'in force', true);
  return docs;
}

/**
 * Waits until a dry-run spec change of a probe Service as mikrolb-controller is refused by the
 * policy (`enforced`), or is not refused by it.
 */
export async function untilPolicy(kc: KubeConfig, what: string, enforced: boolean, timeoutMs = 60_000): Promise<void> {
  const admin = apiServerPort(kubeTransport(kc));
  const name = uniq('policy-probe');
  await admin.create('Service', { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NAMESPACE }, spec: { ports: [{ port: 80 }] } });
  try {
    await until(`the policy ${what}`, timeoutMs, async () => {
      const svc = await getService(admin, NAMESPACE, name);
      if (!svc) throw new Error(`probe Service ${name} vanished`);
      try {
        const refused = await deniedByPolicy(dryRunPut(kubeTransport(actingAs(kc, 'mikrolb-controller')), { ...svc, spec: { ...svc.spec, ports: [{ port: 81, protocol: 'TCP' }] } }));
        return refused === enforced;
      } catch (e) {
        if (isKubeError(e) && e.status === 403) return false; // RBAC not in force yet
        throw e;
      }
    });
  } finally {
    await admin.remove('Service', name, NAMESPACE);
  }
}

/** Waits until `probe` says true; throws after `timeoutMs`. */
export async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** PUT of a Service (or its status) with dryRun=All: admission runs, nothing is stored. */
export function dryRunPut(transport: Transport, svc: Service, subresource?: 'status'): Promise<unknown> {
  const path = `/api/v1/namespaces/${svc.metadata.namespace ?? 'default'}/services/${svc.metadata.name}${subresource ? `/${subresource}` : ''}`;
  return transport({ method: 'PUT', path, query: { dryRun: 'All' }, body: { apiVersion: 'v1', kind: 'Service', ...svc } });
}

/** Whether the request was refused by this policy (true), went through (false); other errors throw. */
export async function deniedByPolicy(request: Promise<unknown>): Promise<boolean> {
  try {
    await request;
    return false;
  } catch (e) {
    if (isKubeError(e) && e.status === 403 && DENIED_BY_POLICY.test(e.message)) return true;
    throw e;
  }
}

/** The port of a ServiceAccount of mikrolb-system. */
export const portAs = (kc: KubeConfig, sa: string): KubePort => apiServerPort(kubeTransport(actingAs(kc, sa)), { instance: sa });

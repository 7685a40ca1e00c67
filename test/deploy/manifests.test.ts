/**
 * deploy/: every overlay renders with kustomize and passes a server-side dry-run apply against
 * the real API server (Knative's CRDs installed for real first); the objects fit together and
 * fit the code (subcommands, configuration parsers, the bridge's routing table).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bridgeConfigFromEnv } from '../../bridge/config.js';
import { classesFromEnv, routerFromEnv } from '../../lib/config.js';
import { SUBCOMMANDS } from '../../bridge/main.js';
import { createHash } from 'node:crypto';
import { invokeAuthFromEnv } from '../../lib/auth/config.js';
import { testCluster } from '../helpers/cluster.js';
import {
  applyForReal, DEPLOY, dryRun, key, manifestOf, NAMESPACE, one, ofKind, OVERLAYS, parseDocs, render, renderWithoutCertManager,
  type Doc, type Overlay, type Rendered,
} from './render.js';
import { knativeCrdFiles } from './knative.js';
import {
  ConfigMapSchema, DeploymentSchema, KServiceSchema, NetworkPolicySchema, selects, ServiceSchema, TriggerSchema, type Container, type PodSpec,
} from './schemas.js';

const { kubectl } = testCluster();
const full = new Map<Overlay, Rendered>();
const withoutCertManager = new Map<Overlay, Rendered>();
const docsOf = (overlay: Overlay): Doc[] => withoutCertManager.get(overlay)?.docs ?? [];

/** Knative's CRDs for real (they are data, like ours), then the namespace for real. */
async function installPrerequisites(): Promise<void> {
  const files = await knativeCrdFiles();
  const crds = (await Promise.all(files.map((f) => readFile(f, 'utf8')))).flatMap(parseDocs);
  await applyForReal(kubectl, files.flatMap((f) => ['-f', f]));
  const names = crds.filter((d) => d.kind === 'CustomResourceDefinition').map((d) => `crd/${d.metadata.name}`);
  const waited = await kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...names]);
  if (waited.code !== 0) throw new Error(`Knative CRDs not established: ${waited.stderr}`);
  // Namespaced objects dry-run only into an existing namespace; left in place for other tests.
  const base = await render(kubectl, join(DEPLOY, 'base'));
  await applyForReal(kubectl, ['-f', '-'], manifestOf(base.docs.filter((d) => d.kind === 'Namespace')));
}

beforeAll(async () => {
  await installPrerequisites();
  for (const overlay of OVERLAYS) {
    full.set(overlay, await render(kubectl, join(DEPLOY, 'overlays', overlay)));
    withoutCertManager.set(overlay, await renderWithoutCertManager(kubectl, overlay));
  }
}, 300_000);

describe.each(OVERLAYS)('overlay %s', (overlay) => {
  it('passes a server-side dry-run apply, every object of it (cert-manager left out)', async () => {
    const docs = docsOf(overlay);
    const result = await dryRun(kubectl, withoutCertManager.get(overlay)?.text ?? '');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.applied).toHaveLength(docs.length);
  });

  it('adds exactly cert-manager\'s Issuer and Certificate, and the cainjector annotation, to that', () => {
    const withCm = full.get(overlay)?.docs ?? [];
    const without = new Set(docsOf(overlay).map(key));
    expect(withCm.map(key).filter((k) => !without.has(k)).sort()).toEqual([`Certificate/${NAMESPACE}/mikrolb-webhook`, `Issuer/${NAMESPACE}/mikrolb-selfsigned`]);
    expect(withCm).toHaveLength(without.size + 2);
    const vwc = (docs: Doc[]) => docs.find((d) => d.kind === 'ValidatingWebhookConfiguration')?.metadata.annotations?.['cert-manager.io/inject-ca-from'];
    expect(vwc(withCm)).toBe(`${NAMESPACE}/mikrolb-webhook`);
    expect(vwc(docsOf(overlay))).toBeUndefined();
  });

  it('keeps every namespaced object in mikrolb-system and runs each workload as a ServiceAccount it defines', () => {
    const docs = docsOf(overlay);
    const clusterScoped = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'ValidatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
    expect(docs.filter((d) => !clusterScoped.has(d.kind) && d.metadata.namespace !== NAMESPACE).map(key)).toEqual([]);
    const accounts = new Set(docs.filter((d) => d.kind === 'ServiceAccount').map((d) => d.metadata.name));
    for (const [name, pod] of workloads(docs)) expect(accounts, name).toContain(pod.serviceAccountName);
  });

  it('runs every container non-root, read-only, without privileges, with probes and resources, as a known subcommand', () => {
    for (const [name, pod] of workloads(docsOf(overlay))) {
      for (const c of pod.containers) {
        expect(c.image, name).toBe('ghcr.io/mikrolb/mikrolb:latest');
        expect(c.securityContext, name).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        expect(c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot, name).toBe(true);
        expect((c.securityContext?.seccompProfile ?? pod.securityContext?.seccompProfile)?.type, name).toBe('RuntimeDefault');
        expect(c.livenessProbe?.httpGet.path, name).toBe('/healthz');
        expect(c.readinessProbe?.httpGet.path, name).toMatch(/^\/(readyz|healthz)$/);
        expect(Object.keys(c.resources?.requests ?? {}).sort(), name).toEqual(['cpu', 'memory']);
        expect(Object.keys(c.resources?.limits ?? {}).sort(), name).toEqual(['cpu', 'memory']);
        expectKnownSubcommand(c);
      }
    }
  });

  it('points the webhook Service at pods that serve the `webhook` port with the certificate mounted', () => {
    const docs = docsOf(overlay);
    const service = one(docs, 'Service', 'mikrolb-webhook', ServiceSchema);
    const servers = ofKind(docs, 'Deployment', DeploymentSchema).filter((d) => selects({ matchLabels: service.spec.selector }, d.spec.template.metadata.labels));
    expect(servers.map((d) => d.metadata.name)).toEqual([overlay === 'default' ? 'mikrolb-controller' : 'mikrolb-webhook']);
    const [pod] = servers.map((d) => d.spec.template.spec);
    const container = pod?.containers[0];
    expect(service.spec.ports).toEqual([expect.objectContaining({ port: 443, targetPort: 'webhook' })]);
    expect(container?.ports).toContainEqual({ name: 'webhook', containerPort: 9443, protocol: 'TCP' });
    const certVolume = pod?.volumes.find((v) => v.secret?.secretName === 'mikrolb-webhook-tls');
    expect(container?.volumeMounts).toContainEqual({ name: certVolume?.name, mountPath: '/tmp/k8s-webhook-server/serving-certs', readOnly: true });
  });

  it('holds settings the configuration parser accepts', () => {
    const config = one(docsOf(overlay), 'ConfigMap', 'mikrolb-config', ConfigMapSchema);
    expect(classesFromEnv(config.data)).toEqual({ ok: true, value: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false, clusterName: 'default', limits: { maxAnnotationItems: 16, maxAllocations: 16 } } });
  });

  it('denies ingress by default and opens the webhook port to every source (the API server\'s address is unknowable)', () => {
    const policies = ofKind(docsOf(overlay), 'NetworkPolicy', NetworkPolicySchema);
    expect(policies.find((p) => p.metadata.name === 'mikrolb-default-deny-ingress')?.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress'] });
    const webhook = policies.find((p) => p.metadata.name === 'mikrolb-webhook');
    expect(webhook?.spec.ingress).toEqual([{ ports: [{ protocol: 'TCP', port: 'webhook' }] }]);
    for (const name of ['mikrolb-controller', 'mikrolb-webhook']) expect(selects(webhook?.spec.podSelector ?? {}, { 'app.kubernetes.io/name': name })).toBe(true);
  });
});

describe('overlay default', () => {
  it('runs `mikrolb controller` with the router Secret, leader election and its pod name', () => {
    const controller = one(docsOf('default'), 'Deployment', 'mikrolb-controller', DeploymentSchema);
    const [c] = controller.spec.template.spec.containers;
    expect(c?.args).toEqual(['controller']);
    expect(c?.envFrom).toEqual([{ secretRef: { name: 'mikrolb-router' } }, { configMapRef: { name: 'mikrolb-config' } }]);
    expect(c?.env).toContainEqual({ name: 'LEADER_ELECTION', value: 'true' });
    expect(c?.env).toContainEqual({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    expect(c?.ports).toContainEqual({ name: 'http', containerPort: 8080, protocol: 'TCP' });
    expect([c?.livenessProbe?.httpGet, c?.readinessProbe?.httpGet]).toEqual([{ path: '/healthz', port: 'http' }, { path: '/readyz', port: 'http' }]);
    expect(c?.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(controller.spec.template.spec.volumes.find((v) => v.name === 'tmp')?.emptyDir).toBeDefined();
    expect(controller.spec.replicas).toBe(2);
  });
});

describe.each(['knative', 'knative-eventing'] as const)('overlay %s: the functions', (overlay) => {
  it.each(['allocate', 'program', 'release'])('serves %s as a cluster-local Knative Service that scales to zero', (fn) => {
    const ksvc = one(docsOf(overlay), 'Service', `mikrolb-${fn}`, KServiceSchema);
    const { metadata, spec } = ksvc.spec.template;
    expect(ksvc.metadata.labels?.['networking.knative.dev/visibility']).toBe('cluster-local');
    expect(metadata.annotations).toMatchObject({ 'autoscaling.knative.dev/min-scale': '0', 'autoscaling.knative.dev/max-scale': expect.stringMatching(/^[1-9]\d*$/) });
    expect(spec.containerConcurrency).toBeGreaterThan(0);
    expect(spec.timeoutSeconds).toBe(300);
    expect(spec.serviceAccountName).toBe(`mikrolb-${fn}`);
    expect(spec.containers[0]?.args).toEqual(['serve', fn]);
    // Knative sets PORT itself from the single container port.
    expect(spec.containers[0]?.ports).toEqual([{ name: 'http1', containerPort: 8080 }]);
    expect(spec.containers[0]?.env.map((e) => e.name)).not.toContain('PORT');
    const routerSecret = spec.containers[0]?.envFrom.some((e) => e.secretRef?.name === 'mikrolb-router');
    expect(routerSecret).toBe(fn !== 'allocate'); // allocate never talks to the router
  });

  it('lets only Knative\'s data plane and the bridge reach the function pods', () => {
    const policy = one(docsOf(overlay), 'NetworkPolicy', 'mikrolb-functions', NetworkPolicySchema);
    for (const fn of ['allocate', 'program', 'release']) {
      const labels = one(docsOf(overlay), 'Service', `mikrolb-${fn}`, KServiceSchema).spec.template.metadata.labels;
      expect(selects(policy.spec.podSelector, labels), fn).toBe(true);
    }
    const from = policy.spec.ingress?.flatMap((rule) => rule.from ?? []) ?? [];
    expect(from).toContainEqual({ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'mikrolb-bridge' } } });
    const namespaces = from.flatMap((peer) => peer.namespaceSelector?.matchExpressions?.flatMap((e) => e.values) ?? []);
    expect(namespaces).toContain('knative-serving');
    expect(from.every((peer) => peer.podSelector !== undefined || peer.namespaceSelector?.matchExpressions !== undefined)).toBe(true);
    expect(policy.spec.ingress?.every((rule) => (rule.from ?? []).length > 0)).toBe(true);
  });
});

const FUNCTIONS = ['allocate', 'program', 'release'] as const;
const BRIDGE_SUBJECT = `system:serviceaccount:${NAMESPACE}:mikrolb-bridge`;

/** The INVOKE_* settings of a function's Knative Service, as `mikrolb serve` parses them. */
function invokeAuthOf(overlay: Overlay, fn: string) {
  const [c] = one(docsOf(overlay), 'Service', `mikrolb-${fn}`, KServiceSchema).spec.template.spec.containers;
  const env = Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]));
  return invokeAuthFromEnv(env);
}

/**
 * The OIDC ServiceAccount Knative Eventing gives a Trigger (eventing pkg/auth
 * GetOIDCServiceAccountNameForResource with knative.dev/pkg kmeta.ChildName): the name plus
 * `-oidc-<group>-<kind>`, lower-cased; too long for 63 characters, its first 31 characters and
 * the MD5 of name and suffix.
 */
function triggerIdentity(trigger: string): string {
  const suffix = '-oidc-eventing.knative.dev-Trigger';
  if (trigger.length + suffix.length <= 63) return `${trigger}${suffix}`.toLowerCase();
  const hashed = `${trigger.slice(0, 31)}${createHash('md5').update(trigger + suffix).digest('hex')}`;
  return `${hashed}${suffix.slice(0, Math.max(0, 63 - hashed.length))}`.replace(/[^a-zA-Z0-9]+$/, '').toLowerCase();
}

describe('authenticated invocations', () => {
  it.each(['knative', 'knative-eventing'] as const)('%s: each function checks tokens for the audience mikrolb-functions', (overlay) => {
    for (const fn of FUNCTIONS) expect(invokeAuthOf(overlay, fn), fn).toMatchObject({ ok: true, value: { mode: 'tokenreview', audience: 'mikrolb-functions' } });
  });

  it('knative: only the bridge may invoke, with the projected token of that audience it reads from INVOKE_TOKEN_FILE', () => {
    for (const fn of FUNCTIONS) expect(invokeAuthOf('knative', fn), fn).toMatchObject({ ok: true, value: { allowedSubjects: [BRIDGE_SUBJECT] } });
    const bridge = one(docsOf('knative'), 'Deployment', 'mikrolb-bridge', DeploymentSchema);
    const pod = bridge.spec.template.spec;
    const [c] = pod.containers;
    const file = c?.env.find((e) => e.name === 'INVOKE_TOKEN_FILE')?.value ?? '';
    const mount = c?.volumeMounts.find((m) => file.startsWith(`${m.mountPath}/`));
    const source = pod.volumes.find((v) => v.name === mount?.name)?.projected?.sources.find((s) => s.serviceAccountToken)?.serviceAccountToken;
    expect(source).toMatchObject({ audience: 'mikrolb-functions', path: file.slice((mount?.mountPath.length ?? 0) + 1) });
    expect(pod.serviceAccountName).toBe('mikrolb-bridge');
  });

  it('knative-eventing: each function allows exactly the OIDC identities of the Triggers that deliver to it, which ask for its audience', () => {
    const triggers = ofKind(docsOf('knative-eventing'), 'Trigger', TriggerSchema);
    for (const t of triggers) expect(t.spec.subscriber.audience, t.metadata.name).toBe('mikrolb-functions');
    for (const fn of FUNCTIONS) {
      const senders = triggers.filter((t) => t.spec.subscriber.ref.name === `mikrolb-${fn}`).map((t) => `system:serviceaccount:${NAMESPACE}:${triggerIdentity(t.metadata.name)}`);
      const parsed = invokeAuthOf('knative-eventing', fn);
      expect(parsed.ok && parsed.value.mode === 'tokenreview' ? [...parsed.value.allowedSubjects].sort() : parsed, fn).toEqual(senders.sort());
    }
    expect(triggerIdentity('my-broker')).toBe('my-broker-oidc-eventing.knative.dev-trigger');
  });
});

describe('overlay knative: the bridge', () => {
  it('invokes the Knative Services at their cluster-local URLs, with settings its parser accepts', () => {
    const bridge = one(docsOf('knative'), 'Deployment', 'mikrolb-bridge', DeploymentSchema);
    const [c] = bridge.spec.template.spec.containers;
    expect(c?.args).toEqual(['bridge']);
    const fields = Object.fromEntries((c?.env ?? []).flatMap((e) => (e.valueFrom?.fieldRef ? [[e.name, e.valueFrom.fieldRef.fieldPath]] : [])));
    // what the kubelet puts in for a field reference, as a pod of the overlay would have it
    const podField: Record<string, string> = { 'metadata.name': 'mikrolb-bridge-7d9c5b6f4-x2x8q', 'metadata.namespace': NAMESPACE };
    const env = Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value ?? podField[e.valueFrom?.fieldRef?.fieldPath ?? ''] ?? '']));
    const parsed = bridgeConfigFromEnv(env);
    if (!parsed.ok) throw new Error(parsed.message);
    for (const fn of ['allocate', 'program', 'release'] as const) {
      one(docsOf('knative'), 'Service', `mikrolb-${fn}`, KServiceSchema);
      expect(parsed.config.functions[fn]).toBe(`http://mikrolb-${fn}.${NAMESPACE}.svc.cluster.local`);
    }
    expect(parsed.config.lease.enabled).toBe(true);
    expect(fields['POD_NAME']).toBe('metadata.name');
  });

  it('has no controller: the webhook and the bridge run on their own', () => {
    const deployments = ofKind(docsOf('knative'), 'Deployment', DeploymentSchema).map((d) => d.metadata.name).sort();
    expect(deployments).toEqual(['mikrolb-bridge', 'mikrolb-webhook']);
    expect(ofKind(docsOf('knative-eventing'), 'Deployment', DeploymentSchema).map((d) => d.metadata.name)).toEqual(['mikrolb-webhook']);
  });
});

describe('the router Secret example', () => {
  it('is valid, marked as an example, and part of no overlay (re-applying must not overwrite real credentials)', async () => {
    const text = await readFile(join(DEPLOY, 'base', 'router-secret.example.yaml'), 'utf8');
    const [secret] = parseDocs(text);
    expect(secret?.metadata.annotations?.['mikrolb.de/example']).toMatch(/placeholders/);
    const settings = ConfigMapSchema.pick({ metadata: true }).extend({ stringData: ConfigMapSchema.shape.data }).parse(secret);
    // its CA placeholder is no certificate: a copy applied unchanged stops start-up, naming the variable
    expect(routerFromEnv(settings.stringData)).toEqual({ ok: false, message: 'ROUTEROS_CA_CERT must be PEM certificates: certificate 1 cannot be read' });
    expect(routerFromEnv({ ...settings.stringData, ROUTEROS_CA_CERT: '' })).toMatchObject({ ok: true, value: { url: 'api-ssl://router.example.invalid:8729', username: 'mikrolb' } });
    const result = await dryRun(kubectl, text);
    expect(result.stderr).toBe('');
    expect(result.applied).toEqual(['secret/mikrolb-router serverside-applied (server dry run)']);
    for (const overlay of OVERLAYS) expect(full.get(overlay)?.docs.filter((d) => d.kind === 'Secret')).toEqual([]);
  });
});

/** Every pod template in the render: Deployments and Knative Services. */
function workloads(docs: readonly Doc[]): [string, PodSpec][] {
  const deployments = ofKind(docs, 'Deployment', DeploymentSchema).map((d): [string, PodSpec] => [`Deployment/${d.metadata.name}`, d.spec.template.spec]);
  const ksvcs = docs
    .filter((d) => d.kind === 'Service' && d.apiVersion === 'serving.knative.dev/v1')
    .map((d) => KServiceSchema.parse(d))
    .map((k): [string, PodSpec] => [`ksvc/${k.metadata.name}`, k.spec.template.spec]);
  return [...deployments, ...ksvcs];
}

const SERVED = ['allocate', 'program', 'release', 'webhook'];

function expectKnownSubcommand(c: Container): void {
  const [command, arg] = c.args;
  expect(Object.keys(SUBCOMMANDS), c.name).toContain(command);
  if (command === 'serve') expect(SERVED, c.name).toContain(arg);
}

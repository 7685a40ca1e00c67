/**
 * Egress of MikroLB's pods, as every overlay renders it: each pod is selected by egress
 * NetworkPolicies that together allow exactly the API server, the cluster DNS and what the pod
 * needs besides (the router for the pods that hold its Secret, the functions for the bridge) -
 * and the kustomization that docs/installation.md shows sets the two placeholders.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { testCluster } from '../helpers/cluster.js';
import { DEPLOY, NAMESPACE, ofKind, OVERLAYS, render, renderWithoutCertManager, REPO, type Doc, type Overlay } from './render.js';
import { DeploymentSchema, KServiceSchema, selects } from './schemas.js';

const { kubectl } = testCluster();

const Labels = z.record(z.string(), z.string());
const Selector = z.object({
  matchLabels: Labels.optional(),
  matchExpressions: z.array(z.object({ key: z.string(), operator: z.string(), values: z.array(z.string()).default([]) })).optional(),
});
const Peer = z.object({
  podSelector: Selector.optional(),
  namespaceSelector: Selector.optional(),
  ipBlock: z.object({ cidr: z.string(), except: z.array(z.string()).optional() }).optional(),
});
const Port = z.object({ protocol: z.string().default('TCP'), port: z.union([z.string(), z.number()]).optional(), endPort: z.number().optional() });
const EgressPolicySchema = z.object({
  metadata: z.object({ name: z.string(), namespace: z.string().optional() }),
  spec: z.object({
    podSelector: Selector,
    policyTypes: z.array(z.string()),
    egress: z.array(z.object({ to: z.array(Peer).optional(), ports: z.array(Port).optional() })).optional(),
  }),
});
type EgressPolicy = z.infer<typeof EgressPolicySchema>;

/** One allowed destination: a peer and the ports open towards it (undefined: every port). */
interface Destination {
  to: z.infer<typeof Peer> | 'anywhere';
  ports?: z.infer<typeof Port>[];
}

const API_SERVER = (cidr = '192.0.2.10/32', port = 6443): Destination => ({ to: { ipBlock: { cidr } }, ports: [{ protocol: 'TCP', port }] });
const DNS: Destination = {
  to: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } },
  ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
};
const ROUTER = (cidr = '192.0.2.1/32', port = 8729): Destination => ({ to: { ipBlock: { cidr } }, ports: [{ protocol: 'TCP', port }] });
const FUNCTIONS: Destination[] = [
  { to: { podSelector: { matchLabels: { 'app.kubernetes.io/component': 'function' } } } },
  { to: { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['knative-serving', 'kourier-system', 'istio-system', 'contour-internal'] }] } } },
];

/** What each MikroLB pod may reach, by its app.kubernetes.io/name. */
const EXPECTED: Record<string, Destination[]> = {
  'mikrolb-controller': [API_SERVER(), DNS, ROUTER()],
  'mikrolb-program': [API_SERVER(), DNS, ROUTER()],
  'mikrolb-release': [API_SERVER(), DNS, ROUTER()],
  'mikrolb-allocate': [API_SERVER(), DNS],
  'mikrolb-webhook': [API_SERVER(), DNS],
  'mikrolb-bridge': [API_SERVER(), DNS, ...FUNCTIONS],
};

/** Every pod template of a render (Deployments and Knative Services), with its labels. */
function pods(docs: readonly Doc[]): { name: string; labels: Record<string, string> }[] {
  const deployments = ofKind(docs, 'Deployment', DeploymentSchema).map((d) => ({ name: d.metadata.name, labels: d.spec.template.metadata.labels }));
  const ksvcs = docs
    .filter((d) => d.kind === 'Service' && d.apiVersion === 'serving.knative.dev/v1')
    .map((d) => KServiceSchema.parse(d))
    .map((k) => ({ name: k.metadata.name, labels: k.spec.template.metadata.labels }));
  return [...deployments, ...ksvcs];
}

const egressPolicies = (docs: readonly Doc[]): EgressPolicy[] =>
  ofKind(docs, 'NetworkPolicy', EgressPolicySchema).filter((p) => p.spec.policyTypes.includes('Egress'));

/** The destinations the egress policies selecting a pod allow, one per peer, in a stable order. */
function allowed(policies: readonly EgressPolicy[], labels: Record<string, string>): Destination[] {
  return sorted(policies
    .filter((p) => (p.metadata.namespace ?? NAMESPACE) === NAMESPACE && selects(p.spec.podSelector, labels))
    .flatMap((p) => (p.spec.egress ?? []).flatMap((rule): Destination[] => {
      const ports = rule.ports === undefined || rule.ports.length === 0 ? {} : { ports: rule.ports };
      return rule.to === undefined || rule.to.length === 0 ? [{ to: 'anywhere', ...ports }] : rule.to.map((to) => ({ to, ...ports }));
    })));
}
/** JSON with object keys in order, so that equal destinations compare equal however they were written. */
const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) => (x !== null && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
const sorted = (d: Destination[]): Destination[] => [...d].sort((a, b) => canonical(a).localeCompare(canonical(b)));

const rendered = new Map<Overlay, Doc[]>();

beforeAll(async () => {
  for (const overlay of OVERLAYS) rendered.set(overlay, (await renderWithoutCertManager(kubectl, overlay)).docs);
}, 120_000);

describe.each(OVERLAYS)('overlay %s', (overlay) => {
  it('selects every MikroLB pod with egress policies that allow exactly the API server, DNS and what it needs besides', () => {
    const docs = rendered.get(overlay) ?? [];
    const policies = egressPolicies(docs);
    const found = pods(docs);
    expect(found.length).toBeGreaterThan(0);
    for (const pod of found) {
      const expected = EXPECTED[pod.name];
      if (!expected) throw new Error(`${overlay}: no expected egress for the pod ${pod.name}: add it to this test`);
      expect(allowed(policies, pod.labels), `${overlay}: ${pod.name}`).toEqual(sorted(expected));
    }
  });

  it('restricts only MikroLB\'s pods: no egress policy selects the whole namespace (the ApiServerSource adapter keeps its egress)', () => {
    const policies = egressPolicies(rendered.get(overlay) ?? []);
    expect(policies.length).toBeGreaterThanOrEqual(3);
    for (const p of policies) {
      expect(p.spec.podSelector, p.metadata.name).not.toEqual({});
      expect(selects(p.spec.podSelector, { 'sources.knative.dev/apiServerSource': 'mikrolb', 'app.kubernetes.io/part-of': 'mikrolb' }), p.metadata.name).toBe(false);
    }
  });
});

describe('the placeholders', () => {
  /** The yaml block of docs/installation.md that patches mikrolb-egress-router. */
  async function documentedKustomization(): Promise<string> {
    const text = await readFile(join(REPO, 'docs', 'installation.md'), 'utf8');
    const block = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '').find((b) => b.includes('mikrolb-egress-router'));
    if (!block) throw new Error('docs/installation.md shows no kustomization that sets mikrolb-egress-router');
    return block;
  }

  it.each(OVERLAYS)('are set by the kustomization docs/installation.md shows (overlay %s)', async (overlay) => {
    const dir = await mkdtemp(join(tmpdir(), 'mikrolb-egress-'));
    try {
      const documented: unknown = parse(await documentedKustomization());
      const kustomization = z.object({ resources: z.array(z.string()) }).loose().parse(documented);
      expect(kustomization.resources).toEqual(['path/to/mikrolb/deploy/overlays/default']);
      const ours = {
        ...kustomization,
        resources: [relative(dir, join(DEPLOY, 'overlays', overlay))],
        components: [relative(dir, join(DEPLOY, 'components', 'without-cert-manager'))],
      };
      await writeFile(join(dir, 'kustomization.yaml'), JSON.stringify(ours));
      const docs = (await render(kubectl, dir)).docs;
      const policies = egressPolicies(docs);
      for (const pod of pods(docs)) {
        const same = (a: Destination, b: Destination): boolean => canonical(a) === canonical(b);
        const patched = (EXPECTED[pod.name] ?? []).map((d) => (same(d, API_SERVER()) ? API_SERVER('172.16.0.2/32', 443) : same(d, ROUTER()) ? ROUTER('10.0.0.1/32', 8728) : d));
        expect(patched).not.toEqual(EXPECTED[pod.name]);
        expect(allowed(policies, pod.labels), pod.name).toEqual(sorted(patched));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

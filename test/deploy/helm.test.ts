/**
 * deploy/helm/mikrolb: `helm lint` passes; `helm template` gives, for every overlay, either
 * cert-manager choice and (where it applies) with or without components/monitoring, exactly the
 * objects kustomize renders from deploy/ (after dropping the two labels and the one annotation
 * only Helm adds); the values land where they should; a render with non-default values passes a
 * server-side dry-run against the real API server.
 */
import { lstat, mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { classesFromEnv, routerFromEnv } from '../../lib/config.js';
import { testCluster } from '../helpers/cluster.js';
import { CHART, helm, helmTemplate } from './helm.js';
import { MONITORING, readDashboard } from './monitoring.js';
import {
  applyForReal, DEPLOY, dryRun, key, manifestOf, NAMESPACE, one, ofKind, OVERLAYS, render, renderWithComponents, renderWithoutCertManager,
  type Doc, type Overlay,
} from './render.js';
import { ConfigMapSchema, ServiceSchema } from './schemas.js';
import { documentedPatches, renderOverlay, selectable } from './old-clusters.js';

const { kubectl } = testCluster();

/** The chart's `mode` for each kustomize overlay. */
const MODE: Record<Overlay, string> = { default: 'controller', knative: 'knative', 'knative-eventing': 'knative-eventing' };

/** What only Helm adds: its two labels on every object and the keep policy on the CRDs. */
const HELM_LABELS = ['helm.sh/chart', 'app.kubernetes.io/managed-by'];
const HELM_ANNOTATIONS = ['helm.sh/resource-policy'];

function withoutKeys(record: Record<string, string> | undefined, keys: readonly string[]): Record<string, string> | undefined {
  if (record === undefined) return undefined;
  const kept = Object.fromEntries(Object.entries(record).filter(([k]) => !keys.includes(k)));
  return Object.keys(kept).length > 0 ? kept : undefined;
}

/** The objects sorted by kind, namespace and name, without what only Helm adds. */
function normalised(docs: readonly Doc[]): Doc[] {
  return docs
    .map((d) => {
      const { labels, annotations, ...metadata } = d.metadata;
      const l = withoutKeys(labels, HELM_LABELS);
      const a = withoutKeys(annotations, HELM_ANNOTATIONS);
      return { ...d, metadata: { ...metadata, ...(l ? { labels: l } : {}), ...(a ? { annotations: a } : {}) } };
    })
    .sort((x, y) => key(x).localeCompare(key(y)));
}

/** The chart's values for an overlay (the Namespace included, as kustomize includes it). */
const valuesFor = (overlay: Overlay, certManager: boolean, monitoring = false): Record<string, string> => ({
  mode: MODE[overlay],
  'certManager.enabled': String(certManager),
  'namespace.create': 'true',
  'monitoring.enabled': String(monitoring),
});

/** The overlays components/monitoring applies to: those where a pod serves /metrics (monitoring.test.ts). */
const MONITORED: readonly Overlay[] = ['default', 'knative'];
const monitoringChoices = (overlay: Overlay): boolean[] => (MONITORED.includes(overlay) ? [false, true] : [false]);

describe('helm lint', () => {
  it.each(OVERLAYS)('passes --strict for the overlay %s, with and without cert-manager (and monitoring, where it applies)', async (overlay) => {
    for (const certManager of [true, false]) {
      for (const monitoring of monitoringChoices(overlay)) {
        const sets = Object.entries(valuesFor(overlay, certManager, monitoring)).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
        const out = await helm(['lint', '--strict', CHART, ...sets]);
        expect(out.stdout, out.stderr).toContain('1 chart(s) linted, 0 chart(s) failed');
        expect(out.code).toBe(0);
      }
    }
  });
});

describe.each(OVERLAYS)('the chart in step with deploy/overlays/%s', (overlay) => {
  it('renders the same objects as the overlay (with cert-manager)', async () => {
    const kustomize = await render(kubectl, join(DEPLOY, 'overlays', overlay));
    const chart = await helmTemplate(valuesFor(overlay, true));
    expect(kustomize.docs.length).toBeGreaterThan(20);
    expect(normalised(chart.docs).map(key)).toEqual(normalised(kustomize.docs).map(key));
    expect(normalised(chart.docs)).toEqual(normalised(kustomize.docs));
  });

  it('renders the same objects as the overlay with components/without-cert-manager (certManager.enabled=false)', async () => {
    const kustomize = await renderWithoutCertManager(kubectl, overlay);
    const chart = await helmTemplate(valuesFor(overlay, false));
    expect(normalised(chart.docs)).toEqual(normalised(kustomize.docs));
    expect(chart.docs.map((d) => d.kind)).not.toContain('Certificate');
  });

  if (MONITORED.includes(overlay)) {
    it.each([true, false])('renders the same objects as the overlay with components/monitoring (monitoring.enabled=true, certManager.enabled=%s)', async (certManager) => {
      const components = certManager ? ['monitoring'] : ['without-cert-manager', 'monitoring'];
      const kustomize = await renderWithComponents(kubectl, overlay, components);
      const chart = await helmTemplate(valuesFor(overlay, certManager, true));
      expect(normalised(chart.docs).map(key)).toEqual(normalised(kustomize.docs).map(key));
      expect(normalised(chart.docs)).toEqual(normalised(kustomize.docs));
      expect(chart.docs.map((d) => d.kind)).toEqual(expect.arrayContaining(['PodMonitor', 'PrometheusRule']));
    });
  }

  it('labels every object as Helm\'s, and keeps the CRDs on uninstall', async () => {
    const chart = await helmTemplate(valuesFor(overlay, true));
    for (const d of chart.docs) expect(d.metadata.labels, key(d)).toMatchObject({ 'app.kubernetes.io/managed-by': 'Helm', 'app.kubernetes.io/part-of': 'mikrolb' });
    const crds = chart.docs.filter((d) => d.kind === 'CustomResourceDefinition');
    expect(crds.map((d) => d.metadata.name).sort()).toEqual(['ipaddressclaims.mikrolb.de', 'ipallocations.mikrolb.de', 'ippools.mikrolb.de']);
    for (const d of crds) expect(d.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
  });
});

describe.each(OVERLAYS)('the chart on Kubernetes older than 1.30 (overlay %s)', (overlay) => {
  it('renders what the overlay with the documented pre-1.30 patches renders: no Service-write policy, no selectableFields', async () => {
    const [old, oldest, current, standIn, patched] = await Promise.all([
      helmTemplate(valuesFor(overlay, false), ['--kube-version', '1.29.0']),
      helmTemplate(valuesFor(overlay, false), ['--kube-version', '1.24.0']),
      helmTemplate(valuesFor(overlay, false), ['--kube-version', '1.30.0']),
      helmTemplate(valuesFor(overlay, false)), // no cluster: Helm's stand-in 1.20.0 counts as current
      renderOverlay(kubectl, overlay, await documentedPatches()),
    ]);
    expect(normalised(old.docs)).toEqual(normalised(patched));
    expect(normalised(oldest.docs)).toEqual(normalised(patched));
    for (const render of [current, standIn]) {
      expect(selectable(render.docs)).toEqual([{ jsonPath: '.status.phase' }]);
      expect(render.docs.map((d) => d.kind)).toEqual(expect.arrayContaining(['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']));
    }
  });
});

describe('the default values', () => {
  it('leave out the Namespace (created beforehand, with its labels) and nothing else of the plain overlay', async () => {
    const chart = await helmTemplate();
    const kustomize = await render(kubectl, join(DEPLOY, 'overlays', 'default'));
    expect(normalised(chart.docs)).toEqual(normalised(kustomize.docs).filter((d) => d.kind !== 'Namespace'));
  });

  it('with crds.install=false leave out exactly the three CRDs', async () => {
    const chart = await helmTemplate({ 'crds.install': 'false' });
    expect(chart.docs.map((d) => d.kind)).not.toContain('CustomResourceDefinition');
    expect(chart.docs).toHaveLength((await helmTemplate()).docs.length - 3);
  });
});

describe('monitoring', () => {
  const MONITORING_KEYS = [`ConfigMap/${NAMESPACE}/mikrolb-grafana-dashboard`, `PodMonitor/${NAMESPACE}/mikrolb`, `PrometheusRule/${NAMESPACE}/mikrolb`];

  it('is off by default: none of the three objects', async () => {
    const keys = (await helmTemplate()).docs.map(key);
    for (const k of MONITORING_KEYS) expect(keys).not.toContain(k);
  });

  it('puts monitoring.labels and Helm\'s labels on the three objects, keeps their own, and serves the component\'s dashboard', async () => {
    const docs = (await helmTemplate({ 'monitoring.enabled': 'true', 'monitoring.labels.release': 'kube-prometheus-stack' })).docs;
    const monitoring = docs.filter((d) => MONITORING_KEYS.includes(key(d)));
    expect(monitoring.map(key).sort()).toEqual(MONITORING_KEYS);
    for (const d of monitoring) expect(d.metadata.labels, key(d)).toMatchObject({ release: 'kube-prometheus-stack', 'app.kubernetes.io/managed-by': 'Helm' });
    expect(one(docs, 'PodMonitor', 'mikrolb', z.object({ metadata: z.object({ labels: z.record(z.string(), z.string()) }) })).metadata.labels['app.kubernetes.io/name']).toBe('mikrolb');
    const dashboard = one(docs, 'ConfigMap', 'mikrolb-grafana-dashboard', ConfigMapSchema);
    expect(dashboard.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse(dashboard.data['mikrolb.json'] ?? '')).toEqual(await readDashboard());
  });

  it('reads the component itself (files/monitoring links to deploy/components/monitoring): no copy to drift', async () => {
    const link = join(CHART, 'files', 'monitoring');
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await realpath(link)).toBe(await realpath(MONITORING));
  });
});

const EgressSchema = z.object({
  metadata: z.object({ name: z.string() }),
  spec: z.object({
    egress: z.array(z.object({
      to: z.array(z.object({ ipBlock: z.object({ cidr: z.string() }).optional() }).loose()),
      ports: z.array(z.object({ protocol: z.string(), port: z.union([z.number(), z.string()]) })),
    })),
  }),
});
const SecretSchema = z.object({ metadata: z.object({ name: z.string(), namespace: z.string() }), stringData: z.record(z.string(), z.string()) });

/** Every value under the key `name` anywhere in `value` (containers' images, secretRefs). */
function valuesAt(value: unknown, name: string): unknown[] {
  if (Array.isArray(value)) return value.flatMap((v) => valuesAt(v, name));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => (k === name ? [v, ...valuesAt(v, name)] : valuesAt(v, name)));
}

describe.each(OVERLAYS)('non-default values, overlay %s', (overlay) => {
  const custom = {
    mode: MODE[overlay],
    'certManager.enabled': 'false',
    'config.loadBalancerClassName': 'example.com/edge',
    'config.loadBalancerDefault': 'true',
    'config.clusterName': 'west-2',
    'config.maxAnnotationItems': '32',
    'config.maxAllocationsPerService': '4',
    'router.secretName': 'edge-router',
    'router.createSecret': 'true',
    'router.url': 'api://198.51.100.1',
    'router.username': 'mikrolb',
    'router.password': 's3cret',
    'image.repository': 'registry.example.com/mikrolb',
    'image.tag': 'v1.2.3',
    'egress.apiServer.cidrs': '{203.0.113.10/32,203.0.113.11/32}',
    'egress.apiServer.port': '443',
    'egress.router.cidrs': '{198.51.100.1/32}',
    'egress.router.port': '8728',
  };
  let docs: Doc[] = [];
  beforeAll(async () => {
    docs = (await helmTemplate(custom)).docs;
  });

  it('puts the class settings, the cluster name and the Service limits into mikrolb-config, in a form the components accept', () => {
    const config = one(docs, 'ConfigMap', 'mikrolb-config', ConfigMapSchema);
    expect(classesFromEnv(config.data)).toEqual({
      ok: true,
      value: { loadBalancerClass: 'example.com/edge', defaultClass: true, clusterName: 'west-2', limits: { maxAnnotationItems: 32, maxAllocations: 4 } },
    });
  });

  it('creates the router Secret under its name, with keys the components accept, and points every reader at it', () => {
    const secret = one(docs, 'Secret', 'edge-router', SecretSchema);
    expect(secret.metadata.namespace).toBe(NAMESPACE);
    expect(routerFromEnv(secret.stringData)).toMatchObject({ ok: true });
    const secretRefs = valuesAt(docs, 'secretRef');
    expect(secretRefs.length).toBe(overlay === 'default' ? 1 : 2); // the controller, or program and release
    for (const ref of secretRefs) expect(ref).toEqual({ name: 'edge-router' });
  });

  it('runs every container from the image', () => {
    const images = valuesAt(docs, 'image');
    expect(images.length).toBeGreaterThan(0);
    expect(new Set(images)).toEqual(new Set(['registry.example.com/mikrolb:v1.2.3']));
  });

  it('sets the egress destinations instead of the placeholders', () => {
    const egress = (name: string) => one(docs, 'NetworkPolicy', name, EgressSchema).spec.egress;
    expect(egress('mikrolb-egress-api-server')).toEqual([{ to: [{ ipBlock: { cidr: '203.0.113.10/32' } }, { ipBlock: { cidr: '203.0.113.11/32' } }], ports: [{ protocol: 'TCP', port: 443 }] }]);
    expect(egress('mikrolb-egress-router')).toEqual([{ to: [{ ipBlock: { cidr: '198.51.100.1/32' } }], ports: [{ protocol: 'TCP', port: 8728 }] }]);
  });

  it('points the webhook Service at the pods that serve it', () => {
    const service = one(docs, 'Service', 'mikrolb-webhook', ServiceSchema);
    expect(service.spec.selector).toEqual({ 'app.kubernetes.io/name': overlay === 'default' ? 'mikrolb-controller' : 'mikrolb-webhook' });
  });

  if (overlay === 'default') {
    it('passes a server-side dry-run apply, every object of it', async () => {
      // The namespace for real (other tests leave it too), so the namespaced objects can dry-run.
      await applyForReal(kubectl, ['-f', '-'], manifestOf((await render(kubectl, join(DEPLOY, 'base'))).docs.filter((d) => d.kind === 'Namespace')));
      const result = await dryRun(kubectl, manifestOf(docs));
      expect(result.stderr).toBe('');
      expect(result.applied).toHaveLength(docs.length);
      expect(ofKind(docs, 'Secret', SecretSchema)).toHaveLength(1);
    });
  }
});

describe('router.createSecret', () => {
  it('takes an empty router.password, as the components do (ROUTEROS_PASSWORD is optional)', async () => {
    const docs = (await helmTemplate({ 'router.createSecret': 'true', 'router.url': 'api://198.51.100.1', 'router.username': 'admin' })).docs;
    const secret = one(docs, 'Secret', 'mikrolb-router', SecretSchema);
    expect(routerFromEnv(secret.stringData)).toEqual({ ok: true, value: { url: 'api://198.51.100.1', username: 'admin', password: '' } });
  });

  it.each([
    ['api://198.51.100.1', 8728],
    ['api-ssl://router.lan', 8729],
    ['api://[2001:db8::1]:1234/', 1234],
  ])('lets %s decide the router egress port when egress.router.port is empty', async (url, port) => {
    const docs = (await helmTemplate({ 'router.createSecret': 'true', 'router.url': url, 'router.username': 'admin' })).docs;
    expect(one(docs, 'NetworkPolicy', 'mikrolb-egress-router', EgressSchema).spec.egress[0]?.ports).toEqual([{ protocol: 'TCP', port }]);
  });
});

describe('values the chart refuses', () => {
  it.each([
    [['--set', 'mode=kubernetes'], /mode/],
    [['--set', 'config.loadBalancerClassName=not a class!'], /loadBalancerClassName/],
    [['--set', 'config.loadBalancerClassName=a/b/c'], /loadBalancerClassName/],
    [['--set', 'config.clusterName=Not_A_Name'], /clusterName/],
    [['--set', 'config.clusterName=global'], /clusterName/],
    [['--set', 'config.maxAnnotationItems=0'], /maxAnnotationItems/],
    [['--set', 'config.maxAllocationsPerService=1025'], /maxAllocationsPerService/],
    [['--set', 'config.maxAllocationsPerService=many'], /maxAllocationsPerService/],
    [['--set', 'certManager.enable=false'], /enable/],
    [['--set', 'router.createSecret=true'], /router.createSecret needs router.url/],
    [['--set', 'router.createSecret=true', '--set', 'router.url=https://192.0.2.1', '--set', 'router.username=admin'], /router\/url/],
    [['--set', 'router.createSecret=true', '--set', 'router.url=api-ssl://router.lan/rest', '--set', 'router.username=admin'], /router\/url/],
    [['--set', 'egress.router.port=0'], /port/],
    [['--set', 'router.createSecret=true', '--set', 'router.url=api://192.0.2.1', '--set', 'router.username=admin', '--set', 'egress.router.port=8729'], /egress.router.port 8729 is not the port of router.url api:\/\/192.0.2.1 \(8728\)/],
    [['--set', 'mode=knative-eventing', '--set', 'monitoring.enabled=true'], /monitoring.enabled needs mode controller or knative/],
    [['--set', 'monitoring.labels.release=1'], /monitoring\/labels\/release/],
  ])('%j', async (args, message) => {
    const out = await helm(['template', 'mikrolb', CHART, ...args]);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(message);
  });
});

describe('helm package', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mikrolb-helm-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('packs the CRDs and the monitoring component the chart links to (files/crds, files/monitoring): the archive renders what the folder does', async () => {
    const packed = await helm(['package', CHART, '--destination', dir]);
    expect(packed.code, packed.stderr).toBe(0);
    const archive = /saved it to: (\S+)/.exec(packed.stdout)?.[1] ?? '';
    const fromArchive = await helm(['template', 'mikrolb', archive, '--set', 'monitoring.enabled=true']);
    expect(fromArchive.code, fromArchive.stderr).toBe(0);
    const fromFolder = await helmTemplate({ 'monitoring.enabled': 'true' });
    expect(fromArchive.stdout).toBe(fromFolder.text);
    expect(fromFolder.docs.filter((d) => d.kind === 'CustomResourceDefinition')).toHaveLength(3);
    expect(fromFolder.docs.filter((d) => ['PodMonitor', 'PrometheusRule'].includes(d.kind))).toHaveLength(2);
  });
});

/** The dotted paths of every leaf of a values tree (a list or an empty map, like monitoring.labels, is a leaf). */
function leaves(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.keys(value).length === 0) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
}

describe('docs/installation.md', () => {
  it('documents every value of values.yaml in its Helm table, and no other', async () => {
    const values = leaves(parse(await readFile(join(CHART, 'values.yaml'), 'utf8')));
    const doc = await readFile(join(DEPLOY, '..', 'docs', 'installation.md'), 'utf8');
    const section = doc.split('\n## ').find((part) => part.startsWith('5. Install with Helm')) ?? '';
    const documented = section
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? ''));
    expect(values.length).toBeGreaterThan(10);
    expect(documented.sort()).toEqual(values.sort());
  });
});

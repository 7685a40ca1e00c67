/**
 * docs/upgrading.md, "Going back": the commands it gives to stop MikroLB select, on the real API
 * server, every object of deploy/overlays/default, knative and knative-eventing except the CRDs
 * and the namespace, and nothing of anyone else's in mikrolb-system. They run with
 * --dry-run=server: the admission policy is never deleted in the test cluster (see ./policy.ts).
 * Knative's CRDs are installed for real (as the manifests tests do), so its kinds are served.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCluster } from '../helpers/cluster.js';
import { knativeCrdFiles } from './knative.js';
import { applyForReal, manifestOf, NAMESPACE, OVERLAYS, parseDocs, renderWithoutCertManager, REPO, render, DEPLOY, type Doc, type Overlay } from './render.js';

const { kubectl } = testCluster();

/** Kept when going back: deleting them takes every IPPool and IPAllocation with them. */
const KEPT = new Set(['CustomResourceDefinition', 'Namespace']);
const CERT_MANAGER = 'cert-manager.io/v1';
/** An object of somebody else's in mikrolb-system (upstream's kinds and names, without MikroLB's label). */
const FOREIGN = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'upstream-lookalike', namespace: NAMESPACE, labels: { 'app.kubernetes.io/name': 'mikrolb' } } };

/** `kubectl … -o name` of an object: the lower-case kind, its group unless core, and its name. */
function nameOf(d: Doc): string {
  const group = d.apiVersion.includes('/') ? d.apiVersion.split('/')[0] : '';
  return `${d.kind.toLowerCase()}${group ? `.${group}` : ''}/${d.metadata.name}`;
}

/** The `kubectl … delete …` lines of the "Going back" section, each as its arguments (comments cut). */
async function documentedCommands(): Promise<string[][]> {
  const md = await readFile(join(REPO, 'docs', 'upgrading.md'), 'utf8');
  const section = md.split('### Going back')[1]?.split(/\n##+ /)[0] ?? '';
  return section
    .split('\n')
    .map((line) => line.trim().replace(/\s+#.*$/, ''))
    .filter((line) => line.startsWith('kubectl ') && / delete /.test(line) && !line.includes('ipaddressclaims'))
    .map((line) => line.split(/\s+/).slice(1));
}

const docsOf = new Map<Overlay, Doc[]>();
/** The Issuer and Certificate: the test cluster has no cert-manager CRDs, so they are checked against the command's list. */
let certManager: Doc[] = [];
/** The objects only the Knative overlays have (applied here, deleted after). */
let knativeOnly: Doc[] = [];
const KNATIVE_KINDS = 'services.serving.knative.dev,brokers.eventing.knative.dev,triggers.eventing.knative.dev,apiserversources.sources.knative.dev,pingsources.sources.knative.dev';

beforeAll(async () => {
  const files = await knativeCrdFiles();
  await applyForReal(kubectl, files.flatMap((f) => ['-f', f]));
  const crds = (await Promise.all(files.map((f) => readFile(f, 'utf8')))).flatMap(parseDocs).filter((d) => d.kind === 'CustomResourceDefinition');
  const waited = await kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...crds.map((d) => `crd/${d.metadata.name}`)]);
  if (waited.code !== 0) throw new Error(`Knative CRDs not established: ${waited.stderr}`);
  for (const overlay of OVERLAYS) docsOf.set(overlay, (await renderWithoutCertManager(kubectl, overlay)).docs);
  certManager = (await render(kubectl, join(DEPLOY, 'overlays', 'default'))).docs.filter((d) => d.apiVersion === CERT_MANAGER);
  // Applied for real; the IPPool webhook with failurePolicy Ignore, as nothing serves it here
  // (its name and labels, which the commands select by, are the rendered ones). Of the Knative
  // overlays, what the default overlay lacks (the objects both have are the same but for the
  // webhook Service's selector, left as the default overlay's for the other test files).
  const docs = docsOf.get('default') ?? [];
  const inDefault = new Set(docs.map(nameOf));
  knativeOnly = [...new Map((['knative', 'knative-eventing'] as const).flatMap((o) => docsOf.get(o) ?? []).filter((d) => !inDefault.has(nameOf(d))).map((d) => [nameOf(d), d])).values()];
  const applied = [...docs, ...knativeOnly].map((d) => (d.kind === 'ValidatingWebhookConfiguration' ? ignoring(d) : d));
  await applyForReal(kubectl, ['-f', '-'], manifestOf([...applied, FOREIGN]));
}, 300_000);

afterAll(async () => {
  await kubectl(['delete', '--ignore-not-found', 'validatingwebhookconfiguration', 'mikrolb-ippool-validation']);
  await kubectl(['-n', NAMESPACE, 'delete', '--ignore-not-found', 'deployment/mikrolb-controller', 'serviceaccount/upstream-lookalike']);
  await kubectl(['-n', NAMESPACE, 'delete', '--ignore-not-found', KNATIVE_KINDS, '-l', 'app.kubernetes.io/part-of=mikrolb']);
  await kubectl(['-n', NAMESPACE, 'delete', '--ignore-not-found', 'deployment/mikrolb-bridge', 'deployment/mikrolb-webhook', 'poddisruptionbudget/mikrolb-webhook']);
});

describe('going back to upstream (docs/upgrading.md)', () => {
  it('the documented commands delete every object of the default overlay but the CRDs and the namespace, and nothing else', async () => {
    const docs = docsOf.get('default') ?? [];
    const commands = await documentedCommands();
    expect(commands.length).toBe(5);
    const [, , namespaced, cluster, certs] = commands;
    const selected: string[] = [];
    for (const args of [namespaced, cluster]) {
      const out = await kubectl([...(args ?? []), '--dry-run=server', '-o', 'name']);
      expect(out.code, out.stderr).toBe(0);
      selected.push(...out.stdout.split('\n').filter(Boolean));
    }
    const expected = docs.filter((d) => !KEPT.has(d.kind) && d.apiVersion !== CERT_MANAGER).map(nameOf);
    expect(selected).toEqual(expect.arrayContaining(expected));
    expect(selected.filter((n) => n.startsWith('customresourcedefinition.') || n.startsWith('namespace/'))).toEqual([]);
    expect(selected).not.toContain(nameOf(FOREIGN));
    // beyond the overlay's, the test cluster (shared by the test files) may hold what other
    // files applied of the other overlays (knative-eventing's mikrolb-events, say): MikroLB's too
    for (const extra of selected.filter((n) => !expected.includes(n))) expect(extra.split('/')[1], extra).toMatch(/^mikrolb-/);
    expect(docs.filter((d) => KEPT.has(d.kind)).map((d) => d.kind).sort()).toEqual(['CustomResourceDefinition', 'CustomResourceDefinition', 'CustomResourceDefinition', 'Namespace']);
    // cert-manager's kinds are not served here: the third command names exactly theirs, with the same selector.
    const types = (certs ?? []).find((a) => a.includes('cert-manager.io'))?.split(',') ?? [];
    expect(certManager.map((d) => `${d.kind.toLowerCase()}s.cert-manager.io`).sort()).toEqual([...types].sort());
    expect(certs).toEqual(expect.arrayContaining(['-n', NAMESPACE, 'delete', '-l', 'app.kubernetes.io/part-of=mikrolb']));
    for (const d of certManager) expect(d.metadata.labels?.['app.kubernetes.io/part-of'], d.metadata.name).toBe('mikrolb');
  }, 120_000);

  // Before, the commands named no Knative kind: the functions (Knative Services) and, under
  // Knative Eventing, the event sources, Broker and Triggers stayed, the sources invoking the functions
  it.each(['knative', 'knative-eventing'] as const)('the documented commands delete every object of the %s overlay but the CRDs and the namespace', async (overlay) => {
    const selected: string[] = [];
    for (const args of await documentedCommands()) {
      if (args.some((a) => a.includes('cert-manager.io'))) continue;
      const out = await kubectl([...args, '--dry-run=server', '-o', 'name']);
      expect(out.code, out.stderr).toBe(0);
      selected.push(...out.stdout.split('\n').filter(Boolean));
    }
    const expected = (docsOf.get(overlay) ?? []).filter((d) => !KEPT.has(d.kind)).map(nameOf);
    expect(expected.filter((n) => n.includes('knative.dev/')).length).toBeGreaterThan(0);
    expect(selected).toEqual(expect.arrayContaining(expected));
    expect(selected).not.toContain(nameOf(FOREIGN));
  }, 120_000);

  it('the Knative lines come first: nothing invokes the functions, nor do they run, once the rest goes', async () => {
    const commands = await documentedCommands();
    expect(commands[0]?.join(' ')).toMatch(/apiserversources\.sources\.knative\.dev/);
    expect(commands[1]?.join(' ')).toMatch(/services\.serving\.knative\.dev/);
  });
});

/** A ValidatingWebhookConfiguration whose webhooks fail open. */
function ignoring(d: Doc): Doc {
  const webhooks: unknown = d['webhooks'];
  if (!Array.isArray(webhooks)) throw new Error('a ValidatingWebhookConfiguration without webhooks');
  return { ...d, webhooks: webhooks.map((w: unknown) => (typeof w === 'object' && w !== null ? { ...w, failurePolicy: 'Ignore' } : w)) };
}

/**
 * docs/upgrading.md, "Going back": the commands it gives to stop MikroLB select, on the real API
 * server, every object of deploy/overlays/default except the CRDs and the namespace, and nothing
 * of anyone else's in mikrolb-system. They run with --dry-run=server: the admission policy is
 * never deleted in the test cluster (see ./policy.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCluster } from '../helpers/cluster.js';
import { applyForReal, manifestOf, NAMESPACE, renderWithoutCertManager, REPO, render, DEPLOY, type Doc } from './render.js';

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

let docs: Doc[] = [];
/** The Issuer and Certificate: the test cluster has no cert-manager CRDs, so they are checked against the command's list. */
let certManager: Doc[] = [];

beforeAll(async () => {
  docs = (await renderWithoutCertManager(kubectl, 'default')).docs;
  certManager = (await render(kubectl, join(DEPLOY, 'overlays', 'default'))).docs.filter((d) => d.apiVersion === CERT_MANAGER);
  // Applied for real; the IPPool webhook with failurePolicy Ignore, as nothing serves it here
  // (its name and labels, which the commands select by, are the rendered ones).
  const applied = docs.map((d) => (d.kind === 'ValidatingWebhookConfiguration' ? ignoring(d) : d));
  await applyForReal(kubectl, ['-f', '-'], manifestOf([...applied, FOREIGN]));
}, 180_000);

afterAll(async () => {
  await kubectl(['delete', '--ignore-not-found', 'validatingwebhookconfiguration', 'mikrolb-ippool-validation']);
  await kubectl(['-n', NAMESPACE, 'delete', '--ignore-not-found', 'deployment/mikrolb-controller', 'serviceaccount/upstream-lookalike']);
});

describe('going back to upstream (docs/upgrading.md)', () => {
  it('the documented commands delete every object of the default overlay but the CRDs and the namespace, and nothing else', async () => {
    const commands = await documentedCommands();
    expect(commands.length).toBe(3);
    const [namespaced, cluster, certs] = commands;
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
});

/** A ValidatingWebhookConfiguration whose webhooks fail open. */
function ignoring(d: Doc): Doc {
  const webhooks: unknown = d['webhooks'];
  if (!Array.isArray(webhooks)) throw new Error('a ValidatingWebhookConfiguration without webhooks');
  return { ...d, webhooks: webhooks.map((w: unknown) => (typeof w === 'object' && w !== null ? { ...w, failurePolicy: 'Ignore' } : w)) };
}

/**
 * Rendering deploy/ with the harness's kubectl (kustomize built in), reading the objects back
 * through zod, and the test-only kustomization that leaves cert-manager out.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { z } from 'zod';
import type { Kubectl } from '../helpers/cluster.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const DEPLOY = join(REPO, 'deploy');
export const NAMESPACE = 'mikrolb-system';
export const OVERLAYS = ['default', 'knative', 'knative-eventing'] as const;
export type Overlay = (typeof OVERLAYS)[number];

const Labels = z.record(z.string(), z.string());
export const DocSchema = z
  .object({
    apiVersion: z.string(),
    kind: z.string(),
    metadata: z.object({ name: z.string(), namespace: z.string().optional(), labels: Labels.optional(), annotations: Labels.optional() }).loose(),
  })
  .loose();
export type Doc = z.infer<typeof DocSchema>;

export interface Rendered {
  /** The kustomize output, as kubectl printed it. */
  text: string;
  docs: Doc[];
}

/** `Kind/name` (plus the namespace when set): how tests name objects. */
export const key = (d: Doc): string => `${d.kind}/${d.metadata.namespace ? `${d.metadata.namespace}/` : ''}${d.metadata.name}`;

export async function render(kubectl: Kubectl, dir: string): Promise<Rendered> {
  const out = await kubectl(['kustomize', dir]);
  if (out.code !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${out.stderr}`);
  return { text: out.stdout, docs: parseDocs(out.stdout) };
}

export function parseDocs(text: string): Doc[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS())
    .filter((d) => d !== null && d !== undefined)
    .map((d) => DocSchema.parse(d));
}

/**
 * An overlay as a user composes it: a kustomization in a temporary folder that takes the
 * overlay and adds components of deploy/components (`without-cert-manager`, `monitoring`).
 */
export async function renderWithComponents(kubectl: Kubectl, overlay: Overlay, components: readonly string[]): Promise<Rendered> {
  const dir = await mkdtemp(join(tmpdir(), 'mikrolb-kustomize-'));
  try {
    const kustomization = {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [relative(dir, join(DEPLOY, 'overlays', overlay))],
      components: components.map((c) => relative(dir, join(DEPLOY, 'components', c))),
    };
    await writeFile(join(dir, 'kustomization.yaml'), stringify(kustomization));
    return await render(kubectl, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** An overlay without the cert-manager Issuer and Certificate (the test cluster has no cert-manager CRDs), as a user without cert-manager renders it. */
export const renderWithoutCertManager = (kubectl: Kubectl, overlay: Overlay): Promise<Rendered> =>
  renderWithComponents(kubectl, overlay, ['without-cert-manager']);

/** Server-side dry-run apply: the API server validates every object (schemas, CRDs, strict fields). */
export async function dryRun(kubectl: Kubectl, manifest: string): Promise<{ code: number; applied: string[]; stderr: string }> {
  const out = await kubectl(['apply', '--server-side', '--force-conflicts', '--dry-run=server', '-f', '-'], manifest);
  const applied = out.stdout.split('\n').filter((line) => line.endsWith('serverside-applied (server dry run)'));
  return { code: out.code, applied, stderr: out.stderr };
}

/** Applies for real (server-side, idempotent); throws with kubectl's words on failure. */
export async function applyForReal(kubectl: Kubectl, args: readonly string[], input?: string): Promise<void> {
  const out = await kubectl(['apply', '--server-side', '--force-conflicts', ...args], input);
  if (out.code !== 0) throw new Error(`kubectl apply ${args.join(' ')} failed: ${out.stderr}`);
}

export const manifestOf = (docs: readonly Doc[]): string => docs.map((d) => stringify(d)).join('---\n');

/** Every object of `kind`, parsed with `schema`. */
export function ofKind<S extends z.ZodType>(docs: readonly Doc[], kind: string, schema: S): z.infer<S>[] {
  return docs.filter((d) => d.kind === kind).map((d) => schema.parse(d));
}

/** The one object of `kind` named `name`. */
export function one<S extends z.ZodType>(docs: readonly Doc[], kind: string, name: string, schema: S): z.infer<S> {
  const found = docs.filter((d) => d.kind === kind && d.metadata.name === name);
  if (found.length !== 1) throw new Error(`expected one ${kind}/${name}, found ${found.length}`);
  return schema.parse(found[0]);
}

const RBAC_KINDS = new Set(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

/**
 * Applies, for real, the namespace and every RBAC object of deploy/ (the knative-eventing render
 * holds them all: the base's and the ApiServerSource's); returns them.
 */
export async function applyRbac(kubectl: Kubectl): Promise<Doc[]> {
  const docs = (await renderWithoutCertManager(kubectl, 'knative-eventing')).docs.filter((d) => RBAC_KINDS.has(d.kind));
  await applyForReal(kubectl, ['-f', '-'], manifestOf(docs));
  return docs;
}

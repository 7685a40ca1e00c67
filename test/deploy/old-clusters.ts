/**
 * What docs/installation.md tells users of Kubernetes older than 1.30 to do, for the tests: its
 * kustomize patches, an overlay rendered with them, and the IPAllocation CRD's selectableFields.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import type { Kubectl } from '../helpers/cluster.js';
import { DEPLOY, render, REPO, type Doc } from './render.js';

/** The patches docs/installation.md shows for clusters older than 1.30. */
export async function documentedPatches(): Promise<unknown[]> {
  const text = await readFile(join(REPO, 'docs', 'installation.md'), 'utf8');
  const block = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '').find((b) => b.includes('$patch: delete') && b.includes('selectableFields'));
  if (!block) throw new Error('docs/installation.md shows no patches for clusters older than 1.30');
  return z.object({ patches: z.array(z.unknown()) }).parse(parse(block)).patches;
}

/** `overlay` without cert-manager (as on a bare old cluster), with `patches`. */
export async function renderOverlay(kubectl: Kubectl, overlay: string, patches: unknown[]): Promise<Doc[]> {
  const dir = await mkdtemp(join(tmpdir(), 'mikrolb-old-'));
  try {
    const resources = [relative(dir, join(DEPLOY, 'overlays', overlay))];
    const components = [relative(dir, join(DEPLOY, 'components', 'without-cert-manager'))];
    await writeFile(join(dir, 'kustomization.yaml'), JSON.stringify({ resources, components, patches }));
    return (await render(kubectl, dir)).docs;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The IPAllocation CRD's selectableFields in `docs` (undefined: none). */
export const selectable = (docs: Doc[]): unknown => {
  const crd = docs.find((d) => d.kind === 'CustomResourceDefinition' && d.metadata.name === 'ipallocations.mikrolb.de');
  return z.object({ spec: z.object({ versions: z.array(z.object({ selectableFields: z.unknown().optional() }).loose()) }).loose() }).parse(crd).spec.versions[0]?.selectableFields;
};

/**
 * The patches docs/installation.md gives for Kubernetes older than 1.30, rendered onto an
 * overlay: they leave out what those API servers do not know (the Service-write policy, the
 * IPAllocation CRD's selectableFields) and nothing else.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { testCluster } from '../helpers/cluster.js';
import { DEPLOY, key, OVERLAYS, render, REPO, type Doc } from './render.js';

const { kubectl } = testCluster();

async function documentedPatches(): Promise<unknown[]> {
  const text = await readFile(join(REPO, 'docs', 'installation.md'), 'utf8');
  const block = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '').find((b) => b.includes('$patch: delete') && b.includes('selectableFields'));
  if (!block) throw new Error('docs/installation.md shows no patches for clusters older than 1.30');
  return z.object({ patches: z.array(z.unknown()) }).parse(parse(block)).patches;
}

async function renderOverlay(overlay: string, patches: unknown[]): Promise<Doc[]> {
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

const selectable = (docs: Doc[]): unknown => {
  const crd = docs.find((d) => d.kind === 'CustomResourceDefinition' && d.metadata.name === 'ipallocations.mikrolb.de');
  return z.object({ spec: z.object({ versions: z.array(z.object({ selectableFields: z.unknown().optional() }).loose()) }).loose() }).parse(crd).spec.versions[0]?.selectableFields;
};

describe.each(OVERLAYS)('the patches for Kubernetes older than 1.30 (overlay %s)', (overlay) => {
  it('leave out the Service-write policy and the CRD\'s selectableFields, and nothing else', async () => {
    const [plain, patched] = await Promise.all([renderOverlay(overlay, []), renderOverlay(overlay, await documentedPatches())]);
    expect(selectable(plain)).toEqual([{ jsonPath: '.status.phase' }]);
    expect(selectable(patched)).toBeUndefined();
    const gone = plain.map(key).filter((k) => !patched.map(key).includes(k));
    expect(gone.sort()).toEqual(['ValidatingAdmissionPolicy/mikrolb-service-writes', 'ValidatingAdmissionPolicyBinding/mikrolb-service-writes']);
  });
});

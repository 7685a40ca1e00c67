/**
 * The patches docs/installation.md gives for Kubernetes older than 1.30, rendered onto an
 * overlay: they leave out what those API servers do not know (the Service-write policy, the
 * IPAllocation CRD's selectableFields) and nothing else.
 */
import { describe, expect, it } from 'vitest';
import { testCluster } from '../helpers/cluster.js';
import { documentedPatches, renderOverlay, selectable } from './old-clusters.js';
import { key, OVERLAYS } from './render.js';

const { kubectl } = testCluster();

describe.each(OVERLAYS)('the patches for Kubernetes older than 1.30 (overlay %s)', (overlay) => {
  it('leave out the Service-write policy and the CRD\'s selectableFields, and nothing else', async () => {
    const [plain, patched] = await Promise.all([renderOverlay(kubectl, overlay, []), renderOverlay(kubectl, overlay, await documentedPatches())]);
    expect(selectable(plain)).toEqual([{ jsonPath: '.status.phase' }]);
    expect(selectable(patched)).toBeUndefined();
    const gone = plain.map(key).filter((k) => !patched.map(key).includes(k));
    expect(gone.sort()).toEqual(['ValidatingAdmissionPolicy/mikrolb-service-writes', 'ValidatingAdmissionPolicyBinding/mikrolb-service-writes']);
  });
});

/**
 * Knative Serving's and Eventing's CRDs, obtained as Go modules through the Go module proxy (the
 * same `go` toolchain and module cache that build the test cluster's binaries), at pinned
 * versions. They are data: the manifests tests install them so the API server can validate the
 * Knative overlays. Nothing outside the repository and the Go module cache is read.
 */
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { compareGo, oldGoProblem } from '../cluster/binaries.js';

/**
 * The pinned releases (the newest the module proxy serves here for each, checked 2026-12); `go` is
 * the go line of each one's go.mod, the oldest Go that downloads it (test/deploy/go.test.ts checks it).
 */
export const KNATIVE_MODULES = {
  serving: { module: 'knative.dev/serving', version: 'v0.51.0', go: '1.26.0', dir: 'config/core/300-resources', files: ['service.yaml', 'configuration.yaml', 'revision.yaml', 'route.yaml'] },
  eventing: { module: 'knative.dev/eventing', version: 'v0.50.0', go: '1.25.0', dir: 'config/core/resources', files: ['apiserversource.yaml', 'pingsource.yaml', 'broker.yaml', 'trigger.yaml'] },
} as const;

const Downloaded = z.object({ Path: z.string(), Version: z.string(), Dir: z.string().optional(), Error: z.string().optional() });

/** `go mod download -json` prints one JSON object per module, back to back. */
function parseDownloads(out: string): z.infer<typeof Downloaded>[] {
  return out
    .split(/\n(?=\{)/)
    .filter((chunk) => chunk.trim() !== '')
    .map((chunk) => Downloaded.parse(JSON.parse(chunk)));
}

/** Paths of the pinned CRD files, downloading the modules into Go's module cache when absent. */
export async function knativeCrdFiles(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const mods = Object.values(KNATIVE_MODULES);
  const newest = mods.reduce((a, b) => (compareGo(b.go, a.go) > 0 ? b : a));
  const old = oldGoProblem(env, newest.go, 'fetches them', `${newest.module}@${newest.version}`);
  if (old !== undefined) throw new Error(`cannot fetch Knative's CRDs: ${old}`);
  const args = ['mod', 'download', '-json', ...mods.map((m) => `${m.module}@${m.version}`)];
  const run = await promisify(execFile)('go', args, {
    env: { ...env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
    maxBuffer: 4 << 20,
  }).catch((err: unknown) => {
    const detail = err instanceof Error && 'stdout' in err ? String(err.stdout) : String(err);
    throw new Error(`could not obtain Knative's CRDs with \`go ${args.join(' ')}\` (needs Go and the Go module proxy): ${detail}`);
  });
  const byPath = new Map(parseDownloads(run.stdout).map((d) => [d.Path, d]));
  const files: string[] = [];
  for (const m of mods) {
    const got = byPath.get(m.module);
    if (!got?.Dir) throw new Error(`go mod download gave no folder for ${m.module}@${m.version}: ${got?.Error ?? 'not in its output'}`);
    for (const f of m.files) {
      const path = join(got.Dir, m.dir, f);
      await access(path);
      files.push(path);
    }
  }
  return files;
}

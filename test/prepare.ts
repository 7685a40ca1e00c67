/**
 * Runs before `npm test` (the `pretest` script): says what the tests need, finds or obtains each
 * piece, and says where it came from, so a new user knows what the first minutes are spent on.
 * Everything lands in caches outside the clone (Go's module cache, ~/.cache/mikrolb), so the
 * next run, or the next clone on this machine, starts at once.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { binariesFromEnv, cacheDir, ensureBinaries, pinnedVersions } from './cluster/binaries.js';
import { ensureHelm, HELM } from './deploy/helm.js';
import { KNATIVE_MODULES, knativeCrdFiles } from './deploy/knative.js';
import { ensureLibrouteros, LIBROUTEROS } from './routeros-sim/librouteros.js';
import { messageOf } from '../lib/errors.js';

const say = (line: string): void => void process.stdout.write(`[npm test] ${line}\n`);
const seconds = (t0: number): string => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

async function goVersion(): Promise<string | undefined> {
  return promisify(execFile)('go', ['version']).then((r) => r.stdout.trim(), () => undefined);
}

async function main(): Promise<void> {
  const v = pinnedVersions();
  const go = await goVersion();
  say('needs: a real kube-apiserver, etcd and kubectl; Go (to build them and helm, and to fetch Knative\'s CRDs); python3 with librouteros');
  say(`  Go toolchain: ${go ?? 'NOT FOUND (needed unless KUBEBUILDER_ASSETS or TEST_ASSET_* name the binaries; Knative\'s CRDs still need it)'}`);

  const fromEnv = binariesFromEnv();
  const cached = !fromEnv && existsSync(`${cacheDir()}/kubectl`);
  if (fromEnv) say(`  cluster binaries: from ${fromEnv.source} (${fromEnv.kubeApiserver})`);
  else if (cached) say(`  cluster binaries: cached in ${cacheDir()}`);
  else {
    say(`  cluster binaries: none cached in ${cacheDir()}; building kube-apiserver ${v.kubernetes}, kubectl and etcd ${v.etcd} from the Go module proxy now`);
    say('  (a cold build takes about 10-20 minutes on two cores and ~2 GiB of memory; it happens once per machine; envtest users can set KUBEBUILDER_ASSETS instead)');
  }
  let t0 = performance.now();
  const binaries = await ensureBinaries();
  if (!fromEnv && !cached) say(`  cluster binaries built in ${seconds(t0)}`);
  say(`  kube-apiserver ${binaries.versions.kubernetes}, etcd ${binaries.versions.etcd}: ready`);

  t0 = performance.now();
  const crds = await knativeCrdFiles();
  const mods = Object.values(KNATIVE_MODULES).map((m) => `${m.module}@${m.version}`).join(', ');
  say(`  Knative CRDs: ${crds.length} files from ${mods} (Go module cache, ${seconds(t0)})`);

  t0 = performance.now();
  const h = await ensureHelm();
  say(`  helm ${HELM.version} (the chart's tests): ${h.built ? `built from the Go module proxy in ${seconds(t0)}` : 'cached'} in ${h.path}`);

  t0 = performance.now();
  const client = await ensureLibrouteros();
  say(`  RouterOS cross-check client: ${client.source} with ${client.python} (${seconds(t0)}; pinned ${LIBROUTEROS.version})`);
  say('ready; the whole suite takes about 20-30 minutes on two cores (the integration tests run one file at a time; the end-to-end ones run twice, the second time on the Knative topology)');
}

main().catch((e: unknown) => {
  say(`cannot run the tests: ${messageOf(e)}`);
  process.exit(1);
});

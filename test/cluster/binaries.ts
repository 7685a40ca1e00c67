import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the real control-plane binaries come from, and which versions they are. */
export interface ClusterBinaries {
  kubeApiserver: string;
  etcd: string;
  kubectl: string;
  source: 'KUBEBUILDER_ASSETS' | 'TEST_ASSET_*' | 'cache' | 'built';
  versions: { kubernetes: string; etcd: string };
}

const toolsDir = join(dirname(fileURLToPath(import.meta.url)), 'tools');

/** The versions pinned in the tools module's go.mod. */
export function pinnedVersions(): { kubernetes: string; etcd: string } {
  const gomod = readFileSync(join(toolsDir, 'go.mod'), 'utf8');
  const find = (mod: string): string => {
    const m = new RegExp(`^\\s*${mod.replace(/[./]/g, '\\$&')}\\s+(v\\S+)`, 'm').exec(gomod);
    if (!m?.[1]) throw new Error(`test/cluster/tools/go.mod does not require ${mod}`);
    return m[1];
  };
  return { kubernetes: find('k8s.io/kubernetes'), etcd: find('go.etcd.io/etcd/server/v3') };
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const v = pinnedVersions();
  const root = env.MIKROLB_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'mikrolb');
  return join(root, 'test-cluster', `k8s-${v.kubernetes}-etcd-${v.etcd}`);
}

function versionOf(binary: string, args: string[], pattern: RegExp): string {
  try {
    const out = execFileSync(binary, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return pattern.exec(out)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function fromDir(dir: string, source: ClusterBinaries['source']): ClusterBinaries | undefined {
  const b = { kubeApiserver: join(dir, 'kube-apiserver'), etcd: join(dir, 'etcd'), kubectl: join(dir, 'kubectl') };
  if (![b.kubeApiserver, b.etcd, b.kubectl].every((p) => existsSync(p))) return undefined;
  return { ...b, source, versions: probeVersions(b.kubeApiserver, b.etcd) };
}

function probeVersions(kubeApiserver: string, etcd: string): ClusterBinaries['versions'] {
  return {
    kubernetes: versionOf(kubeApiserver, ['--version'], /Kubernetes (v\S+)/),
    etcd: versionOf(etcd, ['--version'], /etcd Version: (\S+)/),
  };
}

/** Binaries named by envtest's conventions, if the environment names them. */
export function binariesFromEnv(env: NodeJS.ProcessEnv = process.env): ClusterBinaries | undefined {
  const { TEST_ASSET_KUBE_APISERVER: api, TEST_ASSET_ETCD: etcd, TEST_ASSET_KUBECTL: kubectl } = env;
  if (api && etcd && kubectl) {
    return { kubeApiserver: api, etcd, kubectl, source: 'TEST_ASSET_*', versions: probeVersions(api, etcd) };
  }
  if (env.KUBEBUILDER_ASSETS) {
    const found = fromDir(env.KUBEBUILDER_ASSETS, 'KUBEBUILDER_ASSETS');
    if (!found) throw new Error(`KUBEBUILDER_ASSETS=${env.KUBEBUILDER_ASSETS} lacks kube-apiserver, etcd or kubectl`);
    return found;
  }
  return undefined;
}

/** The Go release tools/go.mod requires (its `go` line); the build runs with GOTOOLCHAIN=local. */
export function requiredGo(): string {
  const m = /^go\s+(\d+\.\d+(?:\.\d+)?)\s*$/m.exec(readFileSync(join(toolsDir, 'go.mod'), 'utf8'));
  if (!m?.[1]) throw new Error('test/cluster/tools/go.mod has no go line');
  return m[1];
}

const releaseOf = (text: string): number[] => text.split('.').map(Number);

/** Negative, zero or positive as Go release `a` is older than, the same as or newer than `b` (1.26 is 1.26.0). */
export function compareGo(a: string, b: string): number {
  const [x, y] = [releaseOf(a), releaseOf(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Why the Go whose `go version` printed `line` cannot build the tools module needing Go
 * `required` (or do what `purpose` says), or undefined when it can (a development build has no
 * release to compare: let it try).
 */
export function goVersionProblem(line: string, required: string, purpose = 'builds them'): string | undefined {
  const found = /\bgo(\d+\.\d+(?:\.\d+)?)\b/.exec(line)?.[1];
  if (found === undefined) return undefined;
  return compareGo(found, required) < 0 ? `the Go on PATH (go${found}) is older than the ${required} that ${purpose}` : undefined;
}

/** What `go version` prints with this environment's PATH, or undefined when no go runs. */
function goVersionLine(env: NodeJS.ProcessEnv): string | undefined {
  const ran = spawnSync('go', ['version'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return ran.error !== undefined || ran.status !== 0 ? undefined : ran.stdout;
}

/** What keeps `go` on this environment's PATH from building the binaries, if anything. */
function goProblem(env: NodeJS.ProcessEnv, required: string): string | undefined {
  const line = goVersionLine(env);
  if (line === undefined) return 'Go is not on PATH to build them (once, 10–20 minutes)';
  const old = goVersionProblem(line, required);
  return old === undefined ? undefined : `${old} (test/cluster/tools/go.mod; the build does not fetch a newer toolchain)`;
}

/**
 * For the other Go steps (GOTOOLCHAIN=local): why the Go on PATH cannot do what `purpose` says
 * for the module `module` whose go.mod needs Go `required`, ending in what to install; undefined
 * when it can, or when no go runs (the step's own failure says that).
 */
export function oldGoProblem(env: NodeJS.ProcessEnv, required: string, purpose: string, module: string): string | undefined {
  const line = goVersionLine(env);
  const old = line === undefined ? undefined : goVersionProblem(line, required, purpose);
  return old === undefined ? undefined : `${old} (${module}'s go.mod; GOTOOLCHAIN=local fetches no newer toolchain): install Go >= ${required} (README, Prerequisites)`;
}

/** Runs tools/build.sh (Go, from the module proxy) into the cache, streaming its progress. */
function build(out: string, env: NodeJS.ProcessEnv): Promise<void> {
  const required = requiredGo();
  const problem = goProblem(env, required);
  if (problem !== undefined) {
    return Promise.reject(new Error(`kube-apiserver, etcd and kubectl are not in ${out}, and ${problem}: install Go >= ${required}, or set KUBEBUILDER_ASSETS to a folder that holds the three (README, Prerequisites)`));
  }
  return new Promise((resolve, reject) => {
    process.stderr.write(`[test-cluster] no cached binaries in ${out}; building them from Go modules (takes many minutes cold)\n`);
    const child = spawn('bash', [join(toolsDir, 'build.sh'), out], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`building the test-cluster binaries failed (exit ${code})`))));
  });
}

/** Finds kube-apiserver, etcd and kubectl: from the environment, the cache, or a fresh build. */
export async function ensureBinaries(env: NodeJS.ProcessEnv = process.env): Promise<ClusterBinaries> {
  const fromEnv = binariesFromEnv(env);
  if (fromEnv) return fromEnv;
  const dir = cacheDir(env);
  const cached = fromDir(dir, 'cache');
  if (cached) return cached;
  await build(dir, env);
  const built = fromDir(dir, 'built');
  if (!built) throw new Error(`the build finished but ${dir} lacks a binary`);
  return built;
}

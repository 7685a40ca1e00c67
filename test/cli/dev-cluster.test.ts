/**
 * `npm run dev:cluster`'s command line (test/cluster/dev-cluster.ts). Every run here names
 * binaries that do not exist (KUBEBUILDER_ASSETS), so a run that wrongly starts the cluster fails
 * at once instead of starting one.
 */
import { describe, expect, it } from 'vitest';
import { runScript } from './support.js';

const NO_CLUSTER = { KUBEBUILDER_ASSETS: '/nonexistent/mikrolb-assets' };
const devCluster = (args: readonly string[]) => runScript('test/cluster/dev-cluster.ts', args, NO_CLUSTER);

describe('npm run dev:cluster', () => {
  it.each(['--help', '-h'])('%s says what it does and what it reads, starts nothing and exits 0', async (arg) => {
    const ran = await devCluster([arg]);
    expect(ran).toMatchObject({ code: 0, stderr: '' });
    expect(ran.stdout).toMatch(/^usage: npm run dev:cluster\b/);
    for (const name of ['KUBECONFIG=', 'KUBEBUILDER_ASSETS', 'TEST_ASSET_KUBE_APISERVER', 'TEST_ASSET_ETCD', 'TEST_ASSET_KUBECTL', 'MIKROLB_CACHE_DIR', 'XDG_CACHE_HOME']) {
      expect(ran.stdout).toContain(name);
    }
    expect(ran.stdout).toContain('Go >= 1.26.0');
  });

  it.each([
    [['--frobnicate'], 'unknown argument "--frobnicate"'],
    [['--port', '6443'], 'unknown argument "--port"'],
    [['start', '--help'], 'unknown argument "start"'],
  ])('refuses %j with a message and a pointer to --help, exit 2, starting nothing', async (args, message) => {
    const ran = await devCluster(args);
    expect(ran).toMatchObject({ code: 2, stdout: '' });
    expect(ran.stderr).toContain(`npm run dev:cluster: ${message}`);
    expect(ran.stderr).toContain('npm run dev:cluster -- --help');
    expect(ran.stderr).not.toContain('KUBEBUILDER_ASSETS=');
  });
});

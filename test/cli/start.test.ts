/**
 * `npm start`'s command line (test/local-stack/start.ts). Every run here names binaries that do
 * not exist (KUBEBUILDER_ASSETS), so a run that wrongly starts the local stack fails at once
 * instead of starting a cluster.
 */
import { describe, expect, it } from 'vitest';
import { runScript } from './support.js';

const NO_CLUSTER = { KUBEBUILDER_ASSETS: '/nonexistent/mikrolb-assets' };
const start = (args: readonly string[], env: Record<string, string> = {}) => runScript('test/local-stack/start.ts', args, { ...NO_CLUSTER, ...env });

describe('npm start', () => {
  it.each([
    ['--help', {}],
    ['-h', {}],
    ['--help', { KUBECONFIG: '/nonexistent/kubeconfig', ROUTEROS_URL: 'api://127.0.0.1:1' }],
  ])('%s (env %j) says what it does and what it reads, starts nothing and exits 0', async (arg, env) => {
    const ran = await start([arg], env);
    expect(ran).toMatchObject({ code: 0, stderr: '' });
    expect(ran.stdout).toMatch(/^usage: npm start\b/);
    for (const name of ['KUBECONFIG', 'ROUTEROS_URL', 'ROUTEROS_USERNAME', 'ROUTEROS_PASSWORD', 'LOG_LEVEL', 'KUBEBUILDER_ASSETS', 'TEST_ASSET_KUBE_APISERVER', 'MIKROLB_CACHE_DIR']) {
      expect(ran.stdout).toContain(name);
    }
    expect(ran.stdout).toContain('Go >= 1.26.0');
  });

  it.each([
    [['--frobnicate'], 'unknown argument "--frobnicate"'],
    [['demo', '--help'], 'unknown argument "demo"'],
  ])('refuses %j with a message and a pointer to --help, exit 2, starting nothing', async (args, message) => {
    const ran = await start(args);
    expect(ran).toMatchObject({ code: 2, stdout: '' });
    expect(ran.stderr).toContain(`npm start: ${message}`);
    expect(ran.stderr).toContain('npm start -- --help');
    expect(ran.stderr).not.toContain('local stack did not start');
  });
});

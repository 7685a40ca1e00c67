import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRouterSim, type RouterSim } from '../../lib/routeros/sim/index.js';
import { runBin as mikrolb, runScript, type Exited } from './support.js';

// The password is a canary: it must never appear in anything a command prints, whatever goes
// wrong and however verbose its libraries are told to be (DEBUG=*).
const CANARY = 'Canary-7f3a9c-Pw';

let dir: string;
let kubeconfig: string;
let router: RouterSim;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mikrolb-secrets-'));
  // Loads, but names an API server nobody runs: the commands get as far as the router config.
  kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, [
    'apiVersion: v1', 'kind: Config', 'current-context: c',
    'clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]',
    'users: [{name: u, user: {token: t}}]',
    'contexts: [{name: c, context: {cluster: c, user: u}}]', '',
  ].join('\n'));
  router = await startRouterSim({ users: [{ name: 'mikrolb', password: CANARY, group: 'full' }] });
});
afterAll(async () => {
  await router.close();
  await rm(dir, { recursive: true, force: true });
});

type Runner = (env: Record<string, string>) => Promise<Exited>;

/** Every command that reads the router's configuration from the environment (and `npm start`, which names it). */
const ROUTER_COMMANDS: [string, Runner][] = [
  ...['serve program', 'serve release', 'controller', 'uninstall --router --dry-run', 'router dump'].map((c): [string, Runner] => [c, (env) => mikrolb(c.split(' '), env)]),
  ['npm start', (env) => runScript('test/local-stack/start.ts', [], env)],
];

describe('credentials in output', () => {
  it.each(ROUTER_COMMANDS)('%s: a password inside ROUTEROS_URL is not echoed by the start-up error', async (_name, run) => {
    const ran = await run({
      DEBUG: '*', KUBECONFIG: kubeconfig, ROUTEROS_URL: `api://admin:${CANARY}@192.0.2.1`, ROUTEROS_USERNAME: 'mikrolb', ROUTEROS_PASSWORD: CANARY,
    });
    expect(ran.code).not.toBe(0);
    // It failed for the URL, which it names without the user info.
    expect(ran.stderr).toContain('ROUTEROS_URL="api://***@192.0.2.1" router URL must not hold credentials');
    expect(ran.stdout + ran.stderr).not.toContain(CANARY);
  }, 60_000);

  it.each(['router dump', 'uninstall --router --dry-run'])('%s: DEBUG=* does not make the router library print the login', async (command) => {
    const ran = await mikrolb(command.split(' '), { DEBUG: '*', ROUTEROS_URL: router.url, ROUTEROS_USERNAME: 'mikrolb', ROUTEROS_PASSWORD: CANARY });
    expect(ran.stderr).not.toMatch(/routeros-api/);
    expect(ran.code, ran.stderr).toBe(0); // logged in: the login sentence was sent
    expect(ran.stdout + ran.stderr).not.toContain(CANARY);
  }, 60_000);
});

describe('ENV=testing', () => {
  it('does not crash --help', async () => {
    const ran = await mikrolb(['--help'], { ENV: 'testing' });
    expect(ran).toMatchObject({ code: 0, stderr: '' });
    expect(ran.stdout).toMatch(/^usage: mikrolb <command>/);
  }, 60_000);

  it('does not crash a command that logs in to the router', async () => {
    const ran = await mikrolb(['router', 'dump'], { ENV: 'testing', ROUTEROS_URL: router.url, ROUTEROS_USERNAME: 'mikrolb', ROUTEROS_PASSWORD: CANARY });
    expect(ran.code, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ version: expect.any(String) });
  }, 60_000);
});

import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_ACCOUNT_DIR } from '../k8s/access.js';
import { kubeRuntime, untilStopped } from './runtime.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('untilStopped', () => {
  it('resolves on the first SIGINT and takes a repeat right after for the same Ctrl-C', async () => {
    const source = new EventEmitter();
    let stopped = false;
    const done = untilStopped(undefined, { source, sameWithinMs: 100 }).then(() => (stopped = true));
    expect(source.listenerCount('SIGINT')).toBe(1);
    source.emit('SIGINT');
    await done;
    expect(stopped).toBe(true);
    // the copy a launcher relays finds a listener: Node's default would end the process mid-stop
    expect([source.listenerCount('SIGINT'), source.listenerCount('SIGTERM')]).toEqual([1, 1]);
    source.emit('SIGINT');
    // later, a Ctrl-C is a second one: nothing of ours handles it (Node's default leaves at once)
    await pause(200);
    expect([source.listenerCount('SIGINT'), source.listenerCount('SIGTERM')]).toEqual([0, 0]);
  });

  it('never leaves a signal without a listener while it swaps stopping for ignoring (Node would take its default then)', async () => {
    const source = new EventEmitter();
    const emptied: string[] = [];
    source.on('removeListener', (name: string | symbol) => {
      if (typeof name === 'string' && source.listenerCount(name) === 0) emptied.push(name);
    });
    const done = untilStopped(undefined, { source, sameWithinMs: 20 });
    source.emit('SIGINT');
    await done;
    expect(emptied).toEqual([]);
    await pause(60);
    expect(emptied.sort()).toEqual(['SIGINT', 'SIGTERM']);
  });

  it('resolves on SIGTERM too, and on an abort signal without touching the process', async () => {
    const source = new EventEmitter();
    const termed = untilStopped(undefined, { source, sameWithinMs: 10 });
    source.emit('SIGTERM');
    await termed;
    const quiet = new EventEmitter();
    const ac = new AbortController();
    const aborted = untilStopped(ac.signal, { source: quiet });
    expect([quiet.listenerCount('SIGINT'), quiet.listenerCount('SIGTERM')]).toEqual([0, 0]);
    ac.abort();
    await aborted;
  });
});

describe('kubeRuntime', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mikrolb-runtime-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cluster = 'clusters:\n- name: c\n  cluster: {server: "https://127.0.0.1:6443"}\nusers:\n- name: u\n  user: {token: t}\n';
  it.each([
    ['no current-context', `apiVersion: v1\nkind: Config\n${cluster}contexts:\n- name: x\n  context: {cluster: c, user: u}\n`],
    ['a current-context that names no context', `apiVersion: v1\nkind: Config\ncurrent-context: gone\n${cluster}contexts: []\n`],
    ['a context whose cluster is missing', 'apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters: []\nusers: []\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n'],
  ])('a kubeconfig with %s is named, with what to do, not answered with "set KUBECONFIG"', async (_what, text) => {
    const file = join(dir, 'kubeconfig');
    await writeFile(file, text);
    const kube = await kubeRuntime({ KUBECONFIG: file, HOME: dir }, 'test');
    expect(kube).toEqual({ ok: false, message: `KUBECONFIG ${file}: its current-context names no cluster; choose one with kubectl config use-context NAME` });
  });

  it('a kubeconfig that is not YAML is named in one line, without the lines around the error (they may hold a token)', async () => {
    const file = join(dir, 'broken-kubeconfig');
    await writeFile(file, 'apiVersion: v1\nkind: Config\ncurrent-context: x\nusers:\n- name: u\n  user:\n    token: Token-Canary-3b1\n    bad: [unclosed\n');
    const kube = await kubeRuntime({ KUBECONFIG: file, HOME: dir }, 'test');
    expect(kube.ok).toBe(false);
    const message = kube.ok ? '' : kube.message;
    expect(message).not.toContain('Token-Canary-3b1');
    expect(message).not.toContain('\n');
    expect(message).toMatch(new RegExp(`^KUBECONFIG ${file}: unexpected end of the stream within a flow collection \\(\\d+:\\d+\\)$`));
  });

  it('a kubeconfig that does not exist is named', async () => {
    const file = join(dir, 'missing-kubeconfig');
    expect(await kubeRuntime({ KUBECONFIG: file, HOME: dir }, 'test')).toEqual({ ok: false, message: `KUBECONFIG ${file}: ENOENT: no such file or directory, open '${file}'` });
  });

  it('~/.kube/config is named the same way when KUBECONFIG is unset', async () => {
    const home = join(dir, 'home');
    await mkdir(join(home, '.kube'), { recursive: true });
    await writeFile(join(home, '.kube', 'config'), 'apiVersion: v1\nkind: Config\nclusters: []\n');
    expect(await kubeRuntime({ HOME: home }, 'test')).toEqual({ ok: false, message: `KUBECONFIG ${join(home, '.kube', 'config')}: its current-context names no cluster; choose one with kubectl config use-context NAME` });
  });

  it.skipIf(existsSync(join(SERVICE_ACCOUNT_DIR, 'token')))('without any kubeconfig outside a pod, says to set KUBECONFIG', async () => {
    expect(await kubeRuntime({ HOME: join(dir, 'empty') }, 'test')).toEqual({ ok: false, message: 'no Kubernetes cluster configured: set KUBECONFIG or run in a pod' });
  });
});

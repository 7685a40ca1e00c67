import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lightKubeconfig, loadClusterAccess, SERVICE_ACCOUNT_DIR } from './access.js';

const dir = mkdtempSync(join(tmpdir(), 'mikrolb-access-'));
const write = (name: string, text: string): string => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
const b64 = (s: string): string => Buffer.from(s).toString('base64');

const kubeconfig = (user: string, cluster = 'server: https://10.0.0.1:6443\n    certificate-authority-data: ' + b64('CA')): string => `apiVersion: v1
kind: Config
current-context: here
contexts:
- name: here
  context: {cluster: c, user: u}
- name: elsewhere
  context: {cluster: other, user: u}
clusters:
- name: other
  cluster: {server: https://192.0.2.1}
- name: c
  cluster:
    ${cluster}
users:
- name: u
  user:
${user}
`;

async function applied(access: { applyToHTTPSOptions(o: RequestOptions): Promise<void> }): Promise<RequestOptions> {
  const options: RequestOptions = { headers: { accept: 'application/json' } };
  await access.applyToHTTPSOptions(options);
  return options;
}

/** The Authorization header the options carry, whatever its case (client-node writes `Authorization`). */
const bearer = (o: RequestOptions): unknown => Object.entries(o.headers ?? {}).find(([name]) => name.toLowerCase() === 'authorization')?.[1];

describe('reading a kubeconfig without client-node', () => {
  it('client certificate and key as data, the CA as data, the current context\'s cluster', async () => {
    const access = await lightKubeconfig(write('data.yaml', kubeconfig(`    client-certificate-data: ${b64('CERT')}\n    client-key-data: ${b64('KEY')}`)));
    expect(access?.getCurrentCluster()).toEqual({ server: 'https://10.0.0.1:6443' });
    const o = await applied(access ?? expect.fail('not read'));
    expect([String(o.ca), String(o.cert), String(o.key)]).toEqual(['CA', 'CERT', 'KEY']);
    expect(o.headers).toEqual({ accept: 'application/json' });
  });

  it('files named relative to the kubeconfig, and a token', async () => {
    write('admin.crt', 'CERTFILE');
    write('admin.key', 'KEYFILE');
    write('ca.crt', 'CAFILE');
    const access = await lightKubeconfig(write('files.yaml', kubeconfig('    client-certificate: admin.crt\n    client-key: admin.key\n    token: abc', 'server: https://10.0.0.1:6443\n    certificate-authority: ca.crt')));
    const o = await applied(access ?? expect.fail('not read'));
    expect([String(o.ca), String(o.cert), String(o.key)]).toEqual(['CAFILE', 'CERTFILE', 'KEYFILE']);
    expect(o.headers).toMatchObject({ authorization: 'Bearer abc' });
  });

  it('a token file, and a cluster that skips TLS verification', async () => {
    write('token', 'from-file\n');
    const access = await lightKubeconfig(write('tokenfile.yaml', kubeconfig('    tokenFile: token', 'server: https://10.0.0.1:6443\n    insecure-skip-tls-verify: true')));
    const o = await applied(access ?? expect.fail('not read'));
    expect(o.headers).toMatchObject({ authorization: 'Bearer from-file' });
    expect(o.rejectUnauthorized).toBe(false);
  });

  it.each([
    ['an exec plugin', '    exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}'],
    ['an auth provider', '    auth-provider: {name: oidc}'],
    ['a file it names that is missing', '    client-certificate: missing.crt\n    client-key: missing.key'],
  ])('leaves %s to client-node', async (_what, user) => {
    expect(await lightKubeconfig(write(`other-${_what.length}.yaml`, kubeconfig(user)))).toBeUndefined();
  });

  it('leaves a context that names no known cluster, and a file that is not YAML, to client-node', async () => {
    expect(await lightKubeconfig(write('nocontext.yaml', kubeconfig('    token: x').replace('current-context: here', 'current-context: nowhere')))).toBeUndefined();
    expect(await lightKubeconfig(write('bad.yaml', '{{{'))).toBeUndefined();
  });
});

describe('loading the cluster access as client-node\'s loadFromDefault would', () => {
  it('$KUBECONFIG in the plain form is read directly', async () => {
    const file = write('env.yaml', kubeconfig('    token: t'));
    const access = await loadClusterAccess({ KUBECONFIG: file });
    expect(access.getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
    expect('loadFromFile' in access).toBe(false);
  });

  it('$KUBECONFIG with an exec plugin goes to client-node (which reads the same cluster)', async () => {
    const file = write('exec.yaml', kubeconfig('    exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}'));
    const access = await loadClusterAccess({ KUBECONFIG: file });
    expect(access.getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
    expect('loadFromFile' in access).toBe(true);
  });

  it('$KUBECONFIG naming several files (joined by the path delimiter) merges them: the contexts of one, the cluster and user of another', async () => {
    const contexts = write('merge-contexts.yaml', 'apiVersion: v1\nkind: Config\ncurrent-context: edge\ncontexts:\n- name: edge\n  context: {cluster: edge, user: admin}\n');
    const clusters = write('merge-clusters.yaml', 'apiVersion: v1\nkind: Config\nclusters:\n- name: edge\n  cluster: {server: https://203.0.113.7:6443}\nusers:\n- name: admin\n  user: {token: t}\n');
    const access = await loadClusterAccess({ KUBECONFIG: [contexts, '', clusters].join(delimiter) });
    expect(access.getCurrentCluster()?.server).toBe('https://203.0.113.7:6443');
    expect(bearer(await applied(access))).toBe('Bearer t');
  });

  it('of several files, the first to set the current context wins, and so does the first to name a cluster (as with kubectl)', async () => {
    const first = write('first.yaml', kubeconfig('    token: first'));
    const second = write('second.yaml', kubeconfig('    token: second', 'server: https://198.51.100.9:6443').replace('current-context: here', 'current-context: elsewhere'));
    const access = await loadClusterAccess({ KUBECONFIG: `${first}${delimiter}${second}` });
    expect(access.getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
    expect(bearer(await applied(access))).toBe('Bearer first');
  });

  it.skipIf(existsSync(join(SERVICE_ACCOUNT_DIR, 'token')))('neither $KUBECONFIG nor ~/.kube/config of the given HOME, and not in a pod: no cluster (not the process\'s own kubeconfig, nor localhost:8080)', async () => {
    const access = await loadClusterAccess({ HOME: mkdtempSync(join(tmpdir(), 'mikrolb-home-')) });
    expect(access.getCurrentCluster()).toBeNull();
  });

  it('$KUBECONFIG with an empty entry besides one file reads that file directly', async () => {
    const file = write('trailing.yaml', kubeconfig('    token: t'));
    const access = await loadClusterAccess({ KUBECONFIG: `${file}${delimiter}` });
    expect(access.getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
    expect('loadFromFile' in access).toBe(false);
  });
});

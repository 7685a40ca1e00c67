import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadFixtureState, parseFixtureText, type FixtureResult } from './fixtures.js';
import { memoryPort } from './memory.js';

const POOL = `apiVersion: mikrolb.de/v1alpha1
kind: IPPool
metadata:
  name: main
spec:
  ipFamily: IPv4
  addresses: [192.0.2.0/28]
`;
const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: web
  annotations:
    mikrolb.de/load-balancer-pools: main
spec:
  type: LoadBalancer
  ports: [{ port: 80, protocol: TCP }]
`;

/** Nine aliases of nine aliases of ...: 9^8 items once expanded. */
const ALIAS_BOMB = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((n, i) => `${n}: &${n} [${Array.from({ length: 9 }, () => `*${'abcdefgh'[i]}`).join(', ')}]`)].join('\n');

function objects(result: FixtureResult) {
  if (!result.ok) throw new Error(result.message);
  return result.objects;
}
const ids = (result: FixtureResult) => objects(result).map((o) => `${o.kind}/${o.metadata.name}`);
const message = (result: FixtureResult) => (result.ok ? 'ok' : result.message);

describe('parseFixtureText', () => {
  it('reads every document of a stream and fills what the API server sets, in age order', () => {
    const [pool, svc] = objects(parseFixtureText(`${POOL}---\n${SERVICE}---\n`, 'state.yaml'));
    expect(pool?.metadata).toEqual({
      name: 'main', uid: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00Z', generation: 1,
    });
    expect(svc?.metadata).toMatchObject({ namespace: 'default', resourceVersion: '2', creationTimestamp: '2026-01-01T00:00:01Z' });
    // as on the API server, a Service has no generation
    expect(svc?.metadata).not.toHaveProperty('generation');
    expect(svc?.metadata.annotations).toEqual({ 'mikrolb.de/load-balancer-pools': 'main' });
    expect(svc?.spec).toEqual({ type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] });
  });

  it('fills the same values every time, and uids that differ by object', () => {
    const text = `${POOL}---\n${SERVICE}`;
    expect(parseFixtureText(text, 'a')).toEqual(parseFixtureText(text, 'b'));
    const [pool, svc] = objects(parseFixtureText(text, 'a'));
    expect(pool?.metadata.uid).not.toBe(svc?.metadata.uid);
  });

  it('keeps what kubectl showed (uid, resourceVersion as number, timestamps, status)', () => {
    const text = `${POOL.replace('  name: main', '  name: main\n  uid: u-1\n  resourceVersion: 812\n  generation: 3\n  creationTimestamp: "2025-05-05T05:05:05Z"')}status:\n  totalAddresses: "16"\n`;
    const [pool] = objects(parseFixtureText(text, 'pool.yaml'));
    expect(pool?.metadata).toMatchObject({ uid: 'u-1', resourceVersion: '812', generation: 3, creationTimestamp: '2025-05-05T05:05:05Z' });
    expect(pool?.status).toEqual({ totalAddresses: '16' });
  });

  it('treats creationTimestamp: null (kubectl --dry-run output) as missing and drops a namespace on cluster-scoped kinds', () => {
    const [pool] = objects(parseFixtureText(POOL.replace('  name: main', '  name: main\n  namespace: x\n  creationTimestamp: null'), 'p'));
    expect(pool?.metadata.creationTimestamp).toBe('2026-01-01T00:00:00Z');
    expect(pool?.metadata).not.toHaveProperty('namespace');
  });

  it('flattens a List, as `kubectl get -o yaml` prints several objects', () => {
    const list = `apiVersion: v1\nkind: List\nitems:\n${[POOL, SERVICE].map((d) => `- ${d.trimEnd().replaceAll('\n', '\n  ')}`).join('\n')}\n`;
    expect(ids(parseFixtureText(list, 'list.yaml'))).toEqual(['IPPool/main', 'Service/web']);
  });

  it('reads a List with items: null (an empty list, as the API server writes one) as no objects', () => {
    expect(ids(parseFixtureText(`apiVersion: v1\nkind: ServiceList\nitems: null\n---\n${POOL}`, 'list.yaml'))).toEqual(['IPPool/main']);
    expect(ids(parseFixtureText('{"apiVersion": "v1", "kind": "List", "items": null}', 'list.json'))).toEqual([]);
  });

  it('skips events and empty documents, and reads JSON', () => {
    const event = 'apiVersion: events.k8s.io/v1\nkind: Event\nmetadata: {name: e, namespace: default}\n';
    expect(ids(parseFixtureText(`---\n${event}---\n---\n${POOL}`, 's'))).toEqual(['IPPool/main']);
    const json = JSON.stringify({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-1', namespace: 'shop' }, endpoints: [] });
    expect(objects(parseFixtureText(json, 's.json'))[0]?.metadata.namespace).toBe('shop');
  });

  it.each([
    ['an unknown kind', `${POOL}---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n`, 'bad.yaml document 2: kind Pod is not one of IPPool, IPAllocation, IPAddressClaim, Service, EndpointSlice, Namespace'],
    ['a missing name', 'apiVersion: v1\nkind: Service\nmetadata: {}\n', 'bad.yaml document 1: metadata.name:'],
    ['a missing apiVersion', 'kind: Service\nmetadata: {name: x}\n', 'bad.yaml document 1: apiVersion:'],
    ['a document that is not an object', '- just\n- a list\n', 'bad.yaml document 1:'],
    ['a wrong apiVersion', POOL.replace('v1alpha1', 'v1beta9'), 'bad.yaml document 1: IPPool main has apiVersion mikrolb.de/v1beta9, expected mikrolb.de/v1alpha1'],
    ['an object given twice', `${SERVICE}---\n${SERVICE}`, 'bad.yaml document 2: Service default/web is already given in bad.yaml document 1'],
    ['broken YAML', `${POOL}---\nkind: [unclosed\n`, 'bad.yaml document 2:'],
    ['a List whose items is not a list', 'apiVersion: v1\nkind: ServiceList\nitems: {name: web}\n', 'bad.yaml document 1: ServiceList: items must be a list of objects'],
    ['a bad list item', 'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n', 'bad.yaml document 1 item 1: kind Secret'],
    // the YAML library throws on expanding this (a "billion laughs"): an answer, not an exception
    ['aliases that expand without bound', `${POOL}---\n${ALIAS_BOMB}`, 'bad.yaml document 2: Excessive alias count'],
  ])('reports %s with file and document', (_what, text, expected) => {
    expect(message(parseFixtureText(text, 'bad.yaml'))).toContain(expected);
  });
});

describe('loadFixtureState', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mikrolb-fixtures-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads one file', async () => {
    await writeFile(join(dir, 'state.yaml'), `${SERVICE}---\n${POOL}`);
    expect(ids(await loadFixtureState(join(dir, 'state.yaml')))).toEqual(['Service/web', 'IPPool/main']);
  });

  it('reads the YAML and JSON files of a folder in name order, ages running on across files', async () => {
    await writeFile(join(dir, '20-service.yml'), SERVICE);
    await writeFile(join(dir, '10-pool.yaml'), POOL);
    await writeFile(join(dir, '30-slice.json'), JSON.stringify({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 's', namespace: 'default' } }));
    await writeFile(join(dir, 'README.md'), '# not state');
    await mkdir(join(dir, 'nested.yaml'));
    const result = await loadFixtureState(dir);
    expect(ids(result)).toEqual(['IPPool/main', 'Service/web', 'EndpointSlice/s']);
    expect(objects(result).map((o) => o.metadata.creationTimestamp)).toEqual(['2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z', '2026-01-01T00:00:02Z']);
  });

  it('names the file of a bad document in a folder', async () => {
    await writeFile(join(dir, 'a.yaml'), POOL);
    await writeFile(join(dir, 'b.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n');
    expect(message(await loadFixtureState(dir))).toBe(`${join(dir, 'b.yaml')} document 1: kind ConfigMap is not one of IPPool, IPAllocation, IPAddressClaim, Service, EndpointSlice, Namespace`);
  });

  it('leaves out a router state kept in the folder (a fixture\'s router.json beside its state.yaml)', async () => {
    await writeFile(join(dir, 'state.yaml'), `${POOL}---\n${SERVICE}`);
    await writeFile(join(dir, 'router.json'), JSON.stringify({ version: '7.19.1', menus: { '/ip/address': [{ '.id': '*1', address: '192.0.2.1/24', interface: 'ether1' }] } }));
    expect(ids(await loadFixtureState(dir))).toEqual(['IPPool/main', 'Service/web']);
  });

  it('refuses a router state named as the state, saying where it belongs', async () => {
    await writeFile(join(dir, 'router.json'), JSON.stringify({ version: '7.19.1', menus: {} }));
    expect(message(await loadFixtureState(join(dir, 'router.json')))).toBe(`${join(dir, 'router.json')} document 1: a router's state ({"version", "menus"}), which --router takes; it holds no Kubernetes objects`);
  });

  it('reports a path that cannot be read', async () => {
    expect(message(await loadFixtureState(join(dir, 'missing.yaml')))).toMatch(/^cannot read the state .*missing\.yaml: .*ENOENT/);
  });

  it('gives a state the memory port takes as it is', async () => {
    await writeFile(join(dir, 'state.yaml'), `${POOL}---\n${SERVICE}`);
    const loaded = objects(await loadFixtureState(join(dir, 'state.yaml')));
    const m = memoryPort({ objects: loaded });
    expect(m.objects()).toEqual([loaded[0], loaded[1]]);
    expect(await m.port.get('Service', 'web', 'default')).toEqual(loaded[1]);
  });
});

import { describe, expect, it } from 'vitest';
import { poolMirror, readPools, readSlicesOf, sliceMirror } from './mirror.js';
import { memoryPort } from './memory.js';

const pool = (name: string, cidr = '10.0.0.0/24') => ({ apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name, resourceVersion: '1' }, spec: { ipFamily: 'IPv4', addresses: [cidr] } });
const slice = (name: string, service: string | undefined, address: string, rv = '1', namespace = 'web') => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
  metadata: { name, namespace, resourceVersion: rv, labels: { ...(service ? { 'kubernetes.io/service-name': service } : {}), other: 'x' }, managedFields: [{ manager: 'kube-controller-manager' }] },
  addressType: 'IPv4',
  endpoints: [{ addresses: [address], conditions: { ready: true }, nodeName: 'n1', targetRef: { kind: 'Pod', name: 'p' } }],
  ports: [{ name: 'http', protocol: 'TCP', port: 8080, appProtocol: 'http' }],
});

describe('pool mirror', () => {
  it('answers nothing until listed, then every pool; events change it', () => {
    const m = poolMirror();
    m.seen(pool('early'));
    expect(m.current()).toBeUndefined();
    const run = m.relist();
    run.page([pool('a')]);
    run.page([pool('b'), { metadata: { name: 'bad' }, spec: { ipFamily: 'IPv5' } }]);
    expect(m.current()).toBeUndefined(); // incomplete while listing
    run.finish();
    expect(m.current()?.items.map((p) => p.metadata.name)).toEqual(['a', 'b']); // `early` was not in the list
    expect(m.current()?.invalid).toEqual([expect.objectContaining({ kind: 'IPPool', name: 'bad' })]);
    m.seen(pool('c'));
    m.seen(pool('a', '10.1.0.0/24'));
    m.gone(pool('b'));
    const now = m.current();
    expect(now?.items.map((p) => `${p.metadata.name} ${p.spec.addresses.join()}`)).toEqual(['a 10.1.0.0/24', 'c 10.0.0.0/24']);
  });

  it('is incomplete again during a re-list, and a re-list drops what is gone', () => {
    const m = poolMirror();
    const first = m.relist();
    first.page([pool('a'), pool('b')]);
    first.finish();
    const again = m.relist();
    expect(m.current()).toBeUndefined();
    again.page([pool('b')]);
    again.finish();
    expect(m.current()?.items.map((p) => p.metadata.name)).toEqual(['b']);
  });

  it('hands out copies: a caller changing its list changes nobody else’s', () => {
    const m = poolMirror();
    const run = m.relist();
    run.page([pool('a')]);
    run.finish();
    m.current()?.items.pop();
    expect(m.current()?.items).toHaveLength(1);
  });
});

describe('slice mirror', () => {
  const listed = (...items: unknown[]) => {
    const m = sliceMirror();
    const run = m.relist();
    run.page(items);
    run.finish();
    return m;
  };

  it('files slices by the Service their label names, keeping only what program reads', () => {
    const m = listed(slice('svc-a', 'svc', '10.1.0.1'), slice('svc-b', 'svc', '10.1.0.2'), slice('other', 'other', '10.1.0.3'), slice('nolabel', undefined, '10.1.0.4'));
    expect(m.ofService('web', 'svc')?.map((s) => s.metadata.name).sort()).toEqual(['svc-a', 'svc-b']);
    expect(m.ofService('web', 'absent')).toEqual([]);
    expect(m.ofService('other-ns', 'svc')).toEqual([]);
    expect(m.ofService('web', 'other')?.[0]).toEqual({
      metadata: { name: 'other', namespace: 'web', resourceVersion: '1', labels: { 'kubernetes.io/service-name': 'other' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.1.0.3'], conditions: { ready: true, serving: undefined, terminating: undefined } }],
      ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    });
  });

  it('follows events: a change, a slice moving to another Service, a deletion', () => {
    const m = listed(slice('s1', 'svc', '10.1.0.1'));
    m.seen(slice('s1', 'svc', '10.1.0.9', '2'));
    expect(m.ofService('web', 'svc')?.[0]?.endpoints[0]?.addresses).toEqual(['10.1.0.9']);
    m.seen(slice('s1', 'moved', '10.1.0.9', '3'));
    expect(m.ofService('web', 'svc')).toEqual([]);
    expect(m.ofService('web', 'moved')).toHaveLength(1);
    m.gone(slice('s1', 'moved', '10.1.0.9', '4'));
    expect(m.ofService('web', 'moved')).toEqual([]);
  });

  it('skips a slice its schema rejects, as a listing does', () => {
    const m = listed({ metadata: { name: 'bad', namespace: 'web', labels: { 'kubernetes.io/service-name': 'svc' } }, addressType: 'Carrier-Pigeon' });
    expect(m.ofService('web', 'svc')).toEqual([]);
  });

  it('answers nothing before the first list and during a re-list', () => {
    const m = sliceMirror();
    m.seen(slice('s1', 'svc', '10.1.0.1'));
    expect(m.ofService('web', 'svc')).toBeUndefined();
    const run = m.relist();
    expect(m.ofService('web', 'svc')).toBeUndefined();
    run.finish();
    expect(m.ofService('web', 'svc')).toEqual([]);
  });
});

describe('reading through a mirror', () => {
  it('lists the API server when the mirror has no answer, and not when it has one', async () => {
    const kube = memoryPort({ objects: [pool('listed'), slice('listed', 'svc', '10.1.0.1')] }).port;
    const pools = poolMirror();
    const slices = sliceMirror();
    expect((await readPools(kube, pools)).items.map((p) => p.metadata.name)).toEqual(['listed']);
    expect((await readSlicesOf(kube, slices, 'web', 'svc')).map((s) => s.metadata.name)).toEqual(['listed']);
    const p = pools.relist();
    p.page([pool('mirrored')]);
    p.finish();
    const s = slices.relist();
    s.page([slice('mirrored', 'svc', '10.1.0.2')]);
    s.finish();
    expect((await readPools(kube, pools)).items.map((x) => x.metadata.name)).toEqual(['mirrored']);
    expect((await readSlicesOf(kube, slices, 'web', 'svc')).map((x) => x.metadata.name)).toEqual(['mirrored']);
  });
});

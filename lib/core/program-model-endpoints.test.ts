import { describe, expect, it } from 'vitest';
import { ServiceSchema, type EndpointSlice } from '../k8s/core-objects.js';
import { serviceProgram, unusableEndpoints } from './program-model.js';
import { serviceIntent } from './service.js';

const slice = (addressType: 'IPv4' | 'IPv6', addresses: string[]): EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `s-${addressType}`, namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType, endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })), ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
});

const svc = ServiceSchema.parse({
  apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', uid: 'u1' },
  spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
});

describe('endpoints that are never NAT targets', () => {
  it.each([
    { story: 'a loopback pod address', family: 'IPv4' as const, addresses: ['10.0.0.11', '127.0.0.1'], targets: ['10.0.0.11'], skipped: ['127.0.0.1 loopback'] },
    { story: 'unspecified and broadcast', family: 'IPv4' as const, addresses: ['0.0.0.0', '255.255.255.255', '10.0.0.12'], targets: ['10.0.0.12'], skipped: ['0.0.0.0 unspecified', '255.255.255.255 broadcast'] },
    { story: 'multicast and link-local', family: 'IPv4' as const, addresses: ['239.1.1.1', '169.254.169.254'], targets: [], skipped: ['239.1.1.1 multicast', '169.254.169.254 link-local'] },
    { story: 'IPv6 loopback, unspecified, link-local, multicast', family: 'IPv6' as const, addresses: ['::1', '::', 'fe80::1', 'ff02::1', 'fd00::11'], targets: ['fd00::11'], skipped: ['::1 loopback', ':: unspecified', 'fe80::1 link-local', 'ff02::1 multicast'] },
    // the API server still takes these legacy forms (with a warning); silently dropping one left
    // a Service without targets and nobody told
    { story: 'an IPv4 address with leading zeros', family: 'IPv4' as const, addresses: ['010.0.0.13', '10.0.0.11'], targets: ['10.0.0.11'], skipped: ['010.0.0.13 non-standard form'] },
    { story: 'ordinary pod and LAN addresses', family: 'IPv4' as const, addresses: ['10.0.0.11', '192.168.88.10'], targets: ['10.0.0.11', '192.168.88.10'], skipped: [] },
  ])('$story', ({ family, addresses, targets, skipped }) => {
    const slices = [slice(family, addresses)];
    const program = serviceProgram(svc, serviceIntent(svc, { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }), [], slices, new Set());
    expect(program.endpoints.map((e) => e.address)).toEqual(targets);
    expect(unusableEndpoints(slices).map((s) => `${s.address} ${s.kind}`)).toEqual(skipped);
  });
});

describe('which endpoints take new connections (kube-proxy\'s terminating fallback, KEP-1669)', () => {
  type Conditions = { ready?: boolean; serving?: boolean; terminating?: boolean };
  const RUNNING = { ready: true, serving: true, terminating: false };
  const DRAINING = { ready: false, serving: true, terminating: true };
  const STOPPING = { ready: false, serving: false, terminating: true };
  const STARTING = { ready: false, serving: false, terminating: false };
  const sliceOf = (addressType: 'IPv4' | 'IPv6', endpoints: [string, Conditions | undefined][]): EndpointSlice => ({
    ...slice(addressType, []), endpoints: endpoints.map(([a, conditions]) => ({ addresses: [a], ...(conditions ? { conditions } : {}) })),
  });
  const taking = (slices: EndpointSlice[]) => serviceProgram(svc, serviceIntent(svc, { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }), [], slices, new Set())
    .endpoints.filter((e) => e.ready).map((e) => e.address);

  it.each([
    { story: 'ready pods only: the terminating ones get no new connection', endpoints: [['10.0.0.1', RUNNING], ['10.0.0.2', DRAINING]], taking: ['10.0.0.1'] },
    { story: 'every pod terminating: those still serving take them', endpoints: [['10.0.0.1', DRAINING], ['10.0.0.2', STOPPING], ['10.0.0.3', DRAINING]], taking: ['10.0.0.1', '10.0.0.3'] },
    { story: 'every pod terminating and none serving: nobody', endpoints: [['10.0.0.1', STOPPING]], taking: [] },
    { story: 'a starting pod is no fallback, a draining one is', endpoints: [['10.0.0.1', STARTING], ['10.0.0.2', DRAINING]], taking: ['10.0.0.2'] },
    { story: 'serving left out reads as serving (as the API documents nil)', endpoints: [['10.0.0.1', { ready: false, terminating: true }]], taking: ['10.0.0.1'] },
    { story: 'no conditions at all read as ready', endpoints: [['10.0.0.1', undefined], ['10.0.0.2', DRAINING]], taking: ['10.0.0.1'] },
    { story: 'ready but terminating (publishNotReadyAddresses) is a fallback only', endpoints: [['10.0.0.1', { ready: true, serving: true, terminating: true }], ['10.0.0.2', RUNNING]], taking: ['10.0.0.2'] },
  ] satisfies { story: string; endpoints: [string, Conditions | undefined][]; taking: string[] }[])('$story', ({ endpoints, taking: expected }) => {
    expect(taking([sliceOf('IPv4', endpoints)])).toEqual(expected);
  });

  it('decides per family: a family with a ready pod does not keep the other from its draining ones', () => {
    const slices = [sliceOf('IPv4', [['10.0.0.1', RUNNING], ['10.0.0.2', DRAINING]]), sliceOf('IPv6', [['fd00::1', DRAINING], ['fd00::2', STOPPING]])];
    expect(taking(slices)).toEqual(['10.0.0.1', 'fd00::1']);
  });

  it('an address ready in one slice and draining in another is ready: the family takes no fallback', () => {
    const slices = [sliceOf('IPv4', [['10.0.0.1', DRAINING], ['10.0.0.2', DRAINING]]), { ...sliceOf('IPv4', [['10.0.0.1', RUNNING]]), metadata: { ...slice('IPv4', []).metadata, name: 's-IPv4-b' } }];
    expect(taking(slices)).toEqual(['10.0.0.1']);
  });
});

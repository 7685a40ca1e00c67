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
    { story: 'ordinary pod and LAN addresses', family: 'IPv4' as const, addresses: ['10.0.0.11', '192.168.88.10'], targets: ['10.0.0.11', '192.168.88.10'], skipped: [] },
  ])('$story', ({ family, addresses, targets, skipped }) => {
    const slices = [slice(family, addresses)];
    const program = serviceProgram(svc, serviceIntent(svc, { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }), [], slices, new Set());
    expect(program.endpoints.map((e) => e.address)).toEqual(targets);
    expect(unusableEndpoints(slices).map((s) => `${s.address} ${s.kind}`)).toEqual(skipped);
  });
});

import { describe, expect, it } from 'vitest';
import { EndpointSliceSchema, ServiceSchema } from '../k8s/core-objects.js';
import { scopes } from '../router/names.js';
import { baseRouter, clients, converge, desiredFor, spread } from '../router/test-support.js';
import { createTracer } from '../../test/tracer/index.js';
import { addressesOutsidePools, advertisementWants, serviceProgram, sharedAddressEntries, type AdvertisementWant } from './program-model.js';
import { IPAllocationSchema, IPPoolSchema } from '../k8s/schemas.js';
import { serviceIntent } from './service.js';

const classes = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };

function service(targetPort: number | string) {
  return ServiceSchema.parse({
    metadata: { name: 'web', namespace: 'shop', uid: '6f1c2a9e-4b7d-4c1e-9a3f-2d5e8b7c6a10' },
    spec: { type: 'LoadBalancer', loadBalancerClass: classes.loadBalancerClass, ipFamilies: ['IPv4'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort }] },
  });
}

/** One slice per entry: its endpoint addresses and the number its `http` port maps to. */
function slices(spec: readonly (readonly [name: string, addresses: readonly string[], port: number])[]) {
  return spec.map(([name, addresses, port]) => EndpointSliceSchema.parse({
    metadata: { name, namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    endpoints: addresses.map((address) => ({ addresses: [address], conditions: { ready: true } })),
    ports: [{ name: 'http', protocol: 'TCP', port }],
  }));
}

/** Where 900 clients of 192.0.2.15:80 end up once `program` has planned the Service. */
function backends(targetPort: number | string, spec: Parameters<typeof slices>[0]): Record<string, number> {
  const svc = service(targetPort);
  const model = serviceProgram(svc, serviceIntent(svc, classes), [], slices(spec), new Set());
  const state = converge(baseRouter(), desiredFor([{ ...model, lbAddresses: [{ family: 'IPv4', address: '192.0.2.15' }] }]), scopes.everything).state;
  return spread(createTracer(state), clients('IPv4', 'tcp', 80, 900, 3));
}

describe('the endpoints\' port, resolved per EndpointSlice (as kube-proxy does)', () => {
  it.each([
    {
      story: 'a named port mapped to 8080 in one slice and 9090 in another (a rolling update)',
      targetPort: 'web', spec: [['web-a', ['10.0.0.11'], 8080], ['web-b', ['10.0.0.12'], 9090]] as const,
      want: ['10.0.0.11:8080', '10.0.0.12:9090'],
    },
    {
      story: 'the same in the other listing order',
      targetPort: 'web', spec: [['web-b', ['10.0.0.12'], 9090], ['web-a', ['10.0.0.11'], 8080]] as const,
      want: ['10.0.0.11:8080', '10.0.0.12:9090'],
    },
    {
      story: 'one slice, one number for every endpoint',
      targetPort: 'web', spec: [['web-a', ['10.0.0.11', '10.0.0.12'], 8080]] as const,
      want: ['10.0.0.11:8080', '10.0.0.12:8080'],
    },
    {
      story: 'a numeric targetPort: the slices say the same number',
      targetPort: 8080, spec: [['web-a', ['10.0.0.11'], 8080], ['web-b', ['10.0.0.12'], 8080]] as const,
      want: ['10.0.0.11:8080', '10.0.0.12:8080'],
    },
  ])('$story', ({ targetPort, spec, want }) => {
    const counts = backends(targetPort, spec);
    expect(Object.keys(counts).sort()).toEqual(want);
    for (const n of Object.values(counts)) expect(Math.abs(n - 900 / want.length)).toBeLessThanOrEqual(45);
  });
});

describe('each port reaches the endpoints of the slices that list it (as kube-proxy matches them: name and protocol)', () => {
  type Conditions = { ready?: boolean; serving?: boolean; terminating?: boolean };
  const RUNNING: Conditions = { ready: true };
  const DRAINING: Conditions = { ready: false, serving: true, terminating: true };
  const STARTING: Conditions = { ready: false, serving: false, terminating: false };

  /** `web` with tcp/80 `http` and tcp/9100 `metrics`, named targetPorts unless numbers are given. */
  function twoPorts(http: number | string = 'http', metrics: number | string = 'metrics') {
    return ServiceSchema.parse({
      metadata: { name: 'web', namespace: 'shop', uid: '6f1c2a9e-4b7d-4c1e-9a3f-2d5e8b7c6a10' },
      spec: {
        type: 'LoadBalancer', loadBalancerClass: classes.loadBalancerClass, ipFamilies: ['IPv4'],
        ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: http }, { name: 'metrics', port: 9100, protocol: 'TCP', targetPort: metrics }],
      },
    });
  }

  /** A slice: its name, endpoints and ports (`name` for TCP, `name/UDP`) with their numbers. */
  type SliceSpec = readonly [name: string, endpoints: readonly (readonly [address: string, conditions: Conditions])[], ports: Readonly<Record<string, number>>];
  const sliceOf = ([name, endpoints, ports]: SliceSpec) => EndpointSliceSchema.parse({
    metadata: { name, namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    endpoints: endpoints.map(([address, conditions]) => ({ addresses: [address], conditions })),
    // `name` or `name/UDP`
    ports: Object.entries(ports).map(([key, port]) => {
      const [portName, protocol = 'TCP'] = key.split('/');
      return { name: portName, protocol, port };
    }),
  });

  /** Where 900 clients of each port end up once `program` has planned the Service (`reject`: refused). */
  function reached(svc: ReturnType<typeof twoPorts>, spec: readonly SliceSpec[]): Record<string, string[]> {
    const model = serviceProgram(svc, serviceIntent(svc, classes), [], spec.map(sliceOf), new Set());
    const state = converge(baseRouter(), desiredFor([{ ...model, lbAddresses: [{ family: 'IPv4', address: '192.0.2.15' }] }]), scopes.everything).state;
    const tracer = createTracer(state);
    return Object.fromEntries([80, 9100].map((port) => [`tcp/${port}`, Object.keys(spread(tracer, clients('IPv4', 'tcp', port, 900, port))).sort()]));
  }

  it.each([
    {
      story: 'a pod without the metrics port sits in a slice without it: metrics never reaches it',
      spec: [['web-aaaa', [['10.0.0.1', RUNNING]], { http: 8080, metrics: 9100 }], ['web-bbbb', [['10.0.0.2', RUNNING]], { http: 8080 }]],
      want: { 'tcp/80': ['10.0.0.1:8080', '10.0.0.2:8080'], 'tcp/9100': ['10.0.0.1:9100'] },
    },
    {
      story: 'the same when the slice without it sorts first',
      spec: [['web-aaaa', [['10.0.0.2', RUNNING]], { http: 8080 }], ['web-bbbb', [['10.0.0.1', RUNNING]], { http: 8080, metrics: 9100 }]],
      want: { 'tcp/80': ['10.0.0.1:8080', '10.0.0.2:8080'], 'tcp/9100': ['10.0.0.1:9100'] },
    },
    {
      story: 'readiness is decided per port: metrics falls back to its draining pod while http has a ready one',
      spec: [['web-aaaa', [['10.0.0.1', RUNNING]], { http: 8080 }], ['web-bbbb', [['10.0.0.2', DRAINING]], { http: 8080, metrics: 9100 }]],
      want: { 'tcp/80': ['10.0.0.1:8080'], 'tcp/9100': ['10.0.0.2:9100'] },
    },
    {
      story: 'a port whose pods are all starting is refused, though another port has a ready pod',
      spec: [['web-aaaa', [['10.0.0.1', RUNNING]], { http: 8080 }], ['web-bbbb', [['10.0.0.2', STARTING]], { http: 8080, metrics: 9100 }]],
      want: { 'tcp/80': ['10.0.0.1:8080'], 'tcp/9100': ['reject'] },
    },
    {
      story: 'a port of another protocol with the same name is not the port',
      spec: [['web-aaaa', [['10.0.0.1', RUNNING]], { http: 8080, metrics: 9100 }], ['web-bbbb', [['10.0.0.2', RUNNING]], { http: 8080, 'metrics/UDP': 9100 }]],
      want: { 'tcp/80': ['10.0.0.1:8080', '10.0.0.2:8080'], 'tcp/9100': ['10.0.0.1:9100'] },
    },
  ] satisfies { story: string; spec: SliceSpec[]; want: Record<string, string[]> }[])('$story', ({ spec, want }) => {
    expect(reached(twoPorts(), spec)).toEqual(want);
  });

  it('a numeric targetPort too: a slice that does not list the port gives it no endpoint', () => {
    const spec: SliceSpec[] = [['web-aaaa', [['10.0.0.1', RUNNING]], { http: 8080, metrics: 9100 }], ['web-bbbb', [['10.0.0.2', RUNNING]], { http: 8080 }]];
    expect(reached(twoPorts(8080, 9100), spec)).toEqual({ 'tcp/80': ['10.0.0.1:8080', '10.0.0.2:8080'], 'tcp/9100': ['10.0.0.1:9100'] });
  });
});

describe('an address no pool keeps any more (its pool shrank) is advertised as the pool its claim was made from says', () => {
  const pool = (name: string, addresses: string[], advert: { advertise: boolean; interfaceName?: string }, ipFamily = 'IPv4') => IPPoolSchema.parse({
    metadata: { name, creationTimestamp: '2025-01-01T00:00:00Z' }, spec: { ipFamily, addresses, ...advert },
  });
  const holder = (address: string) => IPAllocationSchema.parse({ metadata: { name: `a-${address}`, uid: `u-${address}` }, spec: { ipFamily: 'IPv4' }, status: { phase: 'Programmed', address } });
  const pools = [pool('quiet', ['192.0.2.100-192.0.2.200'], { advertise: false }), pool('lan', ['198.51.100.0/24'], { advertise: true, interfaceName: 'ether1' }), pool('v6', ['2001:db8::/64'], { advertise: false }, 'IPv6')];
  const outside = holder('192.0.2.15');
  const inside = holder('198.51.100.7');
  const brief = (w: AdvertisementWant) => [w.address, w.advertise, w.interfaceName ?? '', w.pool ?? ''];

  it.each([
    ['its claim\'s pool', new Map([['192.0.2.15', 'quiet']]), [['192.0.2.15', false, '', 'quiet'], ['198.51.100.7', true, 'ether1', 'lan']]],
    ['no claim read (or its pool gone): as before, advertised on the route\'s interface', new Map<string, string>(), [['192.0.2.15', true, '', ''], ['198.51.100.7', true, 'ether1', 'lan']]],
    ['a claim pool now of another family (edited from IPv4 to IPv6) still decides', new Map([['192.0.2.15', 'v6']]), [['192.0.2.15', false, '', 'v6'], ['198.51.100.7', true, 'ether1', 'lan']]],
  ] as const)('%s', (_, claimPools, want) => {
    expect(addressesOutsidePools([outside, inside], pools)).toEqual(['192.0.2.15']);
    expect(advertisementWants([outside, inside], pools, claimPools).map(brief)).toEqual(want);
  });

  it('a shared address\'s own entries follow its claim\'s pool too (release puts them back as every holder plans them)', () => {
    const entries = sharedAddressEntries('ip-192.0.2.15', { family: 'IPv4', address: '192.0.2.15' }, outside, pools, 'quiet');
    expect(entries.adverts.map(brief)).toEqual([['192.0.2.15', false, '', 'quiet']]);
    expect(entries.adverts.map(brief)).toEqual(advertisementWants([outside], pools, new Map([['192.0.2.15', 'quiet']])).map(brief));
  });
});

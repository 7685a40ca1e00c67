import { describe, expect, it } from 'vitest';
import { EndpointSliceSchema, ServiceSchema } from '../k8s/core-objects.js';
import { scopes } from '../router/names.js';
import { baseRouter, clients, converge, desiredFor, spread } from '../router/test-support.js';
import { createTracer } from '../../test/tracer/index.js';
import { serviceProgram } from './program-model.js';
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

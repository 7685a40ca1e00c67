import { describe, expect, it } from 'vitest';
import { ServiceSchema, type EndpointSlice } from '../k8s/core-objects.js';
import { ANNOTATION_SOURCE_RANGES, sessionAffinityOf, sourceRangesOf } from './program-model-access.js';
import { serviceProgram } from './program-model.js';
import { serviceIntent } from './service.js';

const service = (spec: Record<string, unknown>, annotations: Record<string, string> = {}) => ServiceSchema.parse({
  apiVersion: 'v1', kind: 'Service', metadata: { name: 'admin', namespace: 'ops', uid: 'u1', annotations },
  spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ports: [{ name: 'ssh', port: 22, protocol: 'TCP', targetPort: 22 }], ...spec },
});

describe('loadBalancerSourceRanges', () => {
  it.each<{ story: string; spec: Record<string, unknown>; annotations: Record<string, string>; expected: unknown }>([
    { story: 'not set: everyone', spec: {}, annotations: {}, expected: undefined },
    { story: 'empty: everyone', spec: { loadBalancerSourceRanges: [] }, annotations: {}, expected: undefined },
    {
      story: 'both families, host bits cleared',
      spec: { loadBalancerSourceRanges: ['198.51.100.7/24', '2001:db8:7::/48'] }, annotations: {},
      expected: [{ family: 'IPv4', range: '198.51.100.0/24' }, { family: 'IPv6', range: '2001:db8:7::/48' }],
    },
    {
      story: 'the legacy annotation when the field is empty',
      spec: {}, annotations: { [ANNOTATION_SOURCE_RANGES]: '198.51.100.0/24, 203.0.113.7/32' },
      expected: [{ family: 'IPv4', range: '198.51.100.0/24' }, { family: 'IPv4', range: '203.0.113.7' }],
    },
    {
      story: 'the field wins over the annotation',
      spec: { loadBalancerSourceRanges: ['10.0.0.0/8'] }, annotations: { [ANNOTATION_SOURCE_RANGES]: '198.51.100.0/24' },
      expected: [{ family: 'IPv4', range: '10.0.0.0/8' }],
    },
    {
      story: 'an entry that is not a CIDR is left out',
      spec: { loadBalancerSourceRanges: ['office', '10.0.0.0/8'] }, annotations: {},
      expected: [{ family: 'IPv4', range: '10.0.0.0/8' }],
    },
    { story: 'nothing parses: no one (a typo must not open the port)', spec: {}, annotations: { [ANNOTATION_SOURCE_RANGES]: 'office-lan' }, expected: [] },
    { story: 'a blank annotation: everyone', spec: {}, annotations: { [ANNOTATION_SOURCE_RANGES]: ' , ' }, expected: undefined },
  ])('$story', ({ spec, annotations, expected }) => {
    const svc = service(spec, annotations);
    expect(sourceRangesOf(svc)).toEqual(expected);
    const program = serviceProgram(svc, serviceIntent(svc, { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }), [], [], new Set());
    expect(program.sourceRanges).toEqual(expected);
  });
});

describe('sessionAffinity', () => {
  const slice: EndpointSlice = {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 's', namespace: 'ops', labels: { 'kubernetes.io/service-name': 'admin' } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.11'], conditions: { ready: true } }], ports: [{ name: 'ssh', port: 22, protocol: 'TCP' }],
  };
  it.each([
    { spec: {}, expected: undefined },
    { spec: { sessionAffinity: 'None' }, expected: undefined },
    { spec: { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } }, expected: 'ClientIP' },
  ])('$spec.sessionAffinity', ({ spec, expected }) => {
    const svc = service(spec);
    expect(sessionAffinityOf(svc)).toBe(expected);
    const program = serviceProgram(svc, serviceIntent(svc, { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }), [], [slice], new Set());
    expect(program.sessionAffinity).toBe(expected);
  });
});

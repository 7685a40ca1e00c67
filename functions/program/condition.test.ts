import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { memoryPort } from '../../lib/k8s/memory.js';
import { silentLogger } from '../../lib/log/logger.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createProgram } from './handler.js';

/**
 * A Service of ours that asks only for addresses or pools that are invalid gets no allocation,
 * now or later. Its `mikrolb.de/LoadBalancerReady` condition says so (the AnnotationInvalid
 * event's note, which expires with the event), not that an allocation is still to come.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };

const service = (annotations: Record<string, string>) => ({
  apiVersion: 'v1', kind: 'Service',
  metadata: { name: 'web', namespace: 'shop', uid: 'uid-web', generation: 3, finalizers: ['mikrolb.de/finalizer'], annotations },
  spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }] },
});
const slice = {
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
  metadata: { name: 'web-1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
  ports: [{ port: 8080, protocol: 'TCP' }], endpoints: [{ addresses: ['10.0.0.5'], conditions: { ready: true } }],
};

async function conditionAfterProgram(annotations: Record<string, string>) {
  const kube = memoryPort({ now: NOW, objects: [service(annotations), slice] });
  const program = createProgram({ kube: kube.port, router: memoryRouter({ version: '7.19.1', menus: {} }), classes: CLASSES, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined } });
  expect((await program(objectInvocation('update', { kind: 'EndpointSlice', namespace: 'shop', name: 'web-1' }))).kind).toBe('done');
  const svc = ServiceSchema.parse(await kube.port.get('Service', 'web', 'shop'));
  return svc.status?.conditions?.find((c) => c.type === 'mikrolb.de/LoadBalancerReady');
}

describe("the Service's condition when it asks for nothing that can be allocated", () => {
  it('names the invalid address instead of waiting for an allocation', async () => {
    expect(await conditionAfterProgram({ 'mikrolb.de/load-balancer-ips': '300.1.1.1' })).toMatchObject({
      status: 'False', reason: 'AnnotationInvalid', observedGeneration: 3,
      message: 'The Service asks for no address that can be allocated: mikrolb.de/load-balancer-ips: "300.1.1.1" is not a valid IP address; ignoring it',
    });
  });

  it('names every invalid value, as the event does', async () => {
    const condition = await conditionAfterProgram({ 'mikrolb.de/load-balancer-ips': 'a, b', 'mikrolb.de/load-balancer-pools': 'Public_Pool' });
    expect(condition).toMatchObject({ status: 'False', reason: 'AnnotationInvalid' });
    expect(condition?.message).toMatch(/^The Service asks for no address that can be allocated: 3 invalid annotation values: .*"a".*"b".*"Public_Pool"/);
  });

  it('still says Pending for a Service whose allocation is only not made yet', async () => {
    expect(await conditionAfterProgram({})).toMatchObject({ status: 'False', reason: 'Pending', message: 'No IPAllocation exists for this Service yet.' });
  });
});

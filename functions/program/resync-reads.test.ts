import { describe, expect, it } from 'vitest';
import { objectInvocation, resyncInvocation } from '../../lib/events/cloudevent.js';
import type { FunctionHandler } from '../../lib/events/invocation.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { silentLogger } from '../../lib/log/logger.js';
import type { RouterState } from '../../lib/router/state.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createAllocate } from '../allocate/handler.js';
import { createRelease } from '../release/handler.js';
import { createProgram } from './handler.js';
import { memoryPortAs } from '../test-support.js';
import type { Account } from '../../lib/k8s/rbac/test-support.js';

/**
 * A resync lists every Service of the cluster, most of them never MikroLB's (ClusterIP
 * Services, other controllers' load balancers). Each function reads again only the Services
 * the list shows it has work on: every five minutes, a cluster of thousands of Services is
 * not read one by one three times over.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const RETRY = { attempts: 5, pause: async () => undefined };
const SEED: RouterState = { version: '7.19.1', menus: { '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }], '/ip/address': [{ '.id': '*10', address: '192.0.2.1/24', interface: 'ether1' }] } };

const service = (name: string, spec: Record<string, unknown>, finalizers?: string[]) => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop', uid: `uid-${name}`, generation: 1, ...(finalizers ? { finalizers } : {}) },
  spec: { ports: [{ port: 80, protocol: 'TCP' }], ipFamilies: ['IPv4'], ...spec },
});
const OBJECTS = [
  { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', finalizers: ['mikrolb.de/finalizer'] },
    spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true, interfaceName: 'ether1' }, status: { claimsAdopted: true } },
  service('ours', { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass }),
  ...Array.from({ length: 5 }, (_, i) => service(`plain-${i}`, { type: 'ClusterIP' })),
  service('theirs', { type: 'LoadBalancer', loadBalancerClass: 'example.com/other' }),
];

/** The Services each run read one by one (`get Service`), by name. */
function counting(port: KubePort): { port: KubePort; gets: string[] } {
  const gets: string[] = [];
  return { gets, port: { ...port, get: (kind, name, namespace) => (kind === 'Service' && gets.push(name), port.get(kind, name, namespace)) } };
}

describe('a resync over a cluster of Services mostly not ours', () => {
  it('allocate, program and release read again only those they have work on', async () => {
    const kube = memoryPortAs('program', { now: NOW, objects: OBJECTS });
    const router = memoryRouter(SEED);
    const common = { classes: CLASSES, now: NOW, log: silentLogger(), retry: RETRY };
    const ours = { kind: 'Service', namespace: 'shop', name: 'ours' } as const;
    expect((await createAllocate({ ...common, kube: kube.as('allocate') })(objectInvocation('add', ours))).kind).toBe('done');
    expect((await createProgram({ ...common, kube: kube.port, router })(objectInvocation('update', ours))).kind).toBe('done');

    const run = async (make: (port: KubePort) => FunctionHandler, account: Account): Promise<string[]> => {
      const counted = counting(kube.as(account));
      expect((await make(counted.port)(resyncInvocation())).kind).toBe('done');
      return counted.gets;
    };
    expect(await run((port) => createAllocate({ ...common, kube: port }), 'allocate')).toEqual(['ours']);
    expect(await run((port) => createProgram({ ...common, kube: port, router }), 'program')).toEqual(['ours']);
    // release has no work on a Service of ours that lives on
    expect(await run((port) => createRelease({ ...common, kube: port, router, claimGraceMs: 60_000 }), 'release')).toEqual([]);
  });
});

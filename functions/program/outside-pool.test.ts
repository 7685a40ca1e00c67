import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { IPAllocationSchema, IPPoolSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';
import { createProgram } from './handler.js';
import { memoryPortAs } from '../test-support.js';

/**
 * Shrinking a pool moves nothing: an allocation keeps an address the pool no longer contains
 * (the pool reports AddressesOutsidePool). Program took such an address's advertise and
 * interfaceName from the pool keeping it now — none — and so advertised the address of an
 * `advertise: false` pool on the route's interface (the router started answering ARP for it),
 * and moved the address of a pool with an interface to the route's. The pool its claim was made
 * from decides, as before the shrink.
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const ADDRESS = '192.0.2.15';
const INSIDE = ['192.0.2.0/24'];
const SHRUNK = ['192.0.2.100-192.0.2.200'];

const pool = (addresses: string[], advert: { advertise: boolean; interfaceName?: string }) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', uid: 'pool-uid', creationTimestamp: '2025-01-01T00:00:00Z', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses, autoAssign: true, avoidBuggyIPs: true, ...advert }, status: { claimsAdopted: true },
});
const objects = (advert: { advertise: boolean; interfaceName?: string }) => [
  pool(INSIDE, advert),
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', uid: 'svc-uid', finalizers: ['mikrolb.de/finalizer'] },
    spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies: ['IPv4'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] } },
  { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.11'], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
  { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'web-v4', uid: 'alloc-uid', finalizers: ['mikrolb.de/finalizer'],
    labels: { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': 'web', 'mikrolb.de/service-uid': 'svc-uid' } },
    spec: { ipFamily: 'IPv4' }, status: { phase: 'Allocated', address: ADDRESS } },
  { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAddressClaim', metadata: { name: ADDRESS, labels: { 'mikrolb.de/pool': 'lan' } },
    spec: { address: ADDRESS, poolName: 'lan', allocationName: 'web-v4', allocationUID: 'alloc-uid' } },
];

/** The pool's spec after the shrink: other addresses, or (an edit the webhook admits) another family's. */
type Shrink = { ipFamily: string; addresses: string[] };
const TO_V6: Shrink = { ipFamily: 'IPv6', addresses: ['2001:db8::/120'] };

async function programmedThenShrunk(advert: { advertise: boolean; interfaceName?: string }, shrink: Shrink = { ipFamily: 'IPv4', addresses: SHRUNK }) {
  const kube = memoryPortAs('program', { objects: objects(advert), now: NOW });
  const router = memoryRouter({
    version: '7.19.1',
    menus: {
      '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }, { '.id': '*2', name: 'bridge', type: 'bridge' }],
      '/ip/address': [{ '.id': '*10', address: '192.0.2.1/24', interface: 'ether1' }],
      '/ip/route': [{ '.id': '*30', 'dst-address': '192.0.2.0/24', gateway: 'ether1', active: 'true', 'immediate-gw': 'ether1' }],
    },
  });
  const program = createProgram({ kube: kube.port, router, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, now: NOW, log: silentLogger(), retry: { attempts: 5, pause: async () => undefined } });
  const run = async () => expect((await program(objectInvocation('update', { kind: 'Service', namespace: 'shop', name: 'web' }))).kind).toBe('done');
  const advertisement = () => (router.state().menus['/ip/address'] ?? []).filter((e) => e.address === `${ADDRESS}/32`).map((e) => e.interface);
  const status = async () => IPAllocationSchema.parse(await kube.admin.get('IPAllocation', 'web-v4')).status;
  await run();
  const before = { advertisement: advertisement(), status: await status() };
  const p = IPPoolSchema.parse(await kube.admin.get('IPPool', 'lan'));
  await kube.admin.replace('IPPool', { ...p, spec: { ...p.spec, ...shrink } });
  const ops = router.ops.length;
  await run();
  return { before, after: { advertisement: advertisement(), status: await status() }, opsAfterShrink: router.ops.length - ops };
}

describe('an address its pool shrank away from', () => {
  it('stays unadvertised when the pool it was claimed from does not advertise', async () => {
    const { before, after, opsAfterShrink } = await programmedThenShrunk({ advertise: false });
    expect(before.advertisement).toEqual([]);
    expect(after.advertisement).toEqual([]);
    expect(opsAfterShrink).toBe(0);
    expect(after.status).toEqual(before.status);
    expect(after.status?.conditions?.find((c) => c.type === 'Programmed')).toMatchObject({ status: 'False', reason: 'NotAdvertised' });
  });

  it('stays advertised on the interface of the pool it was claimed from', async () => {
    const { before, after, opsAfterShrink } = await programmedThenShrunk({ advertise: true, interfaceName: 'bridge' });
    expect(before.advertisement).toEqual(['bridge']);
    expect(after.advertisement).toEqual(['bridge']);
    expect(opsAfterShrink).toBe(0);
    expect(after.status).toMatchObject({ phase: 'Programmed', advertised: true, interfaceName: 'bridge' });
  });

  describe('to another family (the pool now holds IPv6 addresses)', () => {
    it('stays unadvertised when the pool it was claimed from does not advertise', async () => {
      const { before, after, opsAfterShrink } = await programmedThenShrunk({ advertise: false }, TO_V6);
      expect(before.advertisement).toEqual([]);
      expect(after.advertisement).toEqual([]);
      expect(opsAfterShrink).toBe(0);
      expect(after.status).toEqual(before.status);
    });

    it('stays advertised on the interface of the pool it was claimed from', async () => {
      const { before, after, opsAfterShrink } = await programmedThenShrunk({ advertise: true, interfaceName: 'bridge' }, TO_V6);
      expect(before.advertisement).toEqual(['bridge']);
      expect(after.advertisement).toEqual(['bridge']);
      expect(opsAfterShrink).toBe(0);
      expect(after.status).toMatchObject({ phase: 'Programmed', advertised: true, interfaceName: 'bridge' });
    });
  });
});

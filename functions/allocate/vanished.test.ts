import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import type { WriteRecord } from '../../lib/k8s/memory.js';
import { IPAddressClaimSchema } from '../../lib/k8s/schemas.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { allocationName } from '../../lib/core/service.js';
import { createAllocate } from './handler.js';
import { memoryPortAs, type AccountPort } from '../test-support.js';

/**
 * An allocation deleted (and gone) while allocate works on it: a pool's change retries every
 * allocation waiting on a pool, from one list, and one of them may go before allocate records
 * its decision. That one is skipped, its new claim freed; the others are still allocated, and
 * the run is not a failure (it was retried as an unexpected 500, logged as an error, with
 * every other waiting allocation held back behind it: the chaos suite, seed 777).
 */
const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const RETRY = { attempts: 5, pause: async () => undefined };

const POOL = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.10-192.0.2.11'], autoAssign: true, avoidBuggyIPs: true, advertise: true }, status: { claimsAdopted: true },
};
const service = (name: string) => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop', uid: `uid-${name}`, finalizers: ['mikrolb.de/finalizer'], annotations: { 'mikrolb.de/load-balancer-pools': 'lan' } },
  spec: { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass, ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP' }] },
});
const nameOf = (svc: string): string => allocationName(`uid-${svc}`, { poolName: 'lan' });
/** A Service's allocation that failed for want of a free address in `lan`. */
const waiting = (svc: string) => ({
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation',
  metadata: { name: nameOf(svc), labels: { 'mikrolb.de/service-namespace': 'shop', 'mikrolb.de/service-name': svc, 'mikrolb.de/service-uid': `uid-${svc}` } },
  spec: { poolName: 'lan' },
  status: { phase: 'Failed', conditions: [{ type: 'Allocated', status: 'False', reason: 'PoolExhausted', message: 'Pool lan has no free address.', lastTransitionTime: '2026-01-01T00:00:00Z' }] },
});

describe('an allocation that goes while allocate records its decision', () => {
  it('is skipped and its claim freed; the other waiting allocation gets its address; the run is done', async () => {
    let staged = false;
    const ref: { kube?: AccountPort } = {};
    const beforeWrite = async (w: WriteRecord): Promise<void> => {
      if (staged || !ref.kube || w.kind !== 'IPAllocation' || w.subresource !== 'status' || w.name !== nameOf('gone')) return;
      staged = true;
      await ref.kube.admin.remove('IPAllocation', nameOf('gone')); // no finalizer here: gone at once
    };
    const kube = memoryPortAs('allocate', { now: NOW, objects: [POOL, service('gone'), service('stays'), waiting('gone'), waiting('stays')], beforeWrite });
    ref.kube = kube;
    const log = memoryLogger();
    const allocate = createAllocate({ kube: kube.port, now: NOW, log, retry: RETRY, classes: CLASSES });

    const outcome = await allocate(objectInvocation('update', { kind: 'IPPool', name: 'lan' }));
    expect(staged).toBe(true);
    expect(outcome.kind).toBe('done');
    const claims = (await kube.admin.list('IPAddressClaim')).map((o) => IPAddressClaimSchema.parse(o).spec);
    expect(claims.map((c) => c.allocationName)).toEqual([nameOf('stays')]);
    expect(await kube.admin.get('IPAllocation', nameOf('stays'))).toMatchObject({ status: { phase: 'Allocated', address: claims[0]?.address } });
    expect(log.entries.filter((e) => e.level === 'error')).toEqual([]);
  });
});

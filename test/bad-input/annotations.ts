import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createAllocateApp } from '../../functions/allocate/app.js';
import { serviceIntent } from '../../lib/core/service.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import type { Service } from '../../lib/k8s/core-objects.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { getService } from '../../lib/k8s/typed.js';
import { allocateDeps, CLASSES } from '../allocate/setup.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { serveFunction, type FunctionClient } from '../helpers/functions.js';
import { objects } from '../helpers/objects.js';
import { bounded, recordingKube, snapshot, versions, type Tally } from './support.js';

/**
 * Service annotations: each bad value is an AnnotationInvalid problem naming it, never a throw;
 * over HTTP the allocate function answers 200, warns on the Service (once, if it is ours) and
 * allocates nothing. A Service MikroLB does not manage gets no event, whatever it carries.
 */

const IPS = 'mikrolb.de/load-balancer-ips';
const POOLS = 'mikrolb.de/load-balancer-pools';
const ENABLED = 'mikrolb.de/load-balancer-enabled';
const SNAT = 'mikrolb.de/snat-enabled';
const SNAT_IPS = 'mikrolb.de/snat-ips';
const LB = { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass };
const CLUSTER_IP = { type: 'ClusterIP' };

/** [story, annotations, spec, message part of the first problem, problems, allocations wanted] */
type IntentCase = [string, Record<string, string>, Record<string, unknown>, string, number, number];

const longDigits = '1'.repeat(100_000);
const PURE: IntentCase[] = [
  ['an address with an octet over 255', { [IPS]: '10.0.0.300' }, LB, `${IPS}: "10.0.0.300" is not a valid IP address; ignoring it`, 1, 0],
  ['a CIDR where an address belongs', { [IPS]: '10.0.0.0/24' }, LB, '"10.0.0.0/24" is not a valid IP address', 1, 0],
  ['an IPv6 address with a zone id', { [IPS]: 'fe80::1%eth0' }, LB, '"fe80::1%eth0" is not a valid IP address', 1, 0],
  ['full-width unicode digits', { [IPS]: '１０.0.0.1' }, LB, '"１０.0.0.1" is not a valid IP address', 1, 0],
  ['one good and one bad address', { [IPS]: '10.0.0.1, nope' }, LB, '"nope" is not a valid IP address', 1, 1],
  ['a 100,000-character value', { [IPS]: longDigits }, LB, 'is not a valid IP address', 1, 0],
  // only the first 16 items (MAX_ANNOTATION_ITEMS) are looked at: one problem for the rest, then one per bad item
  ['5,000 bad list items', { [IPS]: Array.from({ length: 5_000 }, (_, i) => `x${i}`).join(',') }, LB, `${IPS} has 5000 items, more than the 16 allowed`, 17, 0],
  ['a pool name with capitals and symbols', { [POOLS]: 'Bad_Pool!' }, LB, `${POOLS}: "Bad_Pool!" is not a valid pool name; ignoring it`, 1, 0],
  ['a unicode pool name', { [POOLS]: 'pöol' }, LB, '"pöol" is not a valid pool name', 1, 0],
  ['a pool name over 253 characters', { [POOLS]: 'a'.repeat(300) }, LB, 'is not a valid pool name', 1, 0],
  ['MetalLB addresses that contradict ours', { [IPS]: '10.0.0.1', 'metallb.io/loadBalancerIPs': '10.0.0.2' }, LB, `metallb.io/loadBalancerIPs is ignored because ${IPS} is set`, 1, 1],
  ['load-balancer-enabled "yes"', { [ENABLED]: 'yes' }, LB, `${ENABLED}: "yes" is not "true" or "false"; using "true"`, 1, 1],
  ['load-balancer-enabled empty', { [ENABLED]: '' }, LB, `${ENABLED}: "" is not "true" or "false"`, 1, 1],
  ['snat-enabled "1"', { [SNAT]: '1' }, LB, `${SNAT}: "1" is not "true" or "false"`, 1, 1],
  ['use-lb-ips without a LoadBalancer', { [SNAT_IPS]: 'use-lb-ips' }, CLUSTER_IP, `${SNAT_IPS}: "use-lb-ips" needs a LoadBalancer Service`, 1, 0],
  ['a spec.loadBalancerIP that is not an address', {}, { ...LB, loadBalancerIP: 'nope' }, 'spec.loadBalancerIP: "nope" is not a valid IP address', 1, 0],
  ['a SNAT address that is not one', { [SNAT_IPS]: 'gateway' }, CLUSTER_IP, `${SNAT_IPS}: "gateway" is not a valid IP address`, 1, 0],
];

const service = (annotations: Record<string, string>, spec: Record<string, unknown>): Service =>
  ({ metadata: { name: 'web', namespace: 'shop', uid: 'uid-1', annotations }, spec: { type: 'ClusterIP', ...spec } });

/** Over HTTP against the real API server: [story, annotations, spec, value the Warning names]. */
type HttpCase = [string, Record<string, string>, Record<string, unknown>, string];
const HTTP: HttpCase[] = [
  ['a bad address', { [IPS]: '198.18.77.300' }, LB, '"198.18.77.300" is not a valid IP address'],
  ['a bad pool name', { [POOLS]: 'Not_A_Pool' }, LB, '"Not_A_Pool" is not a valid pool name'],
  ['three bad values: one Warning', { [IPS]: 'nope, 198.18.77.300', [SNAT]: 'on' }, LB, '3 invalid annotation values: mikrolb.de/snat-enabled: "on" is not "true" or "false"'],
  ['a 100,000-character value', { [IPS]: longDigits }, LB, `"${'1'.repeat(200)}`],
  ['a long unicode value (multi-byte note)', { [IPS]: 'ü'.repeat(2_000) }, LB, `"${'ü'.repeat(100)}`],
  ['unicode pool names', { [POOLS]: 'pöol,池' }, LB, '"pöol" is not a valid pool name'],
];

/** Services MikroLB does not manage, over HTTP: no event and no write at all. */
type NotOursCase = [string, Record<string, string>, Record<string, unknown>];
const NOT_OURS: NotOursCase[] = [
  ['use-lb-ips on a ClusterIP Service', { [SNAT_IPS]: 'use-lb-ips' }, CLUSTER_IP],
  ['a SNAT address that is not one on a ClusterIP Service', { [SNAT_IPS]: 'gateway' }, CLUSTER_IP],
  ['20,000 bad SNAT addresses on a ClusterIP Service', { [SNAT_IPS]: Array.from({ length: 20_000 }, (_, i) => `x${i}`).join(',') }, CLUSTER_IP],
  ['bad values on a LoadBalancer of another class', { [IPS]: 'nope', [ENABLED]: 'yes' }, { type: 'LoadBalancer', loadBalancerClass: 'example.com/other' }],
];

const EventSchema = z.object({ reason: z.string(), type: z.string(), note: z.string().default(''), regarding: z.object({ uid: z.string().optional() }).loose() }).loose();

export function annotationCases(count: Tally): void {
  count.add('annotations', PURE.length + HTTP.length + NOT_OURS.length);

  describe('Service annotations: serviceIntent reports problems, never throws', () => {
    it.each(PURE)('%s', async (_story, annotations, spec, message, problems, allocations) => {
      const svc = service(annotations, spec);
      const before = snapshot(svc);
      const intent = await bounded('serviceIntent', 2_000, Promise.resolve().then(() => serviceIntent(svc, CLASSES)));
      expect(intent.problems).toHaveLength(problems);
      expect(intent.problems[0]?.message).toContain(message);
      expect(intent.allocations).toHaveLength(allocations);
      expect(svc).toEqual(before);
    });
  });

  describe('Service annotations over HTTP: allocate warns AnnotationInvalid and allocates nothing', () => {
    let kube: KubePort;
    let fn: FunctionClient;
    let writes: string[];
    let make: ReturnType<typeof objects>;
    const ns = uniq('bad-annot');
    const pool = uniq('bad-annot-pool');

    beforeAll(async () => {
      kube = apiServerPort(testCluster().transport);
      const recorded = recordingKube(kube);
      writes = recorded.writes;
      fn = await serveFunction(createAllocateApp(allocateDeps(recorded.kube)));
      make = objects(kube);
      await make.namespace(ns);
      // the only pool the bad Services could ever draw from: no address of it may be claimed
      await make.pool(pool, { ipFamily: 'IPv4', addresses: ['198.18.77.0/28'] });
    });
    afterAll(async () => {
      await make.cleanup();
      await fn.close();
    });

    it.each(HTTP)('%s', async (_story, annotations, spec, named) => {
      const name = uniq('svc');
      const svc = await make.service(ns, name, spec, annotations);
      const poolBefore = await versions(kube, [{ kind: 'IPPool', name: pool }]);
      writes.length = 0;
      const res = await bounded('allocate', 10_000, fn.object({ kind: 'Service', namespace: ns, name }, 'add'));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const warned = writes.filter((w) => w.startsWith('event'));
      expect(warned).toEqual([`event AnnotationInvalid ${name}`]);
      // nothing made or freed; the one status written is the Service's own condition, which
      // says what the event says and outlives it
      expect(writes.filter((w) => /^(create|remove|replaceStatus) /.test(w))).toEqual([`replaceStatus Service ${name}`]);
      const condition = (await getService(kube, ns, name))?.status?.conditions?.find((c) => c.type === 'mikrolb.de/LoadBalancerReady');
      expect(condition).toMatchObject({ status: 'False', reason: 'AnnotationInvalid', message: expect.stringContaining(named) });
      expect(await make.allocationsOf(ns, name)).toEqual([]);
      expect(await versions(kube, [{ kind: 'IPPool', name: pool }])).toEqual(poolBefore);
      const warnings = (await kube.list('Event', { namespace: ns })).flatMap((raw) => {
        const e = EventSchema.safeParse(raw);
        return e.success && e.data.reason === 'AnnotationInvalid' && e.data.regarding.uid === svc?.metadata.uid ? [e.data] : [];
      });
      expect(warnings).toHaveLength(warned.length);
      expect(warnings).toContainEqual(expect.objectContaining({ type: 'Warning', note: expect.stringContaining(named) }));
      for (const w of warnings) expect(Buffer.byteLength(w.note)).toBeLessThanOrEqual(1024);
    });

    it.each(NOT_OURS)('not ours: %s', async (_story, annotations, spec) => {
      const name = uniq('svc');
      await make.service(ns, name, spec, annotations);
      writes.length = 0;
      const res = await bounded('allocate', 10_000, fn.object({ kind: 'Service', namespace: ns, name }, 'add'));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(writes).toEqual([]);
    });
  });
}

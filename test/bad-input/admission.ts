import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createWebhookApp, VALIDATE_PATH } from '../../functions/webhook/app.js';
import type { IPPool } from '../../lib/k8s/schemas.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { bounded, snapshot, type Tally } from './support.js';

/**
 * Admission reviews to the webhook app in process: a review it cannot read is a 400 naming the
 * problem (before any pool is read); a readable review of something that is not a valid IPPool
 * is a denial echoing the uid. Never a 500, never a crash; the pools it reads stay as they were.
 */

const POOLS: IPPool[] = [{
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'existing' },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/24'], autoAssign: true, avoidBuggyIPs: true, advertise: true },
}];

const pool = (spec: unknown): Record<string, unknown> => ({ apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'incoming' }, spec });
const request = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  uid: 'review-uid', operation: 'CREATE', name: 'incoming',
  kind: { group: 'mikrolb.de', version: 'v1alpha1', kind: 'IPPool' },
  resource: { group: 'mikrolb.de', version: 'v1alpha1', resource: 'ippools' },
  object: pool({ ipFamily: 'IPv4', addresses: ['198.51.100.0/24'] }),
  ...over,
});
const review = (over: Record<string, unknown> = {}, req: unknown = request()): string =>
  JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: req, ...over });

/** [story, body, what the answer must say: a 400 problem, or a denial's field and message] */
type ReviewCase = [string, () => string, { malformed: string | RegExp } | { field: string; message: string | RegExp }];

const CASES: ReviewCase[] = [
  ['a body that is not JSON', () => '{"apiVersion": ', { malformed: /^<body>: / }],
  ['an empty body', () => '', { malformed: /^<body>: / }],
  ['a JSON array', () => JSON.stringify([review()]), { malformed: /^<body>: Invalid input: expected object, received array/ }],
  ['JSON null', () => 'null', { malformed: /^<body>: Invalid input: expected object, received null/ }],
  ['apiVersion admission.k8s.io/v1beta1', () => review({ apiVersion: 'admission.k8s.io/v1beta1' }), { malformed: /^apiVersion: Invalid input: expected "admission.k8s.io\/v1"/ }],
  ['a kind other than AdmissionReview', () => review({ kind: 'AdmissionResponse' }), { malformed: /^kind: Invalid input: expected "AdmissionReview"/ }],
  ['no request', () => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), { malformed: /^request: Invalid input: expected object, received undefined/ }],
  ['a request that is a string', () => review({}, 'CREATE incoming'), { malformed: /^request: Invalid input: expected object, received string/ }],
  ['a request without uid', () => review({}, { ...request(), uid: undefined }), { malformed: /^request\.uid: Invalid input: expected string/ }],
  ['an empty uid', () => review({}, request({ uid: '' })), { malformed: /^request\.uid: Too small/ }],
  ['an unknown operation', () => review({}, request({ operation: 'PATCH' })), { malformed: /^request\.operation: Invalid option/ }],
  ['a request kind without its kind', () => review({}, request({ kind: { group: 'mikrolb.de', version: 'v1alpha1' } })), { malformed: /^request\.kind\.kind: / }],
  ['a review of a Pod', () => review({}, request({ kind: { group: '', version: 'v1', kind: 'Pod' }, object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } } })), { field: 'kind', message: 'this webhook reviews mikrolb.de IPPools, not /Pod' }],
  ['an object that is not an IPPool', () => review({}, request({ object: { foo: 1 } })), { field: 'metadata', message: 'expected object, received undefined' }],
  ['a null object on CREATE', () => review({}, request({ object: null })), { field: '<object>', message: 'expected object, received null' }],
  ['an IPPool with a broken address', () => review({}, request({ object: pool({ ipFamily: 'IPv4', addresses: ['198.51.100.0/40'] }) })), { field: 'spec.addresses[0]', message: 'prefix length "/40" is not valid for IPv4' }],
  ['an UPDATE whose oldObject is garbage', () => review({}, request({ operation: 'UPDATE', oldObject: 'garbage', object: pool({ ipFamily: 'IPv6', addresses: ['10.0.0.1'] }) })), { field: 'spec.addresses[0]', message: "10.0.0.1 is IPv4, but the pool's ipFamily is IPv6" }],
  ['a 2 MB review of 20,000 broken entries', () => review({}, request({ object: pool({ ipFamily: 'IPv4', addresses: Array.from({ length: 20_000 }, (_, i) => `bad${i}`) }) })), { field: 'spec.addresses[19999]', message: '"bad19999" is not a valid address' }],
];

const MalformedSchema = z.object({ error: z.literal('malformed AdmissionReview'), problems: z.array(z.string()).min(1) });
const ReviewSchema = z.object({
  apiVersion: z.literal('admission.k8s.io/v1'), kind: z.literal('AdmissionReview'),
  response: z.object({
    uid: z.string(), allowed: z.boolean(),
    status: z.object({ code: z.number(), reason: z.string(), details: z.object({ causes: z.array(z.object({ field: z.string(), message: z.string() })) }) }).optional(),
  }),
});

const matches = (text: string | undefined, expected: string | RegExp): boolean =>
  text !== undefined && (typeof expected === 'string' ? text.includes(expected) : expected.test(text));

export function admissionCases(count: Tally): void {
  count.add('admission reviews', CASES.length);

  describe('admission reviews to the webhook app: 400 or a denial, never a crash', () => {
    it.each(CASES)('%s', async (_story, body, expected) => {
      const pools = snapshot(POOLS);
      let listed = 0;
      const log = memoryLogger();
      const app = createWebhookApp({ listPools: async () => (listed++, pools), log });
      const res = await bounded('review', 5_000, Promise.resolve(app.request(VALIDATE_PATH, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body() })));
      const answer: unknown = await res.json();
      if ('malformed' in expected) {
        expect(res.status).toBe(400);
        const { problems } = MalformedSchema.parse(answer);
        expect(problems.some((p) => matches(p, expected.malformed)), problems.join(' | ')).toBe(true);
        expect(listed).toBe(0);
      } else {
        expect(res.status).toBe(200);
        const { response } = ReviewSchema.parse(answer);
        expect(response).toMatchObject({ uid: 'review-uid', allowed: false, status: { code: 422, reason: 'Invalid' } });
        const cause = response.status?.details.causes.find((c) => c.field === expected.field);
        expect(matches(cause?.message, expected.message), JSON.stringify(response.status?.details.causes.slice(0, 3))).toBe(true);
        expect(listed).toBe(1);
      }
      expect(log.entries.filter((e) => e.level === 'error')).toEqual([]);
      expect(pools).toEqual(POOLS);
    });
  });
}

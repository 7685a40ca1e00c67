import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createAllocateApp } from '../../functions/allocate/app.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { allocateDeps, CLASSES } from '../allocate/setup.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { serveFunction, type FunctionClient } from '../helpers/functions.js';
import { objects } from '../helpers/objects.js';
import { bounded, recordingKube, versions, type Tally, type Watched } from './support.js';

/**
 * CloudEvents to the allocate function over real HTTP. Every malformed request names a Service
 * that allocate would change if it got through; each is a 400 with a message, and nothing is
 * written (the port records no write, and the objects keep their resourceVersions).
 */

const ns = uniq('bad-events');
const svcName = 'target';
const pool = uniq('bad-events-pool');
const REF_TYPE = 'dev.knative.apiserver.ref.update';
const STRUCTURED = 'application/cloudevents+json';
const LIMIT = 1024 * 1024;

const ref = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ kind: 'Service', namespace: ns, name: svcName, apiVersion: 'v1', ...over });
const without = (record: Record<string, unknown>, key: string): Record<string, unknown> =>
  Object.fromEntries(Object.entries(record).filter(([k]) => k !== key));

function binary(over: Record<string, string | undefined> = {}): Record<string, string> {
  const base: Record<string, string | undefined> = {
    'ce-specversion': '1.0', 'ce-id': 'bad-1', 'ce-source': 'bad-input', 'ce-type': REF_TYPE, 'content-type': 'application/json', ...over,
  };
  return Object.fromEntries(Object.entries(base).flatMap(([k, v]) => (v === undefined ? [] : [[k, v]])));
}

const envelope = (over: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ specversion: '1.0', id: 'bad-1', source: 'bad-input', type: REF_TYPE, datacontenttype: 'application/json', data: ref(), ...over });

/** `bytes` of JSON whitespace in 64 KiB chunks: sent without a Content-Length (chunked). */
const chunked = (bytes: number): Buffer[] =>
  Array.from({ length: Math.ceil(bytes / 65_536) }, (_, i) => Buffer.alloc(Math.min(65_536, bytes - i * 65_536), 0x20));

/**
 * POSTs over node:http, which (unlike fetch) still reads the answer when the server refuses a
 * body before reading all of it; a string is sent with a Content-Length, chunks without one.
 * One connection per case: after refusing a body unread, the server drops that keep-alive
 * connection (@hono/node-server drains it for 500 ms), which would fail the next case's send.
 */
function post(url: string, headers: Record<string, string>, body: string | Buffer[]): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(url, { method: 'POST', agent: false, headers: typeof body === 'string' ? { ...headers, 'content-length': String(Buffer.byteLength(body)) } : headers }, (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (part: string) => (text += part));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    if (typeof body === 'string') return void req.end(body);
    const pump = (): void => {
      for (let next = body.shift(); next !== undefined; next = body.shift()) {
        if (!req.write(next)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

interface EventCase {
  headers: Record<string, string>;
  body: () => string | Buffer[];
  message: string | RegExp;
  /** 400 unless said: a body over the limit is 413. */
  status?: number;
}
const structured = (value: unknown): Pick<EventCase, 'headers' | 'body'> => ({ headers: { 'content-type': STRUCTURED }, body: () => JSON.stringify(value) });
const asBinary = (data: unknown, over: Record<string, string | undefined> = {}): Pick<EventCase, 'headers' | 'body'> => ({ headers: binary(over), body: () => JSON.stringify(data) });

const CASES: [string, EventCase][] = [
  ['a structured body that is not JSON', { headers: { 'content-type': STRUCTURED }, body: () => '{"specversion": "1.0",', message: /^body is not valid JSON: / }],
  ['an empty structured body', { headers: { 'content-type': STRUCTURED }, body: () => '', message: /^body is not valid JSON: / }],
  ['an empty request without any ce- header', { headers: { 'content-type': 'application/json' }, body: () => '', message: 'CloudEvent attribute "specversion" is missing' }],
  ['a binary event without id', { ...asBinary(ref(), { 'ce-id': undefined }), message: 'CloudEvent attribute "id" is missing' }],
  ['a binary event with an empty id', { ...asBinary(ref(), { 'ce-id': '' }), message: 'CloudEvent attribute "id" is empty' }],
  ['a binary event without type', { ...asBinary(ref(), { 'ce-type': undefined }), message: 'CloudEvent attribute "type" is missing' }],
  ['a structured event without source', { ...structured(without(envelope(), 'source')), message: 'CloudEvent attribute "source" is missing' }],
  ['a structured event without specversion', { ...structured(without(envelope(), 'specversion')), message: 'CloudEvent attribute "specversion" is missing' }],
  ['an id that is a number', { ...structured(envelope({ id: 42 })), message: 'CloudEvent attribute "id" must be a string' }],
  ['specversion 0.3', { ...structured(envelope({ specversion: '0.3' })), message: 'CloudEvent specversion must be "1.0"' }],
  ['an unknown event type', { ...asBinary(ref(), { 'ce-type': 'com.example.bogus' }), message: 'unsupported event type "com.example.bogus"' }],
  ['an unknown change', { ...asBinary(ref(), { 'ce-type': 'dev.knative.apiserver.ref.frobnicate' }), message: 'unsupported event type "dev.knative.apiserver.ref.frobnicate"' }],
  ['an unknown kind', { ...asBinary(ref({ kind: 'Pod' })), message: 'unsupported kind "Pod"; expected one of IPPool, IPAllocation, Service, EndpointSlice, IPAddressClaim' }],
  ['a reference with no name', { ...asBinary(without(ref(), 'name')), message: /^data is not an ObjectReference: name: / }],
  ['a name that is a number', { ...asBinary(ref({ name: 7 })), message: /^data is not an ObjectReference: name: / }],
  ['a namespaced kind without namespace', { ...asBinary(without(ref(), 'namespace')), message: `Service "${svcName}" is namespaced but the event names no namespace` }],
  ['a cluster-scoped kind with a namespace', { ...asBinary({ kind: 'IPPool', apiVersion: 'mikrolb.de/v1alpha1', name: pool, namespace: ns }), message: `IPPool is cluster-scoped but the event names namespace "${ns}"` }],
  ['an apiVersion that does not match the kind', { ...asBinary(ref({ apiVersion: 'mikrolb.de/v1alpha1' })), message: 'apiVersion "mikrolb.de/v1alpha1" does not match kind Service (expected v1)' }],
  ['extensions that contradict themselves', { ...asBinary(ref(), { 'ce-kind': 'IPPool', 'ce-apiversion': 'v1' }), message: 'apiVersion "v1" does not match kind IPPool (expected mikrolb.de/v1alpha1)' }],
  ['a 300-character name', { ...asBinary(ref({ name: 'a'.repeat(300) })), message: /^invalid object reference: name: / }],
  ['a 64-character namespace', { ...asBinary(ref({ namespace: 'n'.repeat(64) })), message: /^invalid object reference: namespace: / }],
  ['resource data that is a string', { ...asBinary('hello', { 'ce-type': 'dev.knative.apiserver.resource.update' }), message: /^data is not a Kubernetes object: / }],
  ['binary data that is not JSON', { headers: binary(), body: () => '{"kind": "Service"', message: /^data is not valid JSON: / }],
  ['text/plain data', { headers: binary({ 'content-type': 'text/plain' }), body: () => 'Service/target', message: 'unsupported data content type "text/plain"; expected application/json' }],
  ['an XML structured format', { headers: { 'content-type': 'application/cloudevents+xml' }, body: () => '<event/>', message: 'unsupported structured format "application/cloudevents+xml"; expected application/cloudevents+json' }],
  ['a batch of events', { headers: { 'content-type': 'application/cloudevents-batch+json' }, body: () => JSON.stringify([envelope(), envelope({ id: 'bad-2' })]), message: 'batched CloudEvents are not supported; send one event per request' }],
  ['a JSON array sent as one structured event', { ...structured([envelope()]), message: 'a structured CloudEvent must be a JSON object' }],
  ['data_base64 instead of data', { ...structured(without(envelope({ data_base64: 'e30=' }), 'data')), message: 'data_base64 is not supported; send the object as JSON data' }],
  ['a body over 1 MiB with a Content-Length', { headers: binary(), body: () => `${JSON.stringify(ref())}${' '.repeat(LIMIT)}`, message: `body exceeds the limit of ${LIMIT} bytes`, status: 413 }],
  ['a body over 1 MiB, chunked', { headers: binary(), body: () => chunked(LIMIT + 4096), message: `body exceeds the limit of ${LIMIT} bytes`, status: 413 }],
];

const ErrorBodySchema = z.object({ error: z.string() });

export function cloudEventCases(count: Tally): void {
  count.add('cloudevents', CASES.length);

  describe('CloudEvents to allocate over HTTP: 400 (413 when too large) with a message, nothing written', () => {
    let kube: KubePort;
    let fn: FunctionClient;
    let writes: string[];
    let make: ReturnType<typeof objects>;
    const watched: Watched[] = [{ kind: 'Service', name: svcName, namespace: ns }, { kind: 'IPPool', name: pool }];

    beforeAll(async () => {
      kube = apiServerPort(testCluster().transport);
      const recorded = recordingKube(kube);
      writes = recorded.writes;
      fn = await serveFunction(createAllocateApp(allocateDeps(recorded.kube)));
      make = objects(kube);
      await make.namespace(ns);
      await make.pool(pool, { ipFamily: 'IPv4', addresses: ['198.18.78.0/28'], autoAssign: false });
      await make.service(ns, svcName, { type: 'LoadBalancer', loadBalancerClass: CLASSES.loadBalancerClass }, { 'mikrolb.de/load-balancer-pools': pool });
    });
    afterAll(async () => {
      await make.cleanup();
      await fn.close();
    });

    it.each(CASES)('%s', async (_story, c) => {
      const before = await versions(kube, watched);
      writes.length = 0;
      const res = await bounded('POST', 10_000, post(fn.url, c.headers, c.body()));
      expect(res.status, res.text).toBe(c.status ?? 400);
      const answer = ErrorBodySchema.parse(JSON.parse(res.text));
      if (typeof c.message === 'string') expect(answer.error).toContain(c.message);
      else expect(answer.error).toMatch(c.message);
      expect(writes).toEqual([]);
      expect(await versions(kube, watched)).toEqual(before);
      expect(await make.allocationsOf(ns, svcName)).toEqual([]);
    });

    it('control: the same Service named by a well-formed event is allocated (the watch above would have seen it)', async () => {
      const before = await versions(kube, watched);
      const res = await fn.object({ kind: 'Service', namespace: ns, name: svcName }, 'update');
      expect(res.status).toBe(200);
      expect(writes).toContain(`create IPAllocation ${(await make.allocationsOf(ns, svcName))[0]?.metadata.name ?? '?'}`);
      expect(await versions(kube, watched)).not.toEqual(before);
    });
  });
}

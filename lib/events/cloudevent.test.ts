import { HTTP } from 'cloudevents';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCloudEvent, toCloudEvent, objectInvocation, resyncInvocation, type ParsedEvent } from './cloudevent.js';
import { resolveObjectRef } from './identity.js';
import { ObjectKindSchema, type Change, type Invocation } from './invocation.js';
import {
  APISERVER_SOURCE,
  OBJECTS,
  REFS,
  apiServerEvent,
  encode,
  extensionsFor,
  objectReferenceFor,
  type Encoding,
} from './test-support.js';

const KINDS = ObjectKindSchema.options;
const CHANGES: Change[] = ['add', 'update', 'delete'];
const ENCODINGS: Encoding[] = ['binary', 'structured'];
const cross = <A, B>(as: readonly A[], bs: readonly B[]): [A, B][] => as.flatMap((a) => bs.map((b): [A, B] => [a, b]));

const invocationOf = (result: ParsedEvent): Invocation => {
  if (!result.ok) throw new Error(`expected an invocation, got: ${result.message}`);
  return result.invocation;
};

describe('events as the ApiServerSource sends them', () => {
  it.each(cross(cross(KINDS, CHANGES), ENCODINGS))('Resource mode: %j %s', ([kind, change], encoding) => {
    const event = apiServerEvent({
      type: `dev.knative.apiserver.resource.${change}`,
      subject: `/apis/v1/namespaces/x/${kind.toLowerCase()}s/y`,
      ...extensionsFor(REFS[kind]),
      data: OBJECTS[kind],
    });
    // a slice sent whole names its Service (its kubernetes.io/service-name label): program
    // programs the Service, even once the slice is deleted and can no longer be read
    // and so does a deleted allocation sent whole (its mikrolb.de/service-* labels): allocate
    // makes it again for the Service, program writes the Service's status without it
    const ofService = kind === 'EndpointSlice' || (kind === 'IPAllocation' && change === 'delete');
    // and what a deleted object leaves to act on, which can no longer be read from it: the
    // claim of the address an allocation held (release frees it if the allocation went without
    // its release), the allocations a claim named (allocate has them take it again)
    const sentWhole = change !== 'delete' ? {}
      : kind === 'IPAllocation' ? { held: REFS.IPAddressClaim }
        : kind === 'IPAddressClaim' ? { holders: [REFS.IPAllocation] } : {};
    expect(invocationOf(parseCloudEvent(encode(event, encoding)))).toEqual({
      type: 'object',
      change: ofService ? 'update' : change,
      ref: ofService ? REFS.Service : REFS[kind],
      id: 'evt-1',
      source: APISERVER_SOURCE,
      sentWhole,
    });
  });

  it.each([
    ['a shared claim: every holder', 'IPAddressClaim', { ...OBJECTS.IPAddressClaim, spec: { ...(OBJECTS.IPAddressClaim['spec'] as object), sharingKey: 'k', holders: [{ allocationName: 'a-1', allocationUID: 'u1', ports: [] }, { allocationName: 'b-1', allocationUID: 'u2', ports: [] }] } }, { holders: [{ kind: 'IPAllocation', name: 'a-1' }, { kind: 'IPAllocation', name: 'b-1' }] }],
    ['a claim that is no claim: nothing', 'IPAddressClaim', { ...OBJECTS.IPAddressClaim, spec: { address: '192.168.1.241' } }, {}],
    ['an allocation whose address is no address: nothing', 'IPAllocation', { ...OBJECTS.IPAllocation, status: { phase: 'Allocated', address: 'not-an-address' } }, {}],
  ] as const)('Resource mode: a deleted object sent whole shows what it left — %s', (_what, kind, data, sentWhole) => {
    const event = apiServerEvent({ type: 'dev.knative.apiserver.resource.delete', ...extensionsFor(REFS[kind]), data });
    for (const encoding of ENCODINGS) expect(invocationOf(parseCloudEvent(encode(event, encoding)))).toHaveProperty('sentWhole', sentWhole);
  });

  it.each([
    ['without the label', { ...OBJECTS.EndpointSlice, metadata: { name: 'web-x7k2p', namespace: 'shop' } }],
    ['with a label that names no valid Service', { ...OBJECTS.EndpointSlice, metadata: { name: 'web-x7k2p', namespace: 'shop', labels: { 'kubernetes.io/service-name': '' } } }],
    ['with a label that is not a string', { ...OBJECTS.EndpointSlice, metadata: { name: 'web-x7k2p', namespace: 'shop', labels: { 'kubernetes.io/service-name': 7 } } }],
  ])('Resource mode: a slice %s stays a slice (program reads it)', (_, data) => {
    const event = apiServerEvent({ type: 'dev.knative.apiserver.resource.delete', ...extensionsFor(REFS.EndpointSlice), data });
    for (const encoding of ENCODINGS) {
      expect(invocationOf(parseCloudEvent(encode(event, encoding)))).toMatchObject({ change: 'delete', ref: REFS.EndpointSlice });
    }
  });

  it.each([
    ['an operator reservation: the claim of its address (release frees it if the reservation went without its release)', { metadata: { name: 'vip' }, spec: { address: '2001:db8::7' }, status: { phase: 'Programmed', address: '2001:db8::7' } }, { kind: 'IPAddressClaim', name: '2001-db8-0-0-0-0-0-7' }],
    ['a reservation that held no address: itself', { metadata: { name: 'vip' }, spec: { address: '192.0.2.7' }, status: { phase: 'Failed' } }, { kind: 'IPAllocation', name: 'vip' }],
    ['one whose labels name no valid Service: itself', { metadata: { name: 'vip', labels: { 'mikrolb.de/service-namespace': 'Not A Namespace!'.repeat(10), 'mikrolb.de/service-name': 'web' } } }, { kind: 'IPAllocation', name: 'vip' }],
  ] as const)('Resource mode: a deleted allocation sent whole names what it leaves to act on — %s', (_what, object, ref) => {
    const event = apiServerEvent({ type: 'dev.knative.apiserver.resource.delete', kind: 'IPAllocation', apiversion: 'mikrolb.de/v1alpha1', name: 'vip', data: { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', ...object } });
    for (const encoding of ENCODINGS) expect(invocationOf(parseCloudEvent(encode(event, encoding)))).toMatchObject({ change: ref.kind === 'IPAllocation' ? 'delete' : 'update', ref });
  });

  it.each(cross(cross(KINDS, CHANGES), ENCODINGS))('Reference mode: %j %s', ([kind, change], encoding) => {
    const event = apiServerEvent({
      type: `dev.knative.apiserver.ref.${change}`,
      ...extensionsFor(REFS[kind]),
      data: objectReferenceFor(REFS[kind]),
    });
    expect(invocationOf(parseCloudEvent(encode(event, encoding)))).toEqual({
      type: 'object',
      change,
      ref: REFS[kind],
      id: 'evt-1',
      source: APISERVER_SOURCE,
    });
  });

  it.each(ENCODINGS)('resync, %s, with or without data', (encoding) => {
    const bare = apiServerEvent({ type: 'de.mikrolb.resync', source: '/apis/v1/namespaces/mikrolb-system/pingsources/resync' });
    const withData = apiServerEvent({ type: 'de.mikrolb.resync', data: 'tick', datacontenttype: 'text/plain' });
    expect(invocationOf(parseCloudEvent(encode(bare, encoding)))).toEqual({
      type: 'resync',
      id: 'evt-1',
      source: '/apis/v1/namespaces/mikrolb-system/pingsources/resync',
    });
    expect(invocationOf(parseCloudEvent(encode(withData, encoding))).type).toBe('resync');
  });
});

describe('where the object is named', () => {
  const service = REFS.Service;
  it.each([
    ['the extensions alone (no data)', { ...extensionsFor(service) }, service],
    ['an object without kind, kind from the extensions', { ...extensionsFor(service), data: { metadata: { name: 'web', namespace: 'shop' } } }, service],
    ['the data, when the extensions are absent', { data: OBJECTS.Service }, service],
    ['the data over the extensions (an owner reference, as with asController)', { ...extensionsFor(REFS.EndpointSlice), data: OBJECTS.Service }, service],
    ['a cluster-scoped object whose namespace extension is empty', { ...extensionsFor(REFS.IPPool), data: OBJECTS.IPPool }, REFS.IPPool],
  ])('resource mode: %s', (_, attrs, ref) => {
    const event = apiServerEvent({ type: 'dev.knative.apiserver.resource.update', ...attrs });
    for (const encoding of ENCODINGS) {
      expect(invocationOf(parseCloudEvent(encode(event, encoding)))).toMatchObject({ type: 'object', ref });
    }
  });

  it('reads a reference with uid and resourceVersion', () => {
    const data = { ...objectReferenceFor(service), uid: '6f1c', resourceVersion: '12' };
    const parsed = invocationOf(parseCloudEvent(encode(apiServerEvent({ type: 'dev.knative.apiserver.ref.add', data }), 'binary')));
    expect(parsed).toMatchObject({ type: 'object', change: 'add', ref: service });
  });

  it.each([
    ['mixed-case header names', (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.replace(/^ce-/, 'Ce-'), v]))],
    ['a Fetch Headers object', (h: Record<string, string>) => new Headers(h)],
    ['content type with a charset', (h: Record<string, string>) => ({ ...h, 'content-type': 'application/json;charset=utf-8' })],
  ])('binary mode tolerates %s', (_, rewrite) => {
    const message = toCloudEvent(objectInvocation('update', service, { id: 'id-1' }));
    expect(invocationOf(parseCloudEvent({ headers: rewrite(message.headers), body: message.body }))).toMatchObject({ ref: service });
  });
});

type Broken = [name: string, message: () => { headers: Record<string, string>; body: string }, expected: string];
const structured = (body: unknown): { headers: Record<string, string>; body: string } => ({
  headers: { 'content-type': 'application/cloudevents+json' },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
const valid = { id: 'e1', source: APISERVER_SOURCE, specversion: '1.0', type: 'dev.knative.apiserver.ref.add', data: objectReferenceFor(REFS.Service) };
const binaryOf = (attrs: Record<string, unknown>, body?: string): { headers: Record<string, string>; body: string } => {
  const message = encode(apiServerEvent({ type: 'dev.knative.apiserver.ref.add', data: objectReferenceFor(REFS.Service), ...attrs }, false), 'binary');
  const headers = Object.fromEntries(Object.entries(message.headers).filter((e): e is [string, string] => typeof e[1] === 'string'));
  return { headers, body: body ?? message.body };
};
const without = (name: string) => () => {
  const message = binaryOf({});
  delete message.headers[name];
  return message;
};

describe('malformed events are answers, not exceptions', () => {
  it.each<Broken>([
    ['no CloudEvent at all', () => ({ headers: {}, body: '' }), 'CloudEvent attribute "id" is missing'],
    ['binary without ce-id', without('ce-id'), 'CloudEvent attribute "id" is missing'],
    ['binary without ce-source', without('ce-source'), 'CloudEvent attribute "source" is missing'],
    ['binary without ce-specversion', without('ce-specversion'), 'CloudEvent attribute "specversion" is missing'],
    ['binary without ce-type', without('ce-type'), 'CloudEvent attribute "type" is missing'],
    ['structured body that is not JSON', () => structured('{"id": "e1", '), 'body is not valid JSON'],
    ['structured body that is an array', () => structured([valid]), 'a structured CloudEvent must be a JSON object'],
    ['structured without id', () => structured({ ...valid, id: undefined }), 'CloudEvent attribute "id" is missing'],
    ['structured with an empty id', () => structured({ ...valid, id: '' }), 'CloudEvent attribute "id" is empty'],
    ['structured with a numeric id', () => structured({ ...valid, id: 42 }), 'CloudEvent attribute "id" must be a string'],
    ['specversion 0.3', () => structured({ ...valid, specversion: '0.3' }), 'CloudEvent specversion must be "1.0"'],
    ['an unknown event type', () => structured({ ...valid, type: 'com.example.thing' }), 'unsupported event type "com.example.thing"'],
    ['an unknown change', () => structured({ ...valid, type: 'dev.knative.apiserver.resource.patch' }), 'unsupported event type "dev.knative.apiserver.resource.patch"'],
    ['a kind we do not handle', () => binaryOf({ type: 'dev.knative.apiserver.resource.add', data: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'x' } } }), 'unsupported kind "Pod"; expected one of IPPool, IPAllocation, Service, EndpointSlice, IPAddressClaim'],
    ['an apiVersion that does not match the kind', () => structured({ ...valid, data: { kind: 'IPPool', name: 'lan', apiVersion: 'v1' } }), 'apiVersion "v1" does not match kind IPPool (expected mikrolb.de/v1alpha1)'],
    ['an apiversion extension that does not match', () => binaryOf({ kind: 'Service', apiversion: 'mikrolb.de/v1alpha1' }), 'apiVersion "mikrolb.de/v1alpha1" does not match kind Service (expected v1)'],
    ['binary data that is not JSON', () => binaryOf({}, '{"kind": "Service",'), 'data is not valid JSON'],
    ['binary data that is plain text', () => ({ ...binaryOf({}), headers: { ...binaryOf({}).headers, 'content-type': 'text/plain' } }), 'unsupported data content type "text/plain"'],
    ['resource data that is an array', () => binaryOf({ type: 'dev.knative.apiserver.resource.add' }, '[1, 2]'), 'data is not a Kubernetes object'],
    ['resource data with a numeric name', () => structured({ ...valid, type: 'dev.knative.apiserver.resource.add', data: { kind: 'Service', metadata: { name: 7 } } }), 'data is not a Kubernetes object: metadata.name'],
    ['a reference without a name', () => structured({ ...valid, data: { kind: 'Service', namespace: 'shop' } }), 'data is not an ObjectReference: name'],
    ['an extension of the wrong type', () => structured({ ...valid, kind: 5 }), 'extension attributes are invalid: kind'],
    ['no kind anywhere', () => structured({ ...valid, type: 'dev.knative.apiserver.resource.add', data: { metadata: { name: 'x' } } }), 'event names no kind'],
    ['no name anywhere', () => structured({ ...valid, type: 'dev.knative.apiserver.resource.add', data: { kind: 'Service' } }), 'event names a Service but no name'],
    ['a Service without namespace', () => structured({ ...valid, data: { kind: 'Service', name: 'web' } }), 'Service "web" is namespaced but the event names no namespace'],
    ['an IPPool with a namespace', () => structured({ ...valid, data: { kind: 'IPPool', name: 'lan', namespace: 'shop' } }), 'IPPool is cluster-scoped but the event names namespace "shop"'],
    ['a name longer than Kubernetes allows', () => structured({ ...valid, data: { kind: 'IPPool', name: 'a'.repeat(254) } }), 'invalid object reference: name'],
    ['a body over 1 MiB', () => structured({ ...valid, padding: 'x'.repeat(1024 * 1024) }), 'the limit is 1048576'],
    ['a batch', () => ({ headers: { 'content-type': 'application/cloudevents-batch+json' }, body: JSON.stringify([valid]) }), 'batched CloudEvents are not supported'],
    ['a structured format other than JSON', () => ({ headers: { 'content-type': 'application/cloudevents+xml' }, body: '<e/>' }), 'unsupported structured format'],
    ['base64 data', () => structured({ ...valid, data: undefined, data_base64: 'e30=' }), 'data_base64 is not supported'],
  ])('%s', (_, build, expected) => {
    const message = build();
    let result: ParsedEvent | undefined;
    expect(() => (result = parseCloudEvent(message))).not.toThrow();
    expect(result).toEqual({ ok: false, message: expect.stringContaining(expected) });
  });

  it('honours a smaller body limit', () => {
    const message = toCloudEvent(resyncInvocation({ id: 'r' }));
    const result = parseCloudEvent({ ...message, body: 'x'.repeat(11) }, { maxBodyBytes: 10 });
    expect(result).toEqual({ ok: false, message: 'body is 11 bytes; the limit is 10' });
  });

  it('never throws, whatever arrives', () => {
    const header = fc.constantFrom('content-type', 'ce-id', 'ce-source', 'ce-type', 'ce-specversion', 'ce-kind', 'ce-name', 'x-other');
    const contentType = fc.constantFrom('application/json', 'application/cloudevents+json', 'text/plain', 'application/cloudevents-batch+json');
    fc.assert(
      fc.property(fc.dictionary(header, fc.string()), fc.option(contentType), fc.oneof(fc.string(), fc.json()), (headers, type, body) => {
        const result = parseCloudEvent({ headers: type ? { ...headers, 'content-type': type } : headers, body });
        expect(typeof result.ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });
});

describe('the extension attributes, as the cloudevents SDK reads them', () => {
  // The parser reads the four extensions itself (the SDK stays out of a function's cold start);
  // this checks it finds what `HTTP.toEvent` finds, whatever else the message carries.
  const value = fc.option(fc.constantFrom<string>('', 'Service', 'IPPool', 'Pod', 'web', 'shop', 'lan', 'v1', 'mikrolb.de/v1alpha1', 'a b'), { nil: undefined });
  const extensions = fc.record({ kind: value, apiversion: value, name: value, namespace: value, other: value, subject: value, time: value });
  const sdkText = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

  it.each(ENCODINGS)('%s', (encoding) => {
    fc.assert(
      fc.property(extensions, fc.boolean(), (ext, upperCase) => {
        const defined = Object.fromEntries(Object.entries(ext).filter((e): e is [string, string] => e[1] !== undefined));
        const attrs = { id: 'e1', source: APISERVER_SOURCE, specversion: '1.0', type: 'dev.knative.apiserver.resource.update', ...defined };
        const message = encoding === 'structured'
          ? structured(attrs)
          : {
            headers: Object.fromEntries(Object.entries(attrs).map(([k, v]) => [`${upperCase ? 'Ce-' : 'ce-'}${k}`, v])),
            body: '',
          };
        // What the parser handed the SDK before: the header names in lower case.
        const lowerCase = Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k.toLowerCase(), v]));
        const event = HTTP.toEvent({ headers: { 'content-type': 'application/json', ...lowerCase }, body: message.body || undefined });
        if (Array.isArray(event)) throw new Error('one event expected');
        const read = (name: string): string | undefined => sdkText(Reflect.get(event, name));
        const expected = resolveObjectRef(undefined, { kind: read('kind'), apiVersion: read('apiversion'), name: read('name'), namespace: read('namespace') });
        const parsed = parseCloudEvent(message);
        expect(parsed).toEqual(expected.ok
          ? { ok: true, invocation: { type: 'object', change: 'update', ref: expected.ref, id: 'e1', source: APISERVER_SOURCE } }
          : { ok: false, message: expected.message });
      }),
      { numRuns: 300 },
    );
  });
});

describe('toCloudEvent', () => {
  const invocations: [string, Invocation][] = [
    ...cross(KINDS, CHANGES).map(([kind, change]): [string, Invocation] => [
      `${change} ${kind}`,
      objectInvocation(change, REFS[kind], { id: `id-${kind}-${change}` }),
    ]),
    ['resync', resyncInvocation({ id: 'tick-1', source: 'mikrolb.de/bridge/resync' })],
  ];

  it.each(invocations)('round trip: %s', (_, invocation) => {
    expect(parseCloudEvent(toCloudEvent(invocation))).toEqual({ ok: true, invocation });
  });

  it('sends what the ApiServerSource sends in Reference mode, in binary mode', () => {
    const time = new Date('2025-01-02T03:04:05.000Z');
    const message = toCloudEvent(objectInvocation('delete', REFS.EndpointSlice, { id: 'abc' }), { time });
    expect(message.headers).toEqual({
      'content-type': 'application/json',
      'ce-id': 'abc',
      'ce-source': 'mikrolb.de/bridge',
      'ce-specversion': '1.0',
      'ce-type': 'dev.knative.apiserver.ref.delete',
      'ce-time': '2025-01-02T03:04:05.000Z',
      'ce-subject': '/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices/web-x7k2p',
      'ce-kind': 'EndpointSlice',
      'ce-apiversion': 'discovery.k8s.io/v1',
      'ce-name': 'web-x7k2p',
      'ce-namespace': 'shop',
    });
    const event = HTTP.toEvent({ headers: message.headers, body: message.body });
    expect(Array.isArray(event) ? undefined : event.data).toEqual(objectReferenceFor(REFS.EndpointSlice));
  });

  it('leaves out the namespace of cluster-scoped objects', () => {
    const message = toCloudEvent(objectInvocation('add', REFS.IPPool, { id: 'p' }));
    expect(message.headers['ce-namespace']).toBeUndefined();
    expect(JSON.parse(message.body)).toEqual({ kind: 'IPPool', name: 'lan', apiVersion: 'mikrolb.de/v1alpha1' });
  });

  it('makes ids with the injected generator, random UUIDs by default', () => {
    expect(resyncInvocation({ newId: () => 'fixed' })).toEqual({ type: 'resync', id: 'fixed', source: 'mikrolb.de/bridge' });
    const [a, b] = [resyncInvocation(), resyncInvocation()];
    expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.id).not.toBe(b.id);
  });
});

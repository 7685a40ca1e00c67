import { CloudEvent, HTTP } from 'cloudevents';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BRIDGE_SOURCE, objectInvocation, resyncInvocation, toCloudEvent } from './encode.js';
import { apiVersionOfKind } from './identity.js';
import { EVENT_TYPE_PREFIX_REF, EVENT_TYPE_RESYNC, ObjectKindSchema, type Change, type Invocation } from './invocation.js';
import { RESOURCES, resourcePath } from '../k8s/resources.js';

/** What toCloudEvent sent while it went through the SDK: the reference its hand-written headers must match. */
function throughSdk(invocation: Invocation, time: Date): { headers: Record<string, string>; body: string } {
  const base = { id: invocation.id, source: invocation.source, specversion: '1.0', time: time.toISOString() };
  const event =
    invocation.type === 'resync'
      ? new CloudEvent({ ...base, type: EVENT_TYPE_RESYNC })
      : new CloudEvent({
          ...base,
          type: `${EVENT_TYPE_PREFIX_REF}${invocation.change}`,
          subject: resourcePath(RESOURCES[invocation.ref.kind], invocation.ref.namespace, invocation.ref.name),
          datacontenttype: 'application/json',
          kind: invocation.ref.kind,
          apiversion: apiVersionOfKind(invocation.ref.kind),
          name: invocation.ref.name,
          ...(invocation.ref.namespace === undefined ? {} : { namespace: invocation.ref.namespace }),
          data: {
            kind: invocation.ref.kind,
            ...(invocation.ref.namespace === undefined ? {} : { namespace: invocation.ref.namespace }),
            name: invocation.ref.name,
            apiVersion: apiVersionOfKind(invocation.ref.kind),
          },
        });
  const message = HTTP.binary(event);
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(message.headers)) if (typeof value === 'string') headers[key] = value;
  return { headers, body: typeof message.body === 'string' ? message.body : '' };
}

const KINDS = ObjectKindSchema.options;
const CHANGES: readonly Change[] = ['add', 'update', 'delete'];
const dnsName = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/);

describe('toCloudEvent', () => {
  it('sends what the cloudevents SDK sends in binary mode: the same headers, in the same order, and body', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...KINDS), fc.constantFrom(...CHANGES), dnsName, fc.option(dnsName, { nil: undefined }), fc.uuid(), fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }),
        (kind, change, name, namespace, id, time) => {
          const ref = RESOURCES[kind].namespaced && namespace !== undefined ? { kind, namespace, name } : { kind, name };
          const invocation = objectInvocation(change, ref, { id });
          const ours = toCloudEvent(invocation, { time });
          const sdk = throughSdk(invocation, time);
          expect(ours).toEqual(sdk);
          expect(Object.keys(ours.headers)).toEqual(Object.keys(sdk.headers));
        },
      ),
    );
  });

  it('sends a resync as the SDK did: no data, its content type for that', () => {
    const time = new Date('2026-01-02T03:04:05.678Z');
    const invocation = resyncInvocation({ id: 'tick' });
    expect(toCloudEvent(invocation, { time })).toEqual(throughSdk(invocation, time));
    expect(Object.keys(toCloudEvent(invocation, { time }).headers)).toEqual(Object.keys(throughSdk(invocation, time).headers));
    expect(toCloudEvent(invocation, { time }).headers['ce-source']).toBe(BRIDGE_SOURCE);
  });
});

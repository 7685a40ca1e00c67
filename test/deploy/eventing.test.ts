/**
 * deploy/overlays/knative-eventing: Knative's ApiServerSource, Broker and Triggers deliver to
 * each function at least what the bridge's routing table sends it, in a format the functions
 * accept; the PingSource's resync tick reaches every function.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_NAMES, ROUTES, type FunctionName } from '../../bridge/routing.js';
import { parseCloudEvent } from '../../lib/events/cloudevent.js';
import { apiVersionOfKind } from '../../lib/events/identity.js';
import { ChangeSchema, EVENT_TYPE_PREFIX_RESOURCE, ObjectKindSchema } from '../../lib/events/invocation.js';
import { testCluster } from '../helpers/cluster.js';
import { one, ofKind, renderWithoutCertManager, type Doc } from './render.js';
import { ApiServerSourceSchema, BindingSchema, PingSourceSchema, RoleSchema, TriggerSchema } from './schemas.js';

const { kubectl } = testCluster();
let docs: Doc[] = [];
const PING_TYPE = 'dev.knative.sources.ping';

beforeAll(async () => {
  docs = (await renderWithoutCertManager(kubectl, 'knative-eventing')).docs;
});

/** The functions the Triggers deliver an event with these attributes to (exact attribute filters). */
function deliveredTo(attributes: Record<string, string>): FunctionName[] {
  const fns = ofKind(docs, 'Trigger', TriggerSchema)
    .filter((t) => Object.entries(t.spec.filter?.attributes ?? {}).every(([k, v]) => attributes[k] === v))
    .map((t) => t.spec.subscriber.ref.name.replace(/^mikrolb-/, ''));
  return FUNCTION_NAMES.filter((fn) => fns.includes(fn));
}

describe('the ApiServerSource', () => {
  it('watches, in Resource mode across all namespaces, the kinds the bridge watches', () => {
    const source = one(docs, 'ApiServerSource', 'mikrolb', ApiServerSourceSchema);
    expect(source.spec.mode).toBe('Resource');
    expect(source.spec.namespaceSelector).toEqual({});
    expect(source.spec.resources).toEqual(ObjectKindSchema.options.map((kind) => ({ apiVersion: apiVersionOfKind(kind), kind })));
    expect(source.spec.sink.ref).toEqual({ apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'mikrolb' });
  });

  it('runs as a ServiceAccount with get, list and watch on them (what Knative checks before it starts)', () => {
    const source = one(docs, 'ApiServerSource', 'mikrolb', ApiServerSourceSchema);
    const binding = one(docs, 'ClusterRoleBinding', source.spec.serviceAccountName, BindingSchema);
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: source.spec.serviceAccountName, namespace: 'mikrolb-system' }]);
    const role = one(docs, 'ClusterRole', binding.roleRef.name, RoleSchema);
    const granted = role.rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.map((res) => `${res}.${g}:${[...r.verbs].sort().join(',')}`)));
    expect(granted.sort()).toEqual([
      'endpointslices.discovery.k8s.io:get,list,watch', 'ipaddressclaims.mikrolb.de:get,list,watch', 'ipallocations.mikrolb.de:get,list,watch',
      'ippools.mikrolb.de:get,list,watch', 'namespaces.:get,list,watch', 'services.:get,list,watch',
    ]);
  });
});

describe('the Triggers', () => {
  const cases = ObjectKindSchema.options.flatMap((kind) => ChangeSchema.options.map((change) => ({ kind, change })));

  it.each(cases)('deliver $kind $change events to every function the bridge would invoke', ({ kind, change }) => {
    const wanted = ROUTES[kind][change].map((r) => r.fn);
    expect(deliveredTo({ type: `${EVENT_TYPE_PREFIX_RESOURCE}${change}`, kind })).toEqual(expect.arrayContaining(wanted));
  });

  it('send EndpointSlice events only to program (allocate and release stay scaled to zero)', () => {
    for (const change of ChangeSchema.options) {
      expect(deliveredTo({ type: `${EVENT_TYPE_PREFIX_RESOURCE}${change}`, kind: 'EndpointSlice' })).toEqual(['program']);
    }
  });

  it('send IPAddressClaim events, which the bridge turns into pool updates, as themselves to allocate and release (and program, which hears everything)', () => {
    for (const change of ChangeSchema.options) {
      expect(deliveredTo({ type: `${EVENT_TYPE_PREFIX_RESOURCE}${change}`, kind: 'IPAddressClaim' })).toEqual(['allocate', 'program', 'release']);
    }
  });

  it('deliver the PingSource\'s tick to every function, and all hang on the one Broker', () => {
    const ping = one(docs, 'PingSource', 'mikrolb-resync', PingSourceSchema);
    expect(ping.spec.sink.ref).toEqual({ apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'mikrolb' });
    expect(deliveredTo({ type: PING_TYPE })).toEqual([...FUNCTION_NAMES]);
    const triggers = ofKind(docs, 'Trigger', TriggerSchema);
    expect(new Set(triggers.map((t) => t.spec.broker))).toEqual(new Set(['mikrolb']));
    for (const t of triggers) {
      const target = one(docs, 'Service', t.spec.subscriber.ref.name, ApiServerSourceSchema.pick({ metadata: true }));
      expect(target.metadata.labels?.['networking.knative.dev/visibility'], t.metadata.name).toBe('cluster-local');
    }
  });

  it('carry events the functions accept: an ApiServerSource event in Resource mode', () => {
    const event = apiServerSourceEvent('Service', 'update', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' } });
    expect(parseCloudEvent(event)).toMatchObject({ ok: true, invocation: { type: 'object', change: 'update', ref: { kind: 'Service', name: 'web', namespace: 'shop' } } });
  });

  // A PingSource cannot change its type: the functions take its tick as a resync.
  it('carry a resync the functions accept: the PingSource tick', () => {
    const tick = {
      headers: {
        'ce-specversion': '1.0', 'ce-id': 'e1', 'ce-type': PING_TYPE,
        'ce-source': '/apis/v1/namespaces/mikrolb-system/pingsources/mikrolb-resync', 'content-type': 'application/json',
      },
      body: '{"reason":"resync"}',
    };
    expect(parseCloudEvent(tick)).toMatchObject({ ok: true, invocation: { type: 'resync' } });
  });
});

/** What Knative's ApiServerSource adapter sends in Resource mode (binary mode, extensions included). */
function apiServerSourceEvent(kind: string, change: string, object: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }) {
  return {
    headers: {
      'ce-specversion': '1.0', 'ce-id': 'a1b2', 'ce-source': 'https://10.96.0.1:443', 'ce-type': `${EVENT_TYPE_PREFIX_RESOURCE}${change}`,
      'ce-subject': `/apis/v1/namespaces/${object.metadata.namespace ?? ''}/services/${object.metadata.name}`,
      'ce-kind': kind, 'ce-name': object.metadata.name, 'ce-namespace': object.metadata.namespace ?? '', 'ce-apiversion': object.apiVersion,
      'content-type': 'application/json',
    },
    body: JSON.stringify(object),
  };
}

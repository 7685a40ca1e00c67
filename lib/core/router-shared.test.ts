import { describe, expect, it } from 'vitest';
import { IPAllocationSchema } from '../k8s/schemas.js';
import { applyPlanToState, ownerOf, stagePlan, type ServiceProgram } from '../router/index.js';
import { baseRouter, webService } from '../router/test-support.js';
import type { RouterState } from '../router/state.js';
import { createTracer } from '../../test/tracer/index.js';
import type { AdvertisementWant } from './program-model.js';
import { ownersOf, planOwner, type OwnerProgram } from './router-program.js';
import { sharedAddressOwner } from './sharing.js';

/**
 * Two Services sharing one address on the router: the address's own entries (advertisement, LB
 * list entry) belong to the address, each Service's jumps and dst-nat rules to the Service, so
 * each port reaches its own endpoints and re-planning one Service (or removing it) never
 * touches the other's rules or the address's entries.
 */
const LB = '192.0.2.80';
const SHARED = sharedAddressOwner(LB) ?? '';

function svc(uid: string, name: string, port: number, endpoint: string, shared = true): ServiceProgram {
  return webService({
    uid, name, snatEnabled: false, lbAddresses: [{ family: 'IPv4', address: LB }], snatAddresses: [],
    ports: [{ protocol: 'tcp', port, targetPort: port + 8000 }], endpoints: [{ family: 'IPv4', address: endpoint, ready: true }],
    ...(shared ? { addressOwners: { [LB]: SHARED } } : {}),
  });
}

function owner(s: ServiceProgram): OwnerProgram {
  const allocation = IPAllocationSchema.parse({ metadata: { name: `${s.name}-ipv4`, uid: `${s.uid}-a` }, spec: { ipFamily: 'IPv4' }, status: { phase: 'Allocated', address: LB } });
  const want: AdvertisementWant = { allocation, family: 'IPv4', address: LB, advertise: true, interfaceName: 'ether1', pool: 'lan' };
  return { uid: s.uid, service: s, adverts: [want] };
}

/** Plans and applies an owner as program does, stage by stage. */
function program(state: RouterState, p: OwnerProgram): RouterState {
  const { ops } = planOwner(p, state.menus);
  return stagePlan(ops).reduce(applyPlanToState, state);
}

function reach(state: RouterState, port: number): string {
  const t = createTracer(state).trace({ srcAddress: '203.0.113.7', srcPort: 40000, dstAddress: LB, dstPort: port, protocol: 'tcp', inInterface: 'ether1' });
  if (!t.ok) throw new Error(t.message);
  return t.natState.dstnat ? `${t.dstAddress}:${t.dstPort ?? ''}` : t.verdict;
}

const owned = (state: RouterState, uid: string): string[] =>
  Object.entries(state.menus).flatMap(([menu, es]) => es.filter((e) => { const o = ownerOf(e.comment); return o?.kind === 'service' && o.uid === uid; }).map((e) => `${menu} ${e.comment ?? ''}`));

const https = owner(svc('https-uid', 'https', 443, '10.0.0.11'));
const http = owner(svc('http-uid', 'http', 80, '10.0.0.12'));

describe('two Services sharing an address on the router', () => {
  it('each port reaches its own endpoints; the address is advertised and listed once, by the address', () => {
    const both = program(program(baseRouter(), https), http);
    expect([reach(both, 443), reach(both, 80)]).toEqual(['10.0.0.11:8443', '10.0.0.12:8080']);
    expect(owned(both, SHARED).sort()).toEqual([
      `/ip/address mikrolb:default:svc=${SHARED}:adv:${LB}`,
      `/ip/firewall/address-list mikrolb:default:svc=${SHARED}:lb-list:${LB}`,
    ]);
    // planning either again changes nothing: they agree on the address's entries
    expect(planOwner(https, both.menus).ops).toEqual([]);
    expect(planOwner(http, both.menus).ops).toEqual([]);
  });

  it("removing one Service's entries keeps the other's rules and the address's entries", () => {
    const both = program(program(baseRouter(), https), http);
    const left = program(both, { uid: https.uid, adverts: [] });
    expect(owned(left, https.uid)).toEqual([]);
    expect(owned(left, SHARED)).toEqual(owned(both, SHARED));
    expect(reach(left, 80)).toBe('10.0.0.12:8080');
    expect(reach(left, 443)).not.toBe('10.0.0.11:8443');
    // the address's owner goes on its own once nobody holds it
    const none = program(program(left, { uid: http.uid, adverts: [] }), { uid: SHARED, adverts: [] });
    expect(Object.values(none.menus).flat().filter((e) => (e.comment ?? '').includes(LB))).toEqual([]);
  });

  it('a Service that starts sharing hands its address entries to the address in place: their tags set, never removed and added (the address never leaves the router)', () => {
    const alone = owner(svc('https-uid', 'https', 443, '10.0.0.11', false));
    const before = program(baseRouter(), alone);
    expect(owned(before, SHARED)).toEqual([]);
    const entriesOf = (s: RouterState) => ['/ip/address', '/ip/firewall/address-list'].flatMap((m) => (s.menus[m] ?? []).filter((e) => e.address?.startsWith(LB)).map((e) => `${m} ${e['.id'] ?? ''} ${e.comment ?? ''}`));
    const handed = (from: RouterState, to: OwnerProgram) => planOwner(to, from.menus).ops.filter((op) => op.menu === '/ip/address' || op.menu === '/ip/firewall/address-list');
    const toShared = handed(before, https);
    expect(toShared.map((op) => `${op.op} ${op.menu}`).sort()).toEqual(['set /ip/address', 'set /ip/firewall/address-list']);
    const converted = program(before, https);
    expect(owned(converted, SHARED)).toHaveLength(2);
    expect(entriesOf(converted).map((e) => e.split(' ').slice(0, 2).join(' '))).toEqual(entriesOf(before).map((e) => e.split(' ').slice(0, 2).join(' ')));
    expect(reach(converted, 443)).toBe('10.0.0.11:8443');
  });

  it('a holder whose load balancing is off (SNAT only) keeps the address\'s LB list entry the others balance on', () => {
    const snatOnly = owner({ ...svc('snat-uid', 'snat', 25, '10.0.0.13'), lbEnabled: false, snatEnabled: true, snatAddresses: [{ family: 'IPv4', address: LB }] });
    const both = program(program(baseRouter(), https), snatOnly);
    expect(owned(both, SHARED).sort()).toEqual(owned(program(baseRouter(), https), SHARED).sort());
    expect(reach(both, 443)).toBe('10.0.0.11:8443');
    // they agree: neither undoes the other's write
    expect(planOwner(https, both.menus).ops).toEqual([]);
    expect(planOwner(snatOnly, both.menus).ops).toEqual([]);
  });

  it('an owner plans its own uid and the shared owners of its addresses', () => {
    expect(ownersOf(https)).toEqual(['https-uid', SHARED]);
    expect(ownersOf({ uid: 'x' })).toEqual(['x']);
  });
});

import { describe, expect, it } from 'vitest';
import type { IPAllocation } from '../k8s/schemas.js';
import { stateConditions } from './allocation-status.js';
import { ingressFor, ingressToWrite, serviceCondition } from './program-status.js';

/** Which failed allocation a PreferDualStack Service may go without (see functions/program/condition.test.ts for the whole run). */
const at = (conditions: ReturnType<typeof stateConditions>) => conditions.map((c) => ({ ...c, lastTransitionTime: '2026-01-01T00:00:00Z' }));
const ready = (name: string, spec: IPAllocation['spec'], address: string): IPAllocation => ({
  metadata: { name }, spec,
  status: { phase: 'Programmed', address, conditions: at(stateConditions({ kind: 'advertised', address, interfaceName: 'ether1' })) },
});
const failed = (name: string, spec: IPAllocation['spec'], message: string): IPAllocation => ({
  metadata: { name }, spec,
  status: { phase: 'Failed', conditions: at(stateConditions({ kind: 'notAllocated', reason: 'PoolExhausted', message })) },
});

const v4 = ready('ip-a', { ipFamily: 'IPv4' }, '192.0.2.15');
const v6 = failed('ip-b', { ipFamily: 'IPv6' }, 'No auto-assign IPv6 pool exists.');

describe('serviceCondition with an optional family', () => {
  it('without one (RequireDualStack, SingleStack), a failed family holds the Service back', () => {
    expect(serviceCondition([v4, v6])).toMatchObject({ status: 'False', reason: 'PoolExhausted' });
  });

  it('goes without the failed family allocation of the optional family', () => {
    expect(serviceCondition([v4, v6], { optionalFamily: 'IPv6' })).toMatchObject({ status: 'True', reason: 'SecondaryFamilyUnavailable' });
  });

  it('load balancing switched off: still says which family it goes without', () => {
    expect(serviceCondition([v4, v6], { optionalFamily: 'IPv6', lbDisabled: true })).toEqual({
      type: 'mikrolb.de/LoadBalancerReady', status: 'True', reason: 'LoadBalancingDisabled',
      message: '1 of 2 IPAllocation(s) are ready; the Service has no IPv6 address, which ipFamilyPolicy PreferDualStack allows (IPAllocation ip-b: No auto-assign IPv6 pool exists); load balancing is switched off (mikrolb.de/load-balancer-enabled: "false"), so no ingress is published.',
    });
  });

  it('an address or pool of that family named in the annotations stays required', () => {
    const named = failed('ip-c', { address: '2001:db8::20' }, 'Address 2001:db8::20 is not in any IPPool.');
    const pool = failed('ip-d', { poolName: 'public-v6' }, 'Pool public-v6 has no free address.');
    expect(serviceCondition([v4, named], { optionalFamily: 'IPv6' })).toMatchObject({ status: 'False', message: 'IPAllocation ip-c is not ready: Address 2001:db8::20 is not in any IPPool.' });
    expect(serviceCondition([v4, pool], { optionalFamily: 'IPv6' })).toMatchObject({ status: 'False', message: 'IPAllocation ip-d is not ready: Pool public-v6 has no free address.' });
  });

  it('is not ready with nothing else: the optional family alone does not make a Service', () => {
    expect(serviceCondition([v6], { optionalFamily: 'IPv6' })).toMatchObject({ status: 'False', reason: 'PoolExhausted' });
  });

  it('an allocation of that family not failed but waiting (for the router) is waited for', () => {
    const pending: IPAllocation = { metadata: { name: 'ip-b' }, spec: { ipFamily: 'IPv6' }, status: { phase: 'Allocated', address: '2001:db8::15', conditions: at(stateConditions({ kind: 'pending', address: '2001:db8::15', pool: 'v6' })) } };
    expect(serviceCondition([v4, pending], { optionalFamily: 'IPv6' })).toMatchObject({ status: 'False', reason: 'ProgrammingPending' });
  });
});

describe('ingressToWrite', () => {
  const wanted = [{ ip: '192.0.2.15', ipMode: 'Proxy' as const }];
  it('keeps what is stored when it says the same, also without the ipMode an older API server drops', () => {
    const stored = [{ ip: '192.0.2.15' }];
    expect(ingressToWrite(stored, wanted)).toBe(stored);
    expect(ingressToWrite([{ ip: '192.0.2.15', ipMode: 'Proxy' }], wanted)).toEqual(wanted);
  });

  it('writes the wanted ingress over another ipMode, another address, more or fewer entries', () => {
    for (const stored of [[{ ip: '192.0.2.15', ipMode: 'VIP' as const }], [{ ip: '192.0.2.16' }], [], [{ ip: '192.0.2.15' }, { ip: '192.0.2.16' }], [{ ip: '192.0.2.15', hostname: 'lb.example' }]]) {
      expect(ingressToWrite(stored, wanted)).toBe(wanted);
    }
    expect(ingressToWrite([{ ip: '192.0.2.15' }], [])).toEqual([]);
  });
});

/**
 * A dual-stack Service lists its primary family's address first, as its clusterIPs do (the first
 * of `spec.ipFamilies`): tools that read `ingress[0]` (and kubectl's EXTERNAL-IP column, which
 * lists them in order) get the Service's primary address, whatever the addresses' digits.
 */
describe('ingressFor', () => {
  const ips = (allocations: IPAllocation[], families: ('IPv4' | 'IPv6')[]) => ingressFor(allocations, families).map((i) => i.ip);
  const v4a = ready('ip-1', { ipFamily: 'IPv4' }, '203.0.113.9');
  const v6a = ready('ip-2', { ipFamily: 'IPv6' }, '2001:db8::9');

  it('the primary family first: IPv4 before IPv6 under [IPv4, IPv6], even when the IPv6 text sorts first', () => {
    expect(ips([v6a, v4a], ['IPv4', 'IPv6'])).toEqual(['203.0.113.9', '2001:db8::9']);
  });

  it('the primary family first: IPv6 before IPv4 under [IPv6, IPv4]', () => {
    expect(ips([v4a, ready('ip-3', { ipFamily: 'IPv6' }, 'fd00::9')], ['IPv6', 'IPv4'])).toEqual(['fd00::9', '203.0.113.9']);
  });

  it('within a family, in address order (not text order)', () => {
    const nine = ready('ip-4', { address: '192.0.2.9' }, '192.0.2.9');
    const ten = ready('ip-5', { address: '192.0.2.10' }, '192.0.2.10');
    expect(ips([ten, nine], ['IPv4'])).toEqual(['192.0.2.9', '192.0.2.10']);
  });

  it('only the Service\'s families, once each', () => {
    expect(ips([v4a, v6a, ready('ip-6', { address: '203.0.113.9' }, '203.0.113.9')], ['IPv4'])).toEqual(['203.0.113.9']);
  });
});

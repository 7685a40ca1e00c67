import { describe, expect, it } from 'vitest';
import { ServiceSchema } from '../k8s/core-objects.js';
import { allocationName, serviceIntent } from './service.js';

const classes = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };

function svc(spec: Record<string, unknown>, annotations: Record<string, string> = {}) {
  return ServiceSchema.parse({ metadata: { name: 'demo', namespace: 'default', uid: 'uid-1', annotations }, spec });
}
const lb = { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' };

describe('which Services MikroLB manages', () => {
  it.each([
    ['a LoadBalancer of our class', lb, {}, false, true],
    ['a LoadBalancer of another class', { type: 'LoadBalancer', loadBalancerClass: 'other' }, {}, false, false],
    ['a classless LoadBalancer without default mode', { type: 'LoadBalancer' }, {}, false, false],
    ['a classless LoadBalancer in default mode', { type: 'LoadBalancer' }, {}, true, true],
    ['a ClusterIP Service', { type: 'ClusterIP' }, {}, true, false],
    ['a ClusterIP Service with SNAT addresses', { type: 'ClusterIP' }, { 'mikrolb.de/snat-ips': '192.0.2.9' }, false, true],
    ['a ClusterIP Service with use-lb-ips only', { type: 'ClusterIP' }, { 'mikrolb.de/snat-ips': 'use-lb-ips' }, false, false],
    ['a LoadBalancer of another class with SNAT addresses', { type: 'LoadBalancer', loadBalancerClass: 'other' }, { 'mikrolb.de/snat-ips': '192.0.2.9' }, false, false],
    ['a classless LoadBalancer with SNAT addresses, default mode off', { type: 'LoadBalancer' }, { 'mikrolb.de/snat-ips': '192.0.2.9' }, false, false],
    ['a NodePort Service with SNAT addresses', { type: 'NodePort' }, { 'mikrolb.de/snat-ips': '192.0.2.9' }, false, true],
  ])('%s', (_what, spec, annotations, defaultClass, managed) => {
    expect(serviceIntent(svc(spec, annotations), { ...classes, defaultClass }).managed).toBe(managed);
  });

  it('does not judge the annotations of another controller\'s LoadBalancer', () => {
    const foreign = svc({ type: 'LoadBalancer', loadBalancerClass: 'other' }, { 'mikrolb.de/snat-ips': 'use-lb-ips, nonsense', 'mikrolb.de/load-balancer-enabled': 'no' });
    expect(serviceIntent(foreign, classes)).toMatchObject({ managed: false, allocations: [], problems: [] });
  });
});

describe('the IPAllocations a Service asks for', () => {
  it.each([
    ['one per family by default (IPv4)', lb, {}, [{ ipFamily: 'IPv4' }]],
    ['two for dual-stack', { ...lb, ipFamilies: ['IPv4', 'IPv6'] }, {}, [{ ipFamily: 'IPv4' }, { ipFamily: 'IPv6' }]],
    ['one per named pool', lb, { 'mikrolb.de/load-balancer-pools': 'a, b,a' }, [{ poolName: 'a' }, { poolName: 'b' }]],
    ['one per explicit address, canonicalised', lb, { 'mikrolb.de/load-balancer-ips': '192.0.2.1,2001:DB8::1' }, [{ address: '192.0.2.1' }, { address: '2001:db8::1' }]],
    ['SNAT-only addresses for a ClusterIP Service', { type: 'ClusterIP' }, { 'mikrolb.de/snat-ips': '198.51.100.1,2001:db8::9' }, [{ address: '198.51.100.1' }, { address: '2001:db8::9' }]],
    ['LB and SNAT on the same address as one allocation', lb, { 'mikrolb.de/load-balancer-ips': '192.0.2.1', 'mikrolb.de/snat-ips': '192.0.2.1' }, [{ address: '192.0.2.1' }]],
    ['use-lb-ips adds nothing', lb, { 'mikrolb.de/snat-ips': 'use-lb-ips' }, [{ ipFamily: 'IPv4' }]],
    ['explicit addresses and pools together, one per address and one per pool (as upstream)', lb,
      { 'mikrolb.de/load-balancer-ips': '192.0.2.1', 'mikrolb.de/load-balancer-pools': 'a,b' }, [{ address: '192.0.2.1' }, { poolName: 'a' }, { poolName: 'b' }]],
    ['every SNAT address of a family (the router uses the highest)', { type: 'ClusterIP' }, { 'mikrolb.de/snat-ips': '198.51.100.2, 198.51.100.9' }, [{ address: '198.51.100.2' }, { address: '198.51.100.9' }]],
    ['spec.loadBalancerIP', { ...lb, loadBalancerIP: '192.0.2.7' }, {}, [{ address: '192.0.2.7' }]],
    ['an empty spec.loadBalancerIP is not set', { ...lb, loadBalancerIP: '' }, {}, [{ ipFamily: 'IPv4' }]],
    ['empty load-balancer-ips and -pools are not set (as upstream)', lb, { 'mikrolb.de/load-balancer-ips': '', 'mikrolb.de/load-balancer-pools': ' ' }, [{ ipFamily: 'IPv4' }]],
    ['metallb.io/loadBalancerIPs', lb, { 'metallb.io/loadBalancerIPs': '192.0.2.7, 2001:db8::7' }, [{ address: '192.0.2.7' }, { address: '2001:db8::7' }]],
    ['metallb.universe.tf/loadBalancerIPs', lb, { 'metallb.universe.tf/loadBalancerIPs': '192.0.2.8' }, [{ address: '192.0.2.8' }]],
    ['sources naming the same addresses do not conflict', { ...lb, loadBalancerIP: '192.0.2.7' },
      { 'mikrolb.de/load-balancer-ips': '192.0.2.7', 'metallb.io/loadBalancerIPs': '192.0.2.7' }, [{ address: '192.0.2.7' }]],
    ['a MetalLB address beside a named pool', lb, { 'metallb.io/loadBalancerIPs': '192.0.2.7', 'mikrolb.de/load-balancer-pools': 'a' }, [{ address: '192.0.2.7' }, { poolName: 'a' }]],
  ])('%s', (_what, spec, annotations, wanted) => {
    const intent = serviceIntent(svc(spec, annotations), classes);
    expect(intent.problems).toEqual([]);
    expect(intent.allocations.map(({ address, poolName, ipFamily }) => ({ address, poolName, ipFamily }))).toEqual(
      wanted.map((w) => ({ address: undefined, poolName: undefined, ipFamily: undefined, ...w })));
  });

  it('marks an address used for LB and SNAT with both roles', () => {
    const intent = serviceIntent(svc(lb, { 'mikrolb.de/load-balancer-ips': '192.0.2.1', 'mikrolb.de/snat-ips': '192.0.2.1' }), classes);
    expect(intent.allocations[0]?.roles).toEqual({ lb: true, snat: true });
  });

  it('names allocations deterministically from uid, address, pool and family', () => {
    const a = serviceIntent(svc(lb), classes).allocations[0];
    expect(a?.name).toBe(allocationName('uid-1', { ipFamily: 'IPv4' }));
    expect(a?.name).toMatch(/^ip-[0-9a-f]{12}$/);
    expect(allocationName('uid-2', { ipFamily: 'IPv4' })).not.toBe(a?.name);
  });
});

describe('invalid annotation values', () => {
  it.each([
    ['a bad IP', { 'mikrolb.de/load-balancer-ips': '192.0.2.1,banana' }, 'banana', 1],
    ['a bad pool name', { 'mikrolb.de/load-balancer-pools': 'good,Bad_Pool' }, 'Bad_Pool', 1],
    ['a non-boolean enable flag', { 'mikrolb.de/load-balancer-enabled': 'yes' }, 'yes', 1],
  ])('%s is reported and the rest still applies', (_what, annotations, value, allocations) => {
    const intent = serviceIntent(svc(lb, annotations), classes);
    expect(intent.problems).toHaveLength(1);
    expect(intent.problems[0]?.value).toBe(value);
    expect(intent.problems[0]?.message).toContain(value);
    expect(intent.allocations).toHaveLength(allocations);
  });

  it.each([
    ['mikrolb.de/load-balancer-ips over metallb.io/loadBalancerIPs', {}, { 'mikrolb.de/load-balancer-ips': '192.0.2.1', 'metallb.io/loadBalancerIPs': '192.0.2.2' },
      '192.0.2.1', ['metallb.io/loadBalancerIPs is ignored because mikrolb.de/load-balancer-ips is set (and names other addresses)']],
    ['metallb.io over metallb.universe.tf and spec.loadBalancerIP', { loadBalancerIP: '192.0.2.4' },
      { 'metallb.io/loadBalancerIPs': '192.0.2.2', 'metallb.universe.tf/loadBalancerIPs': '192.0.2.3' }, '192.0.2.2', [
        'metallb.universe.tf/loadBalancerIPs is ignored because metallb.io/loadBalancerIPs is set (and names other addresses)',
        'spec.loadBalancerIP is ignored because metallb.io/loadBalancerIPs is set (and names other addresses)',
      ]],
    ['metallb.universe.tf over spec.loadBalancerIP', { loadBalancerIP: '192.0.2.4' }, { 'metallb.universe.tf/loadBalancerIPs': '192.0.2.3' },
      '192.0.2.3', ['spec.loadBalancerIP is ignored because metallb.universe.tf/loadBalancerIPs is set (and names other addresses)']],
  ])('explicit addresses in conflict: %s wins, the others are reported', (_what, spec, annotations, address, messages) => {
    const intent = serviceIntent(svc({ ...lb, ...spec }, annotations), classes);
    expect(intent.allocations.map((a) => a.address)).toEqual([address]);
    expect(intent.problems.map((p) => p.message)).toEqual(messages);
  });

  it('ignores explicit addresses from MetalLB or spec.loadBalancerIP on a Service that is not a LoadBalancer of our class', () => {
    const intent = serviceIntent(svc({ type: 'LoadBalancer', loadBalancerClass: 'other', loadBalancerIP: '192.0.2.4' }, { 'metallb.io/loadBalancerIPs': '192.0.2.2' }), classes);
    expect(intent).toMatchObject({ managed: false, allocations: [], problems: [] });
  });

  it('reports use-lb-ips on a Service without a load balancer', () => {
    const intent = serviceIntent(svc({ type: 'ClusterIP' }, { 'mikrolb.de/snat-ips': 'use-lb-ips' }), classes);
    expect(intent.problems.map((p) => p.annotation)).toEqual(['mikrolb.de/snat-ips']);
  });

  it('keeps the switches: load-balancer-enabled=false still allocates', () => {
    const intent = serviceIntent(svc(lb, { 'mikrolb.de/load-balancer-enabled': 'false', 'mikrolb.de/snat-enabled': 'false' }), classes);
    expect(intent).toMatchObject({ managed: true, lbEnabled: false, snatEnabled: false });
    expect(intent.allocations).toHaveLength(1);
  });
});

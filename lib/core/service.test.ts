import { describe, expect, it } from 'vitest';
import { ServiceSchema } from '../k8s/core-objects.js';
import { allocationName, annotationWarning, optionalFamily, serviceIntent } from './service.js';

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

describe('MetalLB’s address-pool, which is not read', () => {
  it.each(['metallb.io/address-pool', 'metallb.universe.tf/address-pool'])('%s alone: a family allocation, and the Service is told', (key) => {
    const intent = serviceIntent(svc(lb, { [key]: 'internal' }), classes);
    expect(intent.allocations.map((w) => w.ipFamily)).toEqual(['IPv4']);
    expect(intent.problems).toEqual([{ annotation: key, value: 'internal', message: `${key} is not read, so the address comes from an autoAssign pool; name the pool in mikrolb.de/load-balancer-pools` }]);
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
    ['load-balancer-ips and -pools of only commas are not set', lb, { 'mikrolb.de/load-balancer-ips': ' , ,', 'mikrolb.de/load-balancer-pools': ',' }, [{ ipFamily: 'IPv4' }]],
    ['a MetalLB address of only commas is not set: the next source is read', { ...lb, loadBalancerIP: '192.0.2.9' }, { 'metallb.io/loadBalancerIPs': ',' }, [{ address: '192.0.2.9' }]],
    ['MetalLB’s address-pool is no problem beside our pools', lb, { 'metallb.io/address-pool': 'internal', 'mikrolb.de/load-balancer-pools': 'internal-v4' }, [{ poolName: 'internal-v4' }]],
    ['MetalLB’s address-pool is no problem beside explicit addresses', lb, { 'metallb.io/address-pool': 'internal', 'metallb.io/loadBalancerIPs': '192.0.2.7' }, [{ address: '192.0.2.7' }]],
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

describe('bounds on what one Service can ask for', () => {
  const many = (n: number, item: (i: number) => string): string => Array.from({ length: n }, (_, i) => item(i)).join(',');
  const addr = (i: number): string => `198.51.${Math.floor(i / 256)}.${i % 256}`;

  it.each([
    ['20,000 bad snat-ips items', { type: 'ClusterIP' }, { 'mikrolb.de/snat-ips': many(20_000, (i) => `x${i}`) }, 'mikrolb.de/snat-ips'],
    ['5,000 bad load-balancer-ips items', lb, { 'mikrolb.de/load-balancer-ips': many(5_000, (i) => `x${i}`) }, 'mikrolb.de/load-balancer-ips'],
    ['40 pool names', lb, { 'mikrolb.de/load-balancer-pools': many(40, (i) => `pool-${i}`) }, 'mikrolb.de/load-balancer-pools'],
  ])('%s: only the first 16 items are looked at, and the rest is one problem', (_what, spec, annotations, key) => {
    const intent = serviceIntent(svc(spec, annotations), classes);
    expect(intent.problems.length).toBeLessThanOrEqual(17);
    expect(intent.problems).toContainEqual(expect.objectContaining({ annotation: key, message: expect.stringMatching(new RegExp(`^${key} has \\d+ items, more than the 16 allowed; only the first 16 are used$`)) }));
    expect(intent.allocations.length).toBeLessThanOrEqual(16);
  });

  it('254 addresses of a pool: 16 IPAllocations (the default), the rest named in one problem', () => {
    const intent = serviceIntent(svc(lb, { 'mikrolb.de/load-balancer-ips': many(254, (i) => `192.0.2.${i + 1}`) }), { ...classes, limits: { maxAnnotationItems: 1024, maxAllocations: 16 } });
    expect(intent.allocations.map((a) => a.address)).toEqual(Array.from({ length: 16 }, (_, i) => `192.0.2.${i + 1}`));
    expect(intent.problems).toEqual([{
      annotation: 'mikrolb.de/load-balancer-ips', value: expect.stringMatching(/^192\.0\.2\.17,192\.0\.2\.18,/),
      message: 'mikrolb.de/load-balancer-ips: the Service asks for 254 addresses, more than the 16 allowed per Service; only the first 16 are allocated, ignoring 192.0.2.17, 192.0.2.18, 192.0.2.19 and 235 more',
    }]);
  });

  it('with the default bounds, 16 load-balancer addresses and 4 further SNAT addresses: the note services.md shows', () => {
    const intent = serviceIntent(svc(lb, {
      'mikrolb.de/load-balancer-ips': many(16, (i) => `192.0.2.${i + 1}`), 'mikrolb.de/snat-ips': many(4, (i) => `192.0.2.${i + 101}`),
    }), classes);
    expect(intent.allocations).toHaveLength(16);
    expect(intent.problems.map((p) => p.message)).toEqual([
      'mikrolb.de/snat-ips: the Service asks for 20 addresses, more than the 16 allowed per Service; only the first 16 are allocated, ignoring 192.0.2.101, 192.0.2.102, 192.0.2.103 and 1 more',
    ]);
  });

  it('the allocation cap counts load-balancer addresses, pools and SNAT addresses together, SNAT last', () => {
    const intent = serviceIntent(svc(lb, {
      'mikrolb.de/load-balancer-ips': '192.0.2.1,192.0.2.2', 'mikrolb.de/load-balancer-pools': 'a', 'mikrolb.de/snat-ips': '192.0.2.2,198.51.100.1',
    }), { ...classes, limits: { maxAnnotationItems: 16, maxAllocations: 3 } });
    expect(intent.allocations.map((a) => a.address ?? a.poolName)).toEqual(['192.0.2.1', '192.0.2.2', 'a']);
    expect(intent.allocations[1]?.roles).toEqual({ lb: true, snat: true });
    expect(intent.problems).toEqual([expect.objectContaining({ annotation: 'mikrolb.de/snat-ips', value: '198.51.100.1' })]);
  });

  it('limits are configurable: 2 items and 1 allocation', () => {
    const intent = serviceIntent(svc({ type: 'ClusterIP' }, { 'mikrolb.de/snat-ips': many(5, addr) }), { ...classes, limits: { maxAnnotationItems: 2, maxAllocations: 1 } });
    expect(intent.allocations.map((a) => a.address)).toEqual([addr(0)]);
    expect(intent.problems.map((p) => p.message)).toEqual([
      'mikrolb.de/snat-ips has 5 items, more than the 2 allowed; only the first 2 are used',
      `mikrolb.de/snat-ips: the Service asks for 2 addresses, more than the 1 allowed per Service; only the first 1 are allocated, ignoring ${addr(1)}`,
    ]);
  });

  it('a Service within the limits has no problem', () => {
    const intent = serviceIntent(svc(lb, { 'mikrolb.de/load-balancer-ips': many(16, addr) }), classes);
    expect(intent.problems).toEqual([]);
    expect(intent.allocations).toHaveLength(16);
  });
});

describe('the one AnnotationInvalid note per Service', () => {
  const problem = (i: number) => ({ annotation: 'mikrolb.de/snat-ips', value: `x${i}`, message: `mikrolb.de/snat-ips: "x${i}" is not a valid IP address; ignoring it` });

  it('nothing to say without problems', () => {
    expect(annotationWarning([])).toBeUndefined();
  });

  it('one problem is its own message', () => {
    expect(annotationWarning([problem(0)])).toBe('mikrolb.de/snat-ips: "x0" is not a valid IP address; ignoring it');
  });

  it('several: the count and the first five', () => {
    expect(annotationWarning([0, 1, 2, 3, 4, 5, 6].map(problem))).toBe(
      `7 invalid annotation values: ${[0, 1, 2, 3, 4].map((i) => problem(i).message).join('; ')}; and 2 more`);
    expect(annotationWarning([problem(0), problem(1)])).toBe(`2 invalid annotation values: ${problem(0).message}; ${problem(1).message}`);
  });

  it('a long value is clipped, so the note stays short', () => {
    const note = annotationWarning([{ annotation: 'mikrolb.de/load-balancer-ips', value: '1'.repeat(100_000), message: `mikrolb.de/load-balancer-ips: "${'1'.repeat(100_000)}" is not a valid IP address; ignoring it` }]);
    expect(note).toHaveLength(240);
    expect(note?.endsWith('…')).toBe(true);
  });
});

describe('the family a Service can go without', () => {
  it.each([
    ['PreferDualStack: the second family', 'PreferDualStack', ['IPv4', 'IPv6'], 'IPv6'],
    ['PreferDualStack, IPv6 first: IPv4', 'PreferDualStack', ['IPv6', 'IPv4'], 'IPv4'],
    ['PreferDualStack in a single-stack cluster (one family): none', 'PreferDualStack', ['IPv4'], undefined],
    ['RequireDualStack: none', 'RequireDualStack', ['IPv4', 'IPv6'], undefined],
    ['SingleStack: none', 'SingleStack', ['IPv4'], undefined],
    ['no policy: none', undefined, ['IPv4', 'IPv6'], undefined],
  ])('%s', (_what, ipFamilyPolicy, ipFamilies, family) => {
    expect(optionalFamily(svc({ ...lb, ipFamilies, ...(ipFamilyPolicy ? { ipFamilyPolicy } : {}) }))).toBe(family);
  });
});

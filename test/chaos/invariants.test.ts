import { describe, expect, it } from 'vitest';
import { formatCounts, poolCounts, viewPools } from '../../lib/core/pools.js';
import { advertisementWants, serviceProgram } from '../../lib/core/program-model.js';
import { planOwner } from '../../lib/core/router-program.js';
import { allocationName, serviceIntent } from '../../lib/core/service.js';
import type { EndpointSlice, Service } from '../../lib/k8s/core-objects.js';
import { type IPAllocation, type IPPool, type LedgerEntry } from '../../lib/k8s/schemas.js';
import { FINALIZER, LABEL_SERVICE_NAME, LABEL_SERVICE_NAMESPACE, LABEL_SERVICE_UID } from '../../lib/k8s/keys.js';
import { applyPlanToState, ownerOf } from '../../lib/router/index.js';
import { checkInvariants, type World } from './invariants.js';
import { CHAOS_ROUTER, foreignEntries, OTHER_CLUSTER } from './router-seed.js';
import { NAMESPACE, OUR_CLASS } from './shapes.js';

// The chaos suite passes when this checker finds nothing, so first prove it finds each kind of damage.
const CLASSES = { loadBalancerClass: OUR_CLASS, defaultClass: false };
const T = '2026-01-01T00:00:00Z';
const ready = (reason: string) => ({ type: 'Ready', status: 'True' as const, reason, message: 'ok', lastTransitionTime: T });

function pool(ledger: LedgerEntry[]): IPPool {
  const p: IPPool = { metadata: { name: 'p', uid: 'pool-uid', creationTimestamp: T }, spec: { ipFamily: 'IPv4', addresses: ['198.18.40.100-198.18.40.139'], autoAssign: true, avoidBuggyIPs: true, advertise: true } };
  const [view] = viewPools([p]);
  if (!view) throw new Error('no view');
  return { ...p, status: { ...formatCounts(poolCounts(view, ledger)), allocations: ledger } };
}

function goodWorld(): World {
  const svc: Service = {
    metadata: { name: 'web', namespace: NAMESPACE, uid: 'svc-1', finalizers: [FINALIZER] },
    spec: { type: 'LoadBalancer', loadBalancerClass: OUR_CLASS, ipFamilies: ['IPv4'], ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }] },
    status: {
      loadBalancer: { ingress: [{ ip: '198.18.40.100', ipMode: 'Proxy' }] },
      conditions: [{ type: 'mikrolb.de/LoadBalancerReady', status: 'True', reason: 'Ready', message: 'ok', lastTransitionTime: T }],
    },
  };
  const name = allocationName('svc-1', { ipFamily: 'IPv4' });
  const alloc: IPAllocation = {
    metadata: { name, uid: 'alloc-1', labels: { [LABEL_SERVICE_UID]: 'svc-1', [LABEL_SERVICE_NAME]: 'web', [LABEL_SERVICE_NAMESPACE]: NAMESPACE } },
    spec: { ipFamily: 'IPv4' },
    status: { phase: 'Programmed', address: '198.18.40.100', conditions: [ready('AllocatedAndProgrammed')] },
  };
  const slice: EndpointSlice = {
    metadata: { name: 'web-a', namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.244.0.10'], conditions: { ready: true } }], ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
  };
  const pools = [pool([{ address: '198.18.40.100', allocationName: name, allocationUID: 'alloc-1', reservedAt: T }])];
  const intent = serviceIntent(svc, CLASSES);
  const { ops } = planOwner({ uid: 'svc-1', service: serviceProgram(svc, intent, [alloc], [slice]), adverts: advertisementWants([alloc], pools) }, CHAOS_ROUTER.menus);
  const router = applyPlanToState(CHAOS_ROUTER, ops).menus;
  const foreign = foreignEntries(CHAOS_ROUTER);
  return { services: [svc], slices: [slice], allocations: [alloc], pools, router, foreignBefore: foreign, foreignNow: foreign };
}

const found = (w: World): string[] => [...new Set(checkInvariants(w, CLASSES).map((v) => v.invariant))];

describe('the chaos invariants checker', () => {
  it('finds nothing wrong with a converged world', () => {
    expect(checkInvariants(goodWorld(), CLASSES)).toEqual([]);
  });

  it('starts from a router a second cluster shares: its Service and global rules, none of them ours, none a leak', () => {
    const lab = Object.values(CHAOS_ROUTER.menus).flat().filter((e) => ownerOf(e.comment)?.cluster === OTHER_CLUSTER);
    expect(lab.filter((e) => ownerOf(e.comment)?.kind === 'service').length).toBeGreaterThanOrEqual(5);
    expect(lab.filter((e) => ownerOf(e.comment)?.kind === 'global').length).toBeGreaterThanOrEqual(5);
    expect(lab.some((e) => e.address === '198.18.42.77/32')).toBe(true);
    for (const e of lab) expect(foreignEntries(CHAOS_ROUTER)).toContain(e.comment ?? '');
  });

  it.each<[string, (w: World) => World, string[]]>([
    ['an address held by two allocations', (w) => ({ ...w, allocations: [...w.allocations, ...w.allocations.map((a) => ({ ...a, metadata: { ...a.metadata, name: 'ip-twin', uid: 'alloc-2', labels: {} } }))] }), ['unique-address', 'ledger']],
    ['a ledger entry of a deleted allocation', (w) => ({ ...w, pools: [pool([...(w.pools[0]?.status?.allocations ?? []), { address: '198.18.40.101', allocationName: 'ip-gone', allocationUID: 'gone' }])] }), ['ledger']],
    ['pool counts that do not match the ledger', (w) => ({ ...w, pools: w.pools.map((p) => ({ ...p, status: { ...p.status, freeAddresses: '40' } })) }), ['ledger']],
    ['an ingress that is not the ready allocation', (w) => ({ ...w, services: w.services.map((s) => ({ ...s, status: { ...s.status, loadBalancer: { ingress: [] } } })) }), ['service-status']],
    ['a router entry of a Service that is gone', (w) => ({ ...w, router: { ...w.router, '/ip/firewall/nat': [...(w.router['/ip/firewall/nat'] ?? []), { '.id': '*FFF0', chain: 'mikrolb-lb', action: 'return', comment: 'mikrolb:svc=gone-uid:lb' }] } }), ['router-leak']],
    ['a missing router entry', (w) => ({ ...w, router: { ...w.router, '/ip/address': (w.router['/ip/address'] ?? []).filter((e) => ownerOf(e.comment)?.kind !== 'service') } }), ['router-plan']],
    ['a changed foreign entry', (w) => ({ ...w, foreignNow: w.foreignNow.replace('defconf: masquerade', 'defconf: masquerade!') }), ['foreign-entries']],
    ['an entry of the other cluster removed', (w) => ({ ...w, foreignNow: foreignEntries({ version: '7.19.1', menus: { ...w.router, '/ip/firewall/nat': (w.router['/ip/firewall/nat'] ?? []).filter((e) => !(e.comment ?? '').startsWith(`mikrolb:${OTHER_CLUSTER}:svc=`)) } }) }), ['foreign-entries']],
    ['an allocation left Failed although its pool has room', (w) => ({ ...w, allocations: [...w.allocations, { metadata: { name: 'ip-res', uid: 'res-1' }, spec: { poolName: 'p' }, status: { phase: 'Failed', conditions: [{ ...ready('PoolExhausted'), status: 'False' }] } }] }), ['allocation-starved']],
    ['an object stuck in deletion', (w) => ({ ...w, allocations: w.allocations.map((a) => ({ ...a, metadata: { ...a.metadata, deletionTimestamp: T, finalizers: [FINALIZER] } })) }), ['stuck-deletion']],
  ])('finds %s', (_what, damage, invariants) => {
    expect(found(damage(goodWorld()))).toEqual(expect.arrayContaining(invariants));
  });
});

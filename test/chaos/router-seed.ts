import { advertisementWants, serviceProgram } from '../../lib/core/program-model.js';
import { planOwner } from '../../lib/core/router-program.js';
import { serviceIntent } from '../../lib/core/service.js';
import type { EndpointSlice, Service } from '../../lib/k8s/core-objects.js';
import type { IPAllocation, IPPool } from '../../lib/k8s/schemas.js';
import { applyPlanToState, DEFAULT_CLUSTER, ownerOf } from '../../lib/router/index.js';
import type { RouterState } from '../../lib/router/state.js';
import { OUR_CLASS } from './shapes.js';

/** The cluster the chaos run's functions belong to (they set no MIKROLB_CLUSTER_NAME). */
export const CHAOS_CLUSTER = DEFAULT_CLUSTER;
/** A second installation sharing the router: its entries must come through the storm untouched. */
export const OTHER_CLUSTER = 'lab';

/** A small office's configuration in every menu MikroLB writes, with foreign entries whose comments merely mention mikrolb. */
const OFFICE: RouterState = {
  version: '7.19.1',
  menus: {
    '/interface': [
      { '.id': '*1', name: 'ether1', type: 'ether' }, { '.id': '*2', name: 'ether2', type: 'ether' },
      { '.id': '*3', name: 'bridge', type: 'bridge' },
    ],
    '/ip/address': [
      { '.id': '*10', address: '198.18.40.1/24', interface: 'ether1' },
      { '.id': '*11', address: '10.244.0.1/16', interface: 'bridge' },
      { '.id': '*12', address: '198.18.41.254/24', interface: 'ether2', comment: 'mikrolb: hand-made, no owner tag' },
      // a second address of the router's inside chaos-v4a (and chaos-v6 below): never programmed,
      // an auto-assigned holder moves off it (AddressInUseByRouter)
      { '.id': '*16', address: '198.18.40.105/24', interface: 'ether1', comment: 'vrrp spare' },
    ],
    '/ipv6/address': [
      { '.id': '*13', address: '2001:db8:4040::1/64', interface: 'ether1', advertise: 'false' },
      { '.id': '*17', address: '2001:db8:4040::105/64', interface: 'ether1', advertise: 'false' },
      { '.id': '*14', address: 'fd00:244::1/64', interface: 'bridge', advertise: 'false' },
    ],
    '/ip/route': [{ '.id': '*15', 'dst-address': '198.18.42.0/24', gateway: 'ether2' }],
    '/ip/firewall/nat': [
      { '.id': '*20', chain: 'srcnat', action: 'masquerade', 'out-interface': 'ether1', comment: 'defconf: masquerade' },
      { '.id': '*21', chain: 'dstnat', action: 'dst-nat', protocol: 'tcp', 'dst-port': '2222', 'to-addresses': '10.244.9.9', 'to-ports': '22', comment: 'my mikrolb notes: ssh forward' },
      { '.id': '*22', chain: 'dstnat', action: 'dst-nat', protocol: 'udp', 'dst-port': '5353', 'to-addresses': '10.244.9.10', comment: 'mikrolb:svc=' },
    ],
    '/ip/firewall/filter': [
      { '.id': '*30', chain: 'input', action: 'accept', 'connection-state': 'established,related', comment: 'defconf: accept established' },
      { '.id': '*31', chain: 'forward', action: 'drop', 'connection-state': 'invalid', comment: 'mikrolb-old leftover, not ours' },
      { '.id': '*32', chain: 'forward', action: 'accept', 'in-interface': 'bridge' },
    ],
    '/ip/firewall/mangle': [
      { '.id': '*33', chain: 'prerouting', action: 'mark-connection', 'new-connection-mark': 'office', 'in-interface': 'ether2', comment: 'office marks' },
    ],
    '/ip/firewall/address-list': [
      { '.id': '*40', list: 'trusted', address: '10.244.0.0/16', comment: 'mikrolb' },
      { '.id': '*41', list: 'mikrolb-lb', address: '203.0.113.7', comment: 'someone else put this here' },
    ],
    '/ipv6/firewall/filter': [
      { '.id': '*50', chain: 'input', action: 'accept', protocol: 'icmpv6', comment: 'defconf: accept ICMPv6' },
    ],
    '/ipv6/firewall/nat': [
      { '.id': '*51', chain: 'srcnat', action: 'masquerade', 'out-interface': 'ether1', comment: 'mikrolb:global' },
    ],
    '/ipv6/firewall/address-list': [{ '.id': '*52', list: 'trusted6', address: 'fd00:244::/64' }],
  },
};

/**
 * What the other cluster (`lab`) programmed for one Service of its own, 198.18.42.77:80 → two
 * pods, with its global rules: laid out by the same planner, tagged `mikrolb:lab:…`.
 */
function withOtherCluster(base: RouterState): RouterState {
  const T = '2026-01-01T00:00:00Z';
  const uid = 'lab-svc-0001';
  const svc: Service = {
    metadata: { name: 'intranet', namespace: 'lab', uid },
    spec: { type: 'LoadBalancer', loadBalancerClass: OUR_CLASS, ipFamilies: ['IPv4'], ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }] },
  };
  const alloc: IPAllocation = {
    metadata: { name: 'lab-intranet-ipv4', uid: 'lab-alloc-0001', labels: { 'mikrolb.de/service-uid': uid } },
    spec: { ipFamily: 'IPv4' },
    status: { phase: 'Programmed', address: '198.18.42.77' },
  };
  const pool: IPPool = { metadata: { name: 'lab-pool', uid: 'lab-pool-uid', creationTimestamp: T }, spec: { ipFamily: 'IPv4', addresses: ['198.18.42.64/27'], autoAssign: true, avoidBuggyIPs: true, advertise: true, interfaceName: 'ether2' } };
  const slice: EndpointSlice = {
    metadata: { name: 'intranet-a', namespace: 'lab', labels: { 'kubernetes.io/service-name': 'intranet' } },
    addressType: 'IPv4', endpoints: ['10.244.7.10', '10.244.7.11'].map((a) => ({ addresses: [a], conditions: { ready: true } })), ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
  };
  const intent = serviceIntent(svc, { loadBalancerClass: OUR_CLASS, defaultClass: false });
  const program = { uid, service: serviceProgram(svc, intent, [alloc], [slice], new Set()), adverts: advertisementWants([alloc], [pool]), cluster: OTHER_CLUSTER };
  return applyPlanToState(base, planOwner(program, base.menus).ops);
}

/** The router the chaos run starts from: the office, and the other cluster's entries. */
export const CHAOS_ROUTER: RouterState = withOtherCluster(OFFICE);

/**
 * Every entry the chaos cluster does not own (no well-formed `mikrolb:` owner tag, or another
 * cluster's), menu by menu, as one deterministic text; menus left without such entries are skipped.
 */
export function foreignEntries(state: RouterState): string {
  const menus = Object.entries(state.menus)
    .map(([menu, entries]) => [menu, entries.filter((e) => ownerOf(e.comment)?.cluster !== CHAOS_CLUSTER)] as const)
    .filter(([, entries]) => entries.length > 0)
    .sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify(menus);
}

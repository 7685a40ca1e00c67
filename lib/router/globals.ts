import type { IPFamily } from '../ip/index.js';
import { firewallMenu, type DesiredMenus } from './menus.js';
import { INPUT_CHAIN, LB_CHAIN, LB_CONNECTION_MARK, LB_LIST, SNAT_CHAIN, globalComment } from './names.js';

/**
 * The rules every Service of a family shares (tabled in LAYOUT.md). Each goes FIRST in its
 * built-in chain (the planner moves only our rules, so foreign rules keep their relative order):
 *
 * - filter/input: traffic to an LB address that still reaches input was not dst-natted (a
 *   port no Service serves, a Service without ready endpoints, or a source outside a Service's
 *   loadBalancerSourceRanges). ICMP is accepted so the address still answers ping and, for
 *   IPv6, neighbour discovery; then a jump to `mikrolb-input`, where a Service with source
 *   ranges drops what its gate turned away (silently, as kube-proxy does); TCP gets a reset and
 *   everything else port-unreachable, so clients fail fast and the router's own services
 *   (winbox, ssh, ...) are never reachable on an LB address. First, because a foreign
 *   "accept from LAN" would otherwise expose them.
 * - filter/forward: accept NEW connections that mangle marked and nat dst-natted: routers
 *   whose forward chain drops WAN traffic by default still pass LB traffic. Later packets
 *   are left to the router's own established/related handling, so fasttrack keeps working.
 * - mangle/prerouting: mark new connections to LB addresses (before dstnat changes the
 *   destination) so forward can recognise them after dst-nat; passthrough keeps foreign
 *   mangle rules running.
 * - nat/dstnat: jump to `mikrolb-lb` for LB addresses. First, so a foreign port forward for
 *   the same address cannot steal the traffic (the upstream guide asks users to do this by hand).
 * - nat/srcnat: jump to `mikrolb-snat`. First, so a foreign masquerade does not win over a
 *   Service's SNAT address.
 */
export function globalEntries(family: IPFamily): DesiredMenus {
  const icmp = family === 'IPv4' ? 'icmp' : 'icmpv6';
  const toLb = { 'dst-address-list': LB_LIST };
  return {
    [firewallMenu(family, 'filter')]: [
      { chain: 'input', action: 'accept', protocol: icmp, ...toLb, comment: globalComment('filter-input-accept-icmp') },
      { chain: 'input', action: 'jump', 'jump-target': INPUT_CHAIN, ...toLb, comment: globalComment('filter-input-jump-gate') },
      {
        chain: 'input', action: 'reject', 'reject-with': 'tcp-reset', protocol: 'tcp', ...toLb,
        comment: globalComment('filter-input-reject-tcp'),
      },
      {
        chain: 'input', action: 'reject', 'reject-with': 'icmp-port-unreachable', ...toLb,
        comment: globalComment('filter-input-reject-other'),
      },
      {
        chain: 'forward', action: 'accept', 'connection-state': 'new', 'connection-nat-state': 'dstnat',
        'connection-mark': LB_CONNECTION_MARK, comment: globalComment('filter-forward-accept-lb'),
      },
    ],
    [firewallMenu(family, 'mangle')]: [
      {
        chain: 'prerouting', action: 'mark-connection', 'new-connection-mark': LB_CONNECTION_MARK, passthrough: 'true',
        'connection-state': 'new', ...toLb, comment: globalComment('mangle-prerouting-mark-lb'),
      },
    ],
    [firewallMenu(family, 'nat')]: [
      { chain: 'dstnat', action: 'jump', 'jump-target': LB_CHAIN, ...toLb, comment: globalComment('nat-dstnat-jump-lb') },
      { chain: 'srcnat', action: 'jump', 'jump-target': SNAT_CHAIN, comment: globalComment('nat-srcnat-jump-snat') },
    ],
  };
}

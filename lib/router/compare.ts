import { parseAddress } from '../ip/index.js';
import type { RouterEntry } from './state.js';
import type { DesiredEntry } from './menus.js';

/**
 * Comparing an existing entry (as the router prints it) with a desired one, as wire strings.
 * Read-only and derived properties are ignored; a property one side lacks counts as its
 * RouterOS default, so `disabled=false` printed and absent from the desired entry agree, and
 * one printed empty without a known default counts as unset. A printed property without a
 * known default that is not one of the menu's behaviour-changing ones (BEHAVIOUR) is ignored:
 * a release that starts printing a new default property must not make every run remove and
 * re-add our entries.
 */

/** How an existing entry becomes the desired one. */
export type Diff =
  /** `ignored`: printed properties without a known default that change nothing (see BEHAVIOUR). */
  | { kind: 'same'; ignored?: string[] }
  | { kind: 'set'; changes: Record<string, string>; ignored?: string[] }
  /** A behaviour-changing property must go and has no default to set it to: remove and add again. */
  | { kind: 'replace' };

const READ_ONLY = new Set([
  '.id', '.nextid', '.about', 'dynamic', 'invalid', 'bytes', 'packets', 'creation-time', 'network', 'actual-interface',
  'active', 'running', 'slave', 'deprecated', 'link-local', 'global', 'immediate-gw',
  // the address's VRF (its interface's), printed on addresses since 7.21 and not writable there
  'vrf',
]);

const COMMON_DEFAULTS: Readonly<Record<string, string>> = { disabled: 'false' };
const RULE_DEFAULTS: Readonly<Record<string, string>> = { action: 'accept', log: 'false', 'log-prefix': '' };
/**
 * Printed on every IPv6 address: `auto-link-local=true` since 7.18, `from-pool-policy=recommended`
 * since 7.23 (community.routeros `_api_data.py`, PR #469: how an address takes its prefix from a
 * pool; ours take none).
 */
const IPV6_ADDRESS_DEFAULTS: Readonly<Record<string, string>> = {
  'eui-64': 'false', 'no-dad': 'false', 'auto-link-local': 'true', 'from-pool-policy': 'recommended',
};
/**
 * Per menu kind, the properties that change what an entry matches or does: one of these printed
 * on our entry without a known default (a matcher added by hand, narrowing our dst-nat rule) means
 * the entry is removed and added again; any other such property (a default a newer release
 * prints, like 7.21's `vrf`) is ignored. Rule menus: every matcher and action parameter of
 * RouterOS v7's filter, nat, mangle and raw (help.mikrotik.com Filter/NAT/Mangle;
 * community.routeros `_api_data.py`, 7.23); a menu without a list counts every property.
 */
const BEHAVIOUR: readonly { menu: RegExp; properties: ReadonlySet<string> }[] = [
  {
    menu: /^\/(ip|ipv6)\/firewall\/(filter|nat|mangle|raw)$/,
    properties: new Set([
      'chain', 'action', 'disabled', 'log', 'log-prefix',
      // matchers
      'src-address', 'dst-address', 'src-address-list', 'dst-address-list', 'src-address-type', 'dst-address-type',
      'src-prefix', 'dst-prefix', 'src-port', 'dst-port', 'port', 'protocol', 'src-mac-address',
      'in-interface', 'out-interface', 'in-interface-list', 'out-interface-list',
      'in-bridge-port', 'out-bridge-port', 'in-bridge-port-list', 'out-bridge-port-list', 'in-bridge', 'out-bridge',
      'connection-state', 'connection-nat-state', 'connection-type', 'connection-mark', 'packet-mark', 'routing-mark',
      'routing-table', 'connection-bytes', 'connection-limit', 'connection-rate', 'layer7-protocol', 'content', 'tls-host',
      'tcp-flags', 'tcp-mss', 'icmp-options', 'ipv4-options', 'headers', 'ipsec-policy', 'hotspot', 'limit', 'dst-limit',
      'nth', 'random', 'per-connection-classifier', 'psd', 'p2p', 'time', 'fragment', 'ingress-priority', 'priority',
      'dscp', 'tos', 'ttl', 'hop-limit', 'packet-size', 'realm',
      // action parameters
      'to-addresses', 'to-address', 'to-ports', 'same-not-by-dst', 'randomise-ports', 'jump-target', 'reject-with',
      'new-connection-mark', 'new-packet-mark', 'new-routing-mark', 'new-dscp', 'new-mss', 'new-ttl', 'new-hop-limit',
      'new-priority', 'passthrough', 'route-dst', 'sniff-id', 'sniff-target', 'sniff-target-port', 'address-list',
      'address-list-timeout', 'hw-offload', 'socks5-server', 'socks5-port', 'socksify-service',
    ]),
  },
  { menu: /^\/(ip|ipv6)\/firewall\/address-list$/, properties: new Set(['list', 'address', 'timeout', 'disabled']) },
  {
    // `from-pool`: the address comes from a pool. Not listed: `auto-link-local` (the interface's automatic
    // link-local address, not our host address) and `from-pool-policy` (ours take from no pool), both set
    // back to their known defaults all the same; `network` and `vrf` are read-only (READ_ONLY).
    menu: /^\/(ip|ipv6)\/address$/,
    properties: new Set(['address', 'interface', 'disabled', 'advertise', 'eui-64', 'no-dad', 'from-pool']),
  },
];

/** Whether `property` changes what an entry of `menu` matches or does (unknown menus: every property). */
export function changesBehaviour(menu: string, property: string): boolean {
  const kind = BEHAVIOUR.find((k) => k.menu.test(menu));
  return kind === undefined || kind.properties.has(property);
}

/** Mangle actions after which the router prints `passthrough=true` unless told otherwise. */
const PASSTHROUGH_ACTIONS = ['mark-connection', 'mark-packet', 'mark-routing', 'change-dscp', 'change-mss', 'change-ttl'];

export function isReadOnly(property: string): boolean {
  return READ_ONLY.has(property);
}

/** What the router shows for a property the entry leaves unset, when it is known. */
export function defaultOf(menu: string, property: string, entry: Readonly<Record<string, string>>): string | undefined {
  const common = COMMON_DEFAULTS[property];
  if (common !== undefined) return common;
  if (menu.endsWith('/firewall/filter') || menu.endsWith('/firewall/nat') || menu.endsWith('/firewall/mangle')) {
    if (property === 'passthrough' && menu.endsWith('/mangle')) {
      return PASSTHROUGH_ACTIONS.includes(entry.action ?? '') ? 'true' : undefined;
    }
    return RULE_DEFAULTS[property];
  }
  if (menu === '/ipv6/address') {
    if (property === 'advertise') return entry.address?.endsWith('/64') === true ? 'true' : 'false';
    return IPV6_ADDRESS_DEFAULTS[property];
  }
  return undefined;
}

const BOOLEAN: Readonly<Record<string, string>> = { yes: 'true', true: 'true', no: 'false', false: 'false' };

function sameValue(a: string | undefined, b: string | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  const boolA = BOOLEAN[a];
  if (boolA !== undefined) return boolA === BOOLEAN[b];
  const addressA = ipv6Key(a);
  return addressA !== undefined && addressA === ipv6Key(b);
}

/**
 * An IPv6 address or `address/prefix` as one key per value. IPv6 has several text forms
 * (RFC 5952 leaves an IPv4-mapped address to taste: MikroLB writes `::ffff:192.0.2.7`, a
 * router may print `::ffff:c000:207`), and a router printing another form than it was given
 * must not make every run rewrite the entry. A host given bare may come back with its `/128`
 * (one address either way), so a `/128` counts as no prefix.
 */
function ipv6Key(text: string): string | undefined {
  if (!text.includes(':')) return undefined;
  const slash = text.indexOf('/');
  const host = parseAddress(slash < 0 ? text : text.slice(0, slash));
  const prefix = slash < 0 || text.slice(slash) === '/128' ? '' : text.slice(slash);
  return host.ok && host.family === 'IPv6' ? `${host.value}${prefix}` : undefined;
}

export function diffEntry(menu: string, existing: RouterEntry, desired: DesiredEntry): Diff {
  const changes: Record<string, string> = {};
  const ignored: string[] = [];
  for (const [property, value] of Object.entries(desired)) {
    const current = existing[property] ?? defaultOf(menu, property, existing);
    if (!sameValue(current, value)) changes[property] = value;
  }
  for (const [property, value] of Object.entries(existing)) {
    if (isReadOnly(property) || Object.hasOwn(desired, property)) continue;
    const fallback = defaultOf(menu, property, desired);
    if (sameValue(value, fallback)) continue;
    // printed empty is unset (every IPv6 address prints `from-pool=`; RouterOS 7.15 began
    // printing stored empty values)
    if (fallback === undefined && value === '') continue;
    if (fallback === undefined && !changesBehaviour(menu, property)) {
      ignored.push(property);
      continue;
    }
    if (fallback === undefined) return { kind: 'replace' };
    changes[property] = fallback;
  }
  const seen = ignored.length === 0 ? {} : { ignored };
  return Object.keys(changes).length === 0 ? { kind: 'same', ...seen } : { kind: 'set', changes, ...seen };
}

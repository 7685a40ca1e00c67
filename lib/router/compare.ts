import { parseAddress } from '../ip/index.js';
import type { RouterEntry } from './state.js';
import type { DesiredEntry } from './menus.js';

/**
 * Comparing an existing entry (as the router prints it) with a desired one, as wire strings.
 * Read-only and derived properties are ignored; a property one side lacks counts as its
 * RouterOS default, so `disabled=false` printed and absent from the desired entry agree, and
 * one printed empty without a known default counts as unset.
 */

/** How an existing entry becomes the desired one. */
export type Diff =
  | { kind: 'same' }
  | { kind: 'set'; changes: Record<string, string> }
  /** A property must go and has no default to set it to: remove and add again. */
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
    if (fallback === undefined) return { kind: 'replace' };
    changes[property] = fallback;
  }
  return Object.keys(changes).length === 0 ? { kind: 'same' } : { kind: 'set', changes };
}

import { familyBits, formatAddress, parseAddress, type IPFamily } from '../ip/index.js';
import type { RouterEntry } from './state.js';
import { firewallMenu, type DesiredMenus } from './menus.js';
import { DEFAULT_CLUSTER, HAIRPIN_ROLE, LB_CONNECTION_MARK, globalComment, ownerOf, parseTag } from './names.js';

/** fe80::/10: every IPv6 interface has one; no load-balanced connection comes from it. */
const LINK_LOCAL = 0xfe80n >> 6n;
const IPV4_MAPPED = 0xffffn;

/**
 * The router's connected networks of a family: the networks of its own `/ip/address`
 * (`/ipv6/address`) entries, host addresses, IPv6 link-local addresses and MikroLB's
 * advertisements left out, in numeric order. Disabled or invalid addresses connect nothing.
 */
export function connectedNetworks(family: IPFamily, addresses: readonly RouterEntry[]): string[] {
  const bits = familyBits(family);
  const networks = new Map<string, bigint>();
  for (const e of addresses) {
    if (e.disabled === 'true' || e.invalid === 'true' || ownerOf(e.comment) !== undefined) continue;
    const [base = '', length = ''] = (e.address ?? '').split('/');
    const parsed = parseAddress(base);
    const prefix = Number(length);
    if (!parsed.ok || parsed.family !== family || length === '' || !Number.isInteger(prefix) || prefix <= 0 || prefix >= bits) continue;
    // link-local, and IPv4-mapped (::ffff:0:0/96: IPv6 traffic never hairpins through it, and its
    // dotted network is no name a hairpin rule's tag takes)
    if (family === 'IPv6' && (parsed.value >> 118n === LINK_LOCAL || parsed.value >> 32n === IPV4_MAPPED)) continue;
    const shift = BigInt(bits - prefix);
    const network = (parsed.value >> shift) << shift;
    networks.set(`${formatAddress(family, network)}/${prefix}`, network);
  }
  return [...networks].sort(([a, x], [b, y]) => (x < y ? -1 : x > y ? 1 : a.localeCompare(b))).map(([text]) => text);
}

/**
 * The networks the hairpin rules of `cluster` on the router cover (from their own `src-address`),
 * each once: two program runs racing may both have added a rule for one network, and planning
 * that network twice would be refused, keeping the duplicate forever instead of removing it.
 */
export function hairpinNetworks(natEntries: readonly RouterEntry[], cluster: string = DEFAULT_CLUSTER): string[] {
  const hairpin = (e: RouterEntry): boolean => {
    const tag = parseTag(e.comment);
    return tag?.owner.kind === 'global' && tag.owner.cluster === cluster && tag.key.startsWith(HAIRPIN_ROLE);
  };
  return [...new Set(natEntries.filter((e) => hairpin(e) && e['src-address'] !== undefined).map((e) => e['src-address'] ?? ''))];
}

/**
 * Hairpin NAT, one rule per connected network, after the SNAT jump in `srcnat`: a load-balanced
 * connection (marked in mangle) whose client and endpoint (after dst-nat) are both in the same
 * connected network is masqueraded to the router's address on that network. Without it the
 * endpoint would answer the client directly, from its own address, and the client (which
 * talked to the LB address) would drop the reply. Connections from anywhere else keep their
 * source address.
 */
export function hairpinEntries(family: IPFamily, networks: readonly string[]): DesiredMenus {
  return {
    [firewallMenu(family, 'nat')]: networks.map((network) => ({
      chain: 'srcnat', action: 'masquerade', 'connection-mark': LB_CONNECTION_MARK, 'src-address': network, 'dst-address': network,
      comment: globalComment(`${HAIRPIN_ROLE}${network}`),
    })),
  };
}

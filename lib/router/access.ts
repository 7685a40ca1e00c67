import { familyBits, formatAddress, parseAddress, type IPFamily } from '../ip/index.js';
import type { DesiredEntry } from './menus.js';
import { INPUT_CHAIN, serviceChain, serviceComment, sourceList } from './names.js';

/** A source range of loadBalancerSourceRanges, canonical: the network with host bits cleared. */
export interface SourceRange {
  family: IPFamily;
  /** As RouterOS prints an address-list entry: `10.0.0.0/8`, or a bare address for a /32 (/128). */
  range: string;
}

/**
 * Parses one `loadBalancerSourceRanges` entry (`10.0.0.0/8`, `2001:db8::/32`; a bare address is
 * a host range). Host bits are cleared, as kube-proxy's net.ParseCIDR does. Undefined when it is
 * not a CIDR.
 */
export function parseSourceRange(text: string): SourceRange | undefined {
  const [address = '', length, extra] = text.trim().split('/');
  const parsed = parseAddress(address);
  if (!parsed.ok || extra !== undefined) return undefined;
  const bits = familyBits(parsed.family);
  if (length !== undefined && !/^\d{1,3}$/.test(length)) return undefined;
  const len = length === undefined ? bits : Number(length);
  if (len > bits) return undefined;
  const host = BigInt(bits - len);
  const network = formatAddress(parsed.family, (parsed.value >> host) << host);
  return { family: parsed.family, range: len === bits ? network : `${network}/${len}` };
}

/** A port of the Service, as the drop rules match it. */
export interface GatedPort {
  protocol: string;
  port: number;
}

/**
 * A Service with source ranges: its own address list of the ranges of one family, a gate first
 * in its nat chain that returns every other source before any port jump, so those connections
 * are never dst-natted, and in `mikrolb-input` (entered from filter/input for LB addresses) one
 * drop rule per LB address and port for every other source: the connection is dropped
 * silently, as kube-proxy drops it, and reaches neither an endpoint nor the router's own
 * services. Per port, so another Service sharing the address keeps its own ports; a port no
 * Service serves is refused (reset) as for anyone.
 *
 * A family without ranges of its own still gets the gate (its list is empty, so nobody passes):
 * ranges given only for IPv4 do not open the IPv6 address to everyone.
 * `sourceRanges` undefined means no restriction: no list, no gate.
 */
export function accessEntries(uid: string, family: IPFamily, sourceRanges: readonly SourceRange[] | undefined, lbAddresses: readonly string[] = [], ports: readonly GatedPort[] = []): { list: DesiredEntry[]; gate: DesiredEntry[]; drop: DesiredEntry[] } {
  if (sourceRanges === undefined) return { list: [], gate: [], drop: [] };
  const ranges = [...new Set(sourceRanges.filter((r) => r.family === family).map((r) => r.range))].sort();
  return {
    list: ranges.map((range) => ({ list: sourceList(uid), address: range, comment: serviceComment(uid, `source-list:${range}`) })),
    gate: [{
      chain: serviceChain(uid), action: 'return', 'src-address-list': `!${sourceList(uid)}`,
      comment: serviceComment(uid, 'source-gate'),
    }],
    drop: lbAddresses.flatMap((address) => ports.map((p) => ({
      chain: INPUT_CHAIN, action: 'drop', 'dst-address': address, protocol: p.protocol, 'dst-port': String(p.port),
      'src-address-list': `!${sourceList(uid)}`, comment: serviceComment(uid, `source-drop:${address}:${p.protocol}/${p.port}`),
    }))),
  };
}


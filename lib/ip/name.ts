/**
 * Addresses as Kubernetes object names (the names of IPAddressClaims): one name per address,
 * valid as a DNS subdomain, readable, and never shared by two addresses.
 * - IPv4: the dotted quad itself (`192.0.2.10`);
 * - IPv6: the eight groups in hexadecimal without leading zeros, joined by dashes and never
 *   compressed (`2001-db8-0-0-0-0-0-1`) — `:` is not allowed in a name, and a fixed number of
 *   groups keeps the name unique without `::`.
 * The forms cannot meet: an IPv4 name has dots and no dash, an IPv6 name dashes and no dot.
 */
import { formatAddress, parseAddress, type Address, type IPFamily } from './address.js';

export function addressName(family: IPFamily, value: bigint): string {
  if (family === 'IPv4') return formatAddress(family, value);
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((value >> BigInt(i * 16)) & 0xffffn).toString(16));
  return groups.join('-');
}

const IPV6_NAME = /^(?:0|[1-9a-f][0-9a-f]{0,3})(?:-(?:0|[1-9a-f][0-9a-f]{0,3})){7}$/;

/** The address a claim name stands for; undefined for a name that is not one `addressName` makes. */
export function parseAddressName(name: string): Address | undefined {
  if (IPV6_NAME.test(name)) {
    const value = name.split('-').reduce((acc, g) => (acc << 16n) | BigInt(`0x${g}`), 0n);
    return { family: 'IPv6', value };
  }
  const p = parseAddress(name);
  return p.ok && p.family === 'IPv4' ? { family: p.family, value: p.value } : undefined;
}

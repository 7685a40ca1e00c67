import ipaddr from 'ipaddr.js';

/** Address arithmetic for validation and comparison: IPv4 as number, IPv6 as bigint. */
export type Family = 'ip4' | 'ip6';

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIpv4(text: string): number | null {
  const match = IPV4.exec(text);
  if (match === null) return null;
  let value = 0;
  for (const part of match.slice(1)) {
    const octet = Number(part);
    if (octet > 255 || (part.length > 1 && part.startsWith('0'))) return null;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

export function parseIpv6(text: string): bigint | null {
  if (!text.includes(':') || text.includes('%') || !ipaddr.IPv6.isValid(text)) return null;
  let value = 0n;
  for (const part of ipaddr.IPv6.parse(text).parts) value = (value << 16n) | BigInt(part);
  return value;
}

export function formatIpv6(value: bigint): string {
  const parts: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) parts.push(Number((value >> shift) & 0xffffn));
  return new ipaddr.IPv6(parts).toRFC5952String();
}

export interface Address {
  family: Family;
  value: bigint;
}

export const familyBits = (family: Family): number => (family === 'ip4' ? 32 : 128);

export function parseAddress(text: string, family: Family): Address | null {
  if (family === 'ip4') {
    const value = parseIpv4(text);
    return value === null ? null : { family, value: BigInt(value) };
  }
  const value = parseIpv6(text);
  return value === null ? null : { family, value };
}

export function formatAddress(address: Address): string {
  return address.family === 'ip4' ? formatIpv4(Number(address.value)) : formatIpv6(address.value);
}

export interface Prefix {
  address: Address;
  length: number;
}

/** `addr` or `addr/len`; a missing length is `defaultLength` (full length when not given). */
export function parsePrefix(text: string, family: Family, defaultLength?: number): Prefix | null {
  const slash = text.indexOf('/');
  const address = parseAddress(slash < 0 ? text : text.slice(0, slash), family);
  if (address === null) return null;
  if (slash < 0) return { address, length: defaultLength ?? familyBits(family) };
  const lengthText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lengthText)) return null;
  const length = Number(lengthText);
  return length > familyBits(family) ? null : { address, length };
}

export function formatPrefix(prefix: Prefix): string {
  return `${formatAddress(prefix.address)}/${prefix.length}`;
}

export function networkOf(prefix: Prefix): Address {
  const hostBits = BigInt(familyBits(prefix.address.family) - prefix.length);
  return { family: prefix.address.family, value: (prefix.address.value >> hostBits) << hostBits };
}

export function prefixContains(prefix: Prefix, address: Address): boolean {
  return networkOf(prefix).value === networkOf({ address, length: prefix.length }).value;
}

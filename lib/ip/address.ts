/**
 * Single addresses as numbers: parsing text into `{family, value}` and formatting it back.
 *
 * Addresses are `bigint`s so that IPv4 and IPv6 share one arithmetic (ranges, counts,
 * choice); `ipaddr.js` does the IPv6 grammar, while IPv4 is checked here because
 * `ipaddr.js` accepts legacy forms (`10.1`, `010.0.0.1`, `0x0a.0.0.1`) that mean something
 * different to different tools and would make pool entries ambiguous.
 */
import ipaddr from 'ipaddr.js';

export const IP_FAMILIES = ['IPv4', 'IPv6'] as const;
export type IPFamily = (typeof IP_FAMILIES)[number];

export interface Address {
  readonly family: IPFamily;
  readonly value: bigint;
}

export type ParseAddressResult =
  | { readonly ok: true; readonly family: IPFamily; readonly value: bigint }
  | { readonly ok: false; readonly message: string };

const BITS: Readonly<Record<IPFamily, number>> = { IPv4: 32, IPv6: 128 };

/** Number of bits in an address of the family (32 or 128). */
export function familyBits(family: IPFamily): number {
  return BITS[family];
}

/** The largest address value of the family (255.255.255.255 or ffff:…:ffff). */
export function maxAddress(family: IPFamily): bigint {
  return (1n << BigInt(BITS[family])) - 1n;
}

// One decimal octet 0-255 without leading zeros: `010` is octal to some tools, decimal to others.
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)';
const DOTTED_QUAD = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);

/** Strict IPv4 text: exactly four decimal octets. */
export function isDottedQuad(text: string): boolean {
  return DOTTED_QUAD.test(text);
}

/**
 * Parses one address. IPv4 must be a strict dotted quad; IPv6 may be any valid RFC 4291
 * text form, including an embedded dotted quad (`::ffff:192.0.2.1`), which stays IPv6 — it
 * is never turned into the IPv4 address it maps. Zone ids (`fe80::1%eth0`) are rejected:
 * a load-balancer address is global to the router, not bound to an interface.
 */
export function parseAddress(text: string): ParseAddressResult {
  if (text.includes(':')) return parseIPv6(text);
  if (isDottedQuad(text)) return { ok: true, family: 'IPv4', value: ipv4Value(text) };
  return { ok: false, message: `"${text}" is not a valid address (IPv4 must be four decimal octets like 192.0.2.10)` };
}

function parseIPv6(text: string): ParseAddressResult {
  const zone = text.indexOf('%');
  if (zone >= 0) {
    return { ok: false, message: `"${text}" has a zone id (${text.slice(zone)}), which is not allowed in an address` };
  }
  const tail = text.slice(text.lastIndexOf(':') + 1);
  const embeddedOk = !tail.includes('.') || isDottedQuad(tail);
  if (!embeddedOk || !ipaddr.IPv6.isValid(text)) {
    return { ok: false, message: `"${text}" is not a valid IPv6 address` };
  }
  // An embedded dotted quad becomes its two hexadecimal groups first: ipaddr.js reads
  // `::10.0.0.1` (IPv4-compatible) as the IPv4-mapped `::ffff:10.0.0.1`, another address.
  const hex = tail.includes('.') ? `${text.slice(0, text.length - tail.length)}${dottedAsGroups(tail)}` : text;
  const parts = ipaddr.IPv6.parse(hex).parts;
  return { ok: true, family: 'IPv6', value: partsToValue(parts, 16) };
}

function dottedAsGroups(quad: string): string {
  const v = ipv4Value(quad);
  return `${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}`;
}

function ipv4Value(text: string): bigint {
  return partsToValue(text.split('.').map(Number), 8);
}

function partsToValue(parts: readonly number[], width: number): bigint {
  let value = 0n;
  for (const part of parts) value = (value << BigInt(width)) | BigInt(part);
  return value;
}

function valueToParts(value: bigint, count: number, width: number): number[] {
  const mask = (1n << BigInt(width)) - 1n;
  const parts: number[] = [];
  for (let i = count - 1; i >= 0; i--) parts.push(Number((value >> BigInt(i * width)) & mask));
  return parts;
}

// `::ffff:a.b.c.d`: everything above the low 32 bits is exactly 0xffff.
const MAPPED_HIGH_BITS = 0xffffn;

/**
 * Formats an address value. IPv6 uses the RFC 5952 canonical form (lowercase, leading zeros
 * dropped, the longest run of zero groups compressed to `::`), and, as RFC 5952 §5
 * recommends, IPv4-mapped addresses (`::ffff:0:0/96`) keep the mixed dotted notation.
 */
export function formatAddress(family: IPFamily, value: bigint): string {
  if (value < 0n || value > maxAddress(family)) {
    throw new RangeError(`${value} is outside the ${family} address space`);
  }
  if (family === 'IPv4') return valueToParts(value, 4, 8).join('.');
  if (value >> 32n === MAPPED_HIGH_BITS) {
    return `::ffff:${formatAddress('IPv4', value & 0xffffffffn)}`;
  }
  return new ipaddr.IPv6(valueToParts(value, 8, 16)).toRFC5952String();
}

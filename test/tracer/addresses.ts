import ipaddr from 'ipaddr.js';

/** Address family of a rule set or connection, spelled as the IPPool CRD spells it. */
export type Family = 'IPv4' | 'IPv6';

/** An inclusive interval of addresses of one family; single addresses and CIDRs are intervals too. */
export interface AddressSpan {
  family: Family;
  lo: bigint;
  hi: bigint;
}

const WIDTH: Record<Family, number> = { IPv4: 32, IPv6: 128 };

function toBigInt(bytes: number[]): bigint {
  return bytes.reduce((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
}

/** Parses one address; IPv4 only in the strict dotted-quad form RouterOS prints. */
export function parseAddress(text: string): { family: Family; value: bigint } | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    return { family: 'IPv4', value: toBigInt(ipaddr.IPv4.parse(text).toByteArray()) };
  }
  if (text.includes(':') && ipaddr.IPv6.isValid(text)) {
    return { family: 'IPv6', value: toBigInt(ipaddr.IPv6.parse(text).toByteArray()) };
  }
  return undefined;
}

export function familyOf(text: string): Family | undefined {
  return parseAddress(text)?.family;
}

/** Formats an address value the way RouterOS prints it (RFC 5952 for IPv6). */
export function formatAddress(family: Family, value: bigint): string {
  const size = WIDTH[family] / 8;
  const bytes: number[] = [];
  for (let i = size - 1; i >= 0; i -= 1) bytes.push(Number((value >> BigInt(i * 8)) & 0xffn));
  const parsed = ipaddr.fromByteArray(bytes);
  return parsed instanceof ipaddr.IPv6 ? parsed.toRFC5952String() : parsed.toString();
}

/** Normalises an address string (e.g. `2001:DB8:0::1` → `2001:db8::1`); undefined if invalid. */
export function normalizeAddress(text: string): string | undefined {
  const parsed = parseAddress(text);
  return parsed && formatAddress(parsed.family, parsed.value);
}

/**
 * Parses the address forms RouterOS accepts in firewall properties and address lists:
 * `10.0.0.1`, `10.0.0.0/24` (host bits ignored, as RouterOS does), `10.0.0.1-10.0.0.9`.
 */
export function parseSpan(text: string): AddressSpan | undefined {
  const dash = text.indexOf('-');
  if (dash > 0) {
    const lo = parseAddress(text.slice(0, dash));
    const hi = parseAddress(text.slice(dash + 1));
    if (!lo || !hi || lo.family !== hi.family || lo.value > hi.value) return undefined;
    return { family: lo.family, lo: lo.value, hi: hi.value };
  }
  const slash = text.indexOf('/');
  const base = parseAddress(slash < 0 ? text : text.slice(0, slash));
  if (!base) return undefined;
  if (slash < 0) return { family: base.family, lo: base.value, hi: base.value };
  const prefixText = text.slice(slash + 1);
  const width = WIDTH[base.family];
  const prefix = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText) || prefix > width) return undefined;
  const hostBits = BigInt(width - prefix);
  const lo = (base.value >> hostBits) << hostBits;
  return { family: base.family, lo, hi: lo + (1n << hostBits) - 1n };
}

export function spanContains(span: AddressSpan, family: Family, value: bigint): boolean {
  return span.family === family && span.lo <= value && value <= span.hi;
}

/** Strips the prefix length of an interface address (`192.0.2.1/24` → the address and its network). */
export function parseInterfaceAddress(text: string): { address: bigint; network: AddressSpan } | undefined {
  const slash = text.indexOf('/');
  const address = parseAddress(slash < 0 ? text : text.slice(0, slash));
  const network = parseSpan(text);
  if (!address || !network) return undefined;
  return { address: address.value, network };
}

export function spanSize(span: AddressSpan): bigint {
  return span.hi - span.lo + 1n;
}

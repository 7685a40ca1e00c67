/**
 * Special-purpose addresses (RFC 6890's registry): blocks no client can reach as a unicast
 * destination, so a pool never hands them out whatever its entries list (an IPv6 pool `::/0`
 * would otherwise give about one Service in 256 a multicast address).
 */
import { parseAddress, type IPFamily } from './address.js';
import { addressSet, intersect, isEmpty, describeSet, type AddressSet } from './set.js';

export interface SpecialBlock {
  /** The block as written in the RFCs: `224.0.0.0/4`. */
  readonly cidr: string;
  /** What it is, for messages: `multicast`. */
  readonly kind: string;
  readonly set: AddressSet;
}

function block(cidr: string, kind: string): SpecialBlock {
  const [text = '', bits = ''] = cidr.split('/');
  const p = parseAddress(text);
  if (!p.ok) throw new Error(`bad special-purpose block ${cidr}`);
  const host = (1n << BigInt((p.family === 'IPv4' ? 32 : 128) - Number(bits))) - 1n;
  return { cidr, kind, set: addressSet(p.family, [{ start: p.value, end: p.value | host }]) };
}

const BLOCKS: Readonly<Record<IPFamily, readonly SpecialBlock[]>> = {
  IPv4: [
    block('0.0.0.0/8', '"this network"'),
    block('127.0.0.0/8', 'loopback'),
    // RFC 3927: valid on one link only, and routers must not forward packets to it
    block('169.254.0.0/16', 'link-local'),
    block('224.0.0.0/4', 'multicast'),
    block('240.0.0.0/4', 'reserved'),
  ],
  IPv6: [
    block('::/128', 'unspecified'),
    block('::1/128', 'loopback'),
    block('::ffff:0:0/96', 'IPv4-mapped'),
    block('fe80::/10', 'link-local'),
    block('ff00::/8', 'multicast'),
  ],
};

const ALL: Readonly<Record<IPFamily, AddressSet>> = {
  IPv4: addressSet('IPv4', BLOCKS.IPv4.flatMap((b) => b.set.ranges)),
  IPv6: addressSet('IPv6', BLOCKS.IPv6.flatMap((b) => b.set.ranges)),
};

/** Every special-purpose address of a family, as one set. */
export function specialPurposeSet(family: IPFamily): AddressSet {
  return ALL[family];
}

/** The special-purpose block an address lies in, or undefined for an address a pool may hand out. */
export function specialPurposeBlock(family: IPFamily, value: bigint): SpecialBlock | undefined {
  return BLOCKS[family].find((b) => b.set.ranges.some((r) => r.start <= value && value <= r.end));
}

/** `224.0.0.0-224.0.0.255 (multicast), 127.0.0.1 (loopback)`: a set of special-purpose addresses, block by block. */
export function describeSpecialPurpose(set: AddressSet): string {
  return BLOCKS[set.family].flatMap((b) => {
    const part = intersect(set, b.set);
    return isEmpty(part) ? [] : [`${describeSet(part)} (${b.kind})`];
  }).join(', ');
}
